"""Platform inheritance (`extends:`) against a real registry: resolve, verify, cache, lock,
merge with stricter-wins, refuse a weakening child, run the parent's shared tests."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from lifecycle_helpers import files_under, make_signer, publish

from floe.platform.compile import build_tree
from floe.release.lockfile import read_lock
from floe.tree import model as t

pytestmark = pytest.mark.registry

ENTERPRISE = """\
apiVersion: floe.dev/v1
kind: Manifest
metadata:
  name: enterprise-platform
  version: "{version}"
  created: "2024-01-15T10:30:00Z"
plugins:
  compute: {{type: duckdb}}
data_architecture:
  pattern: medallion
  naming: {{enforcement: strict}}
  layers:
    gold: {{required_tests: [not_null_pk]}}
governance:
  classification:
    levels: [public, internal, confidential, pii]
    default_level: internal
    rules:
      pii: {{forbidden_layers: [gold], forbidden_namespaces: [bronze]}}
  access_control:
    roles: [data_engineer, analyst]
    permissions:
      data_engineer: [select, insert]
      analyst: [select]
  quality_gates:
    minimum_test_coverage: {coverage}
    required_tests: [not_null]
catalog:
  namespaces: [bronze, silver, gold]
  grants:
    gold: {{data_engineer: [select, insert], analyst: [select]}}
security:
  require_signed_artifacts: true
  trusted_keys: [enterprise.pub]
"""

ENTERPRISE_TEST = """\
name: Enterprise naming
cases:
  - name: a silver model without its prefix is flagged
    models:
      - name: orders
        layer: silver
        schema: silver
        columns:
          - {name: order_id, tests: [not_null, unique]}
    expect:
      fail: [naming.prefix]
"""

DOMAIN = """\
apiVersion: floe.dev/v1
kind: Manifest
metadata:
  name: sales-domain
  version: "1.0.0"
  scope: domain
  created: "2024-02-01T00:00:00Z"
extends:
  ref: {ref}
  version: "^1.2"
  trusted_keys: [enterprise.pub]
plugins:
  compute: {{type: duckdb}}
{body}"""

TIGHTER = """\
governance:
  classification:
    levels: [public, internal, confidential, pii]
    rules:
      pii: {forbidden_layers: [silver]}
  access_control:
    roles: [data_engineer, analyst]
    permissions:
      analyst: []
  quality_gates:
    minimum_test_coverage: 90
    required_tests: [unique]
catalog:
  namespaces: [silver, gold]
"""


@pytest.fixture
def enterprise(registry: Any, repo_name: str, tmp_path: Path) -> dict[str, Any]:
    """enterprise-platform v1.2.0 and v1.3.0 in a real registry, signed by enterprise.pub."""
    source = tmp_path / "enterprise"
    signer, pub = make_signer(source, "enterprise")
    (source / "tests").mkdir()
    (source / "tests" / "naming.yaml").write_text(ENTERPRISE_TEST)
    ref = registry.ref(f"{repo_name}/enterprise")
    digests = {}
    for version, coverage in (("1.2.0", 70), ("1.3.0", 80)):
        (source / "manifest.yaml").write_text(ENTERPRISE.format(version=version, coverage=coverage))
        built = build_tree(source / "manifest.yaml")
        digests[version] = publish(ref, built.files, signer=signer)
    return {"ref": ref, "pub": pub, "signer": signer, "digests": digests, "registry": registry}


def _domain(tmp_path: Path, enterprise: dict[str, Any], body: str = TIGHTER) -> Path:
    folder = tmp_path / "sales"
    folder.mkdir(exist_ok=True)
    (folder / "enterprise.pub").write_bytes(enterprise["pub"].read_bytes())
    (folder / "manifest.yaml").write_text(DOMAIN.format(ref=enterprise["ref"], body=body))
    return folder


def _compile(folder: Path, *extra: str) -> Any:
    return run_floe("platform", "compile", "manifest.yaml", "--out", "out", *extra, cwd=folder)


def test_domain_extends_the_enterprise_platform_stricter_wins(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise)
    result = _compile(folder)
    assert result.exit_code == 0, result.output
    assert (
        f"Extends {enterprise['ref']}:v1.3.0 ({enterprise['digests']['1.3.0']}, trust: extends)"
        in result.output
    )
    assert f"Locked parent: platform.lock ({enterprise['ref']}:v1.3.0)" in result.output
    compiled = t.load_tree(folder / "out")
    # max / strictest
    assert compiled.quality_gates.minimum_test_coverage == 90
    assert compiled.naming_rules.enforcement == "strict"
    # union
    assert compiled.quality_gates.required_tests == ["not_null", "unique"]
    assert compiled.classification.rules["pii"].forbidden_layers == ["gold", "silver"]
    # bronze is no namespace of the child: the parent's rule about it has nothing to guard
    assert compiled.classification.rules["pii"].forbidden_namespaces == []
    assert compiled.layer_constraints.layers["gold"].required_tests == ["not_null_pk"]
    # narrow
    assert compiled.namespaces.namespaces == ["silver", "gold"]
    assert compiled.access_control.permissions == {
        "data_engineer": ["select", "insert"],
        "analyst": [],
    }
    # the parent's signature requirement stays; trust anchors are the child's own (none)
    assert compiled.manifest.security.require_signed_artifacts is True
    inheritance = compiled.manifest.inheritance
    assert inheritance is not None
    assert [(p.ref, p.manifest_digest, p.version) for p in inheritance.parents] == [
        (f"{enterprise['ref']}:v1.3.0", enterprise["digests"]["1.3.0"], "1.3.0")
    ]
    assert [(s.platform, s.file) for s in inheritance.tests] == [
        ("enterprise-platform v1.3.0", "naming.yaml")
    ]
    lock = read_lock(folder / "platform.lock")
    assert lock is not None
    assert lock.platform.version == "v1.3.0" and lock.platform.constraint == "^1.2"
    assert lock.platform.manifest_digest == enterprise["digests"]["1.3.0"]
    assert lock.platform.signer is not None and lock.platform.signers
    assert "v1.3.0" in files_under(folder / ".floe" / "platform")
    assert "cache/\nplatform/\n" in (folder / ".floe" / ".gitignore").read_text()
    assert (folder / "platform.lock").read_text().startswith("# Generated by floe platform compile")


def test_compile_offline_from_the_lock_with_the_registry_down(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise)
    assert _compile(folder).exit_code == 0
    lock_bytes = (folder / "platform.lock").read_bytes()
    first = (folder / "out" / "manifest.json").read_bytes()
    # a newer matching release appears: the lock still wins (no re-resolution)
    source = enterprise["pub"].parent
    (source / "manifest.yaml").write_text(ENTERPRISE.format(version="1.4.0", coverage=80))
    publish(
        enterprise["ref"], build_tree(source / "manifest.yaml").files, signer=enterprise["signer"]
    )
    registry = enterprise["registry"]
    repo = enterprise["ref"].split("/", 3)[3]

    def asked() -> int:
        return sum(1 for line in registry.request_log() if repo in line)

    before = asked()
    registry.stop()
    try:
        result = _compile(folder, "--offline")
    finally:
        registry.start()
    assert result.exit_code == 0, result.output
    assert "v1.3.0" in result.output and "v1.4.0" not in result.output
    assert (folder / "platform.lock").read_bytes() == lock_bytes
    assert "Locked parent" not in result.output  # the lock did not change
    assert (folder / "out" / "manifest.json").read_bytes() == first  # reproducible
    assert asked() == before
    # online, the lock is reused too: the caches answer, the registry is not asked at all
    online = _compile(folder)
    assert online.exit_code == 0, online.output
    assert "v1.3.0" in online.output and "v1.4.0" not in online.output
    assert asked() == before


def test_offline_without_a_lock_is_refused(tmp_path: Path, enterprise: dict[str, Any]) -> None:
    folder = _domain(tmp_path, enterprise)
    result = _compile(folder, "--offline")
    assert result.exit_code == 2, result.output
    assert "network_forbidden" in result.output
    assert not (folder / "platform.lock").exists()
    assert not (folder / "out").exists()


WEAKER = """\
governance:
  quality_gates:
    minimum_test_coverage: 60
catalog:
  namespaces: [bronze, silver, gold, scratch]
data_architecture:
  naming: {enforcement: warn}
"""


def test_a_weakening_child_is_refused_naming_both_lines(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise, WEAKER)
    result = run_floe(
        "platform", "compile", "manifest.yaml", "--out", "out", "--format", "json", cwd=folder
    )
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)
    assert error["event"] == "inherit_weakens"
    first, second, third = error["weakenings"]
    # the child's value: manifest.yaml line 16 (coverage), 18 (namespaces), 20 (enforcement)
    lines = (folder / "manifest.yaml").read_text().splitlines()
    assert lines[15] == "    minimum_test_coverage: 60"
    assert first["child"] == "manifest.yaml:16:28"
    assert first["path"] == "governance.quality_gates.minimum_test_coverage"
    assert "60 is looser than the parent's 80" in first["why"]
    # the parent's value: its line in the verified parent tree, and ref + JSON pointer
    assert first["parent"] == ".floe/platform/v1.3.0/policies/quality-gates.json:3:28"
    assert first["parent_ref"] == (
        f"{enterprise['ref']}:v1.3.0 policies/quality-gates.json#/minimum_test_coverage"
    )
    parent_file = folder / ".floe" / "platform" / "v1.3.0" / "policies" / "quality-gates.json"
    assert parent_file.read_text().splitlines()[2].strip() == '"minimum_test_coverage": 80,'
    assert second["child"] == "manifest.yaml:18:15" and "scratch" in lines[17]
    assert "'scratch'" in second["why"]
    assert third["path"] == "data_architecture.naming.enforcement"
    assert third["child"] == "manifest.yaml:20:25" and "warn" in lines[19]
    assert third["parent"] == ".floe/platform/v1.3.0/architecture/naming-rules.json:3:18"
    assert not (folder / "out").exists()
    assert not (folder / "platform.lock").exists()  # the refused compile locks nothing
    assert "manifest.yaml:16:28" in error["message"]
    assert "quality-gates.json:3:28" in error["message"]


def test_the_parents_shared_tests_run_on_the_child(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    # The child tightens; the parent's naming case still holds on the child.
    folder = _domain(tmp_path, enterprise)
    assert _compile(folder).exit_code == 0
    result = run_floe("platform", "test", "--artifacts", "out", "--format", "json", cwd=folder)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    inherited = [x for x in report["tests"] if x["kind"] == "cases"]
    assert [x["name"] for x in inherited] == [
        "Enterprise naming (inherited from enterprise-platform v1.3.0)"
    ]
    assert inherited[0]["file"] == "enterprise-platform v1.3.0: tests/naming.yaml"
    assert inherited[0]["cases"][0]["passed"] is True


def test_a_shared_test_the_child_breaks_fails(tmp_path: Path, enterprise: dict[str, Any]) -> None:
    body = TIGHTER + textwrap.dedent(
        """\
        rules:
          metadata:
            required_keys: {severity: error, keys: {"*": [owner]}}
        """
    )
    folder = _domain(tmp_path, enterprise, body)
    assert _compile(folder).exit_code == 0
    result = run_floe("platform", "test", "--artifacts", "out", cwd=folder)
    # the parent's case expects only naming.prefix; the child's extra rule also fires
    assert result.exit_code == 1, result.output
    assert "inherited from enterprise-platform v1.3.0" in result.output
    assert "enterprise-platform v1.3.0: tests/naming.yaml" in result.output


def test_a_parent_signed_by_another_key_is_refused(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise)
    _, other = make_signer(tmp_path / "other", "other")
    (folder / "enterprise.pub").write_bytes(other.read_bytes())
    result = _compile(folder)
    assert result.exit_code == 1, result.output
    assert "signature_untrusted" in result.output
    assert not (folder / "platform.lock").exists()
    assert files_under(folder / ".floe" / "platform") == []


SALES_KEY = "security: {trusted_keys: [sales.pub]}\n"


def test_init_and_inspect_show_the_chain(
    tmp_path: Path, enterprise: dict[str, Any], registry: Any, repo_name: str
) -> None:
    """The domain platform is published; a data team's init and inspect show its parent."""
    folder = _domain(tmp_path, enterprise, TIGHTER + SALES_KEY)
    sales, _ = make_signer(folder, "sales")
    assert _compile(folder).exit_code == 0
    domain_ref = registry.ref(f"{repo_name}/sales")
    publish(domain_ref, t.read_tree_files(folder / "out"), signer=sales)
    shown = run_floe("platform", "inspect", f"{domain_ref}:v1.0.0")
    assert shown.exit_code == 0, shown.output
    parent = f"{enterprise['ref']}:v1.3.0 ({enterprise['digests']['1.3.0']})"
    assert f"Extends:       {parent}" in shown.stdout
    as_json = run_floe("platform", "inspect", f"{domain_ref}:v1.0.0", "--format", "json")
    assert [p["manifest_digest"] for p in json.loads(as_json.stdout)["extends"]] == [
        enterprise["digests"]["1.3.0"]
    ]
    project = tmp_path / "project"
    project.mkdir()
    init = run_floe("init", "--platform=v1.0.0", "--registry", str(domain_ref), cwd=project)
    assert init.exit_code == 0, init.output
    assert (
        f"Extends: enterprise-platform v1.3.0 ({enterprise['ref']}:v1.3.0, "
        f"{enterprise['digests']['1.3.0']})"
    ) in init.stdout
    # the data team's project enforces the merged rules (coverage 90, not the parent's 80)
    from floe.project.lifecycle import load_verified_platform

    loaded = load_verified_platform(project)
    assert loaded.tree.quality_gates.minimum_test_coverage == 90


def test_a_grandchild_records_the_whole_chain_and_runs_every_shared_test(
    tmp_path: Path, enterprise: dict[str, Any], registry: Any, repo_name: str
) -> None:
    folder = _domain(tmp_path, enterprise, TIGHTER + SALES_KEY + "share_tests: true\n")
    sales, _ = make_signer(folder, "sales")
    (folder / "tests").mkdir()
    (folder / "tests" / "gold.yaml").write_text(
        ENTERPRISE_TEST.replace("Enterprise naming", "Sales naming")
    )
    assert _compile(folder).exit_code == 0
    sales_ref = registry.ref(f"{repo_name}/sales")
    sales_digest = publish(sales_ref, t.read_tree_files(folder / "out"), signer=sales)
    team = tmp_path / "team"
    team.mkdir()
    (team / "manifest.yaml").write_text(
        DOMAIN.format(ref=sales_ref, body="")
        .replace("sales-domain", "sales-emea")
        .replace('version: "^1.2"', 'version: "^1.0"')
        .replace("  trusted_keys: [enterprise.pub]\n", "")
    )
    result = _compile(team)
    assert result.exit_code == 0, result.output
    assert "trust on first use" in result.output.lower() or "first use" in result.output
    compiled = t.load_tree(team / "out")
    assert compiled.manifest.inheritance is not None
    assert [p.manifest_digest for p in compiled.manifest.inheritance.parents] == [
        sales_digest,
        enterprise["digests"]["1.3.0"],
    ]
    assert compiled.quality_gates.minimum_test_coverage == 90  # the middle's tightening holds
    tested = run_floe("platform", "test", "--artifacts", "out", "--format", "json", cwd=team)
    names = [x["name"] for x in json.loads(tested.stdout)["tests"] if x["kind"] == "cases"]
    assert names == [
        "Enterprise naming (inherited from enterprise-platform v1.3.0)",
        "Sales naming (inherited from sales-domain v1.0.0)",
    ]
    assert tested.exit_code == 0, tested.output


# ---- the stricter-wins rules, field by field (a parent in an OCI layout: no registry) ----

RULES = """\
rules:
  metadata:
    required_keys: {severity: error, keys: {"*": [owner]}}
  lineage:
    chained_views: {severity: warn, max: 3}
"""


@pytest.fixture
def layout_parent(tmp_path: Path) -> dict[str, Any]:
    source = tmp_path / "enterprise"
    signer, pub = make_signer(source, "enterprise")
    (source / "manifest.yaml").write_text(ENTERPRISE.format(version="1.2.0", coverage=80) + RULES)
    ref = f"oci-layout://{tmp_path / 'layout'}"
    digest = publish(ref, build_tree(source / "manifest.yaml").files, signer=signer)
    return {"ref": ref, "pub": pub, "digests": {"1.3.0": digest}}


def _compile_layout(tmp_path: Path, parent: dict[str, Any], body: str) -> Any:
    folder = _domain(tmp_path, parent, body)
    return folder, run_floe(
        "platform", "compile", "manifest.yaml", "--out", "out", "--format", "json", cwd=folder
    )


@pytest.mark.parametrize(
    ("body", "path", "why"),
    [
        (
            "governance:\n  access_control:\n    roles: [analyst, admin]\n",
            "governance.access_control.roles",
            "'admin'",
        ),
        (
            "governance:\n  access_control:\n    permissions: {analyst: [select, delete]}\n",
            "governance.access_control.permissions.analyst",
            "'delete'",
        ),
        (
            "governance:\n  classification:\n    levels: [public, internal, confidential]\n",
            "governance.classification.levels",
            "drops level 'pii'",
        ),
        (
            "governance:\n  classification:\n    levels: [public, pii, secret]\n",
            "governance.classification.levels",
            "'secret'",
        ),
        (
            "governance:\n  classification:\n    default_level: public\n",
            "governance.classification.default_level",
            "less sensitive",
        ),
        (
            "governance:\n  classification:\n    levels: [public, confidential, pii]\n",
            "governance.classification.levels",
            "drops level 'internal', the parent's default_level",
        ),
        (
            "governance:\n  classification:\n    propagate: false\n",
            "governance.classification.propagate",
            "looser",
        ),
        (
            "governance:\n  quality_gates:\n    block_on_failure: false\n",
            "governance.quality_gates.block_on_failure",
            "looser",
        ),
        (
            "governance:\n  exempt_packages: [dbt_utils]\n",
            "governance.exempt_packages",
            "'dbt_utils'",
        ),
        (
            "governance:\n  waivers: {allowed: ['naming.*']}\n",
            "governance.waivers",
            "no finding be waived",
        ),
        (
            "governance:\n  classification:\n    levels: [internal, public, confidential, pii]\n",
            "governance.classification.levels",
            "reorders",
        ),
        (
            "data_architecture:\n  pattern: kimball\n",
            "data_architecture.pattern",
            "only the parent sets it",
        ),
        (
            "catalog:\n  grants: {gold: {analyst: [select, insert]}}\n",
            "catalog.grants.gold.analyst",
            "adds privilege on 'gold' for 'analyst': 'insert'",
        ),
        (
            "security:\n  require_signed_artifacts: false\n",
            "security.require_signed_artifacts",
            "looser",
        ),
        (
            "rules:\n  metadata:\n    required_keys: {severity: warn}\n",
            "rules.metadata.required_keys.severity",
            "severity warn is looser than the parent's error",
        ),
        (
            "rules:\n  lineage:\n    chained_views: {severity: warn, max: 5}\n",
            "rules.lineage.chained_views.max",
            "max 5 is looser than the parent's 3",
        ),
    ],
)
def test_each_loosening_is_refused(
    tmp_path: Path, layout_parent: dict[str, Any], body: str, path: str, why: str
) -> None:
    folder, result = _compile_layout(tmp_path, layout_parent, body)
    assert result.exit_code == 1, result.output
    error = json.loads(result.stdout)
    assert error["event"] == "inherit_weakens"
    assert [(w["path"], why in w["why"]) for w in error["weakenings"]] == [(path, True)]
    child_line = int(error["weakenings"][0]["child"].split(":")[1])
    leaf = path.split(".")[-1]
    assert leaf in (folder / "manifest.yaml").read_text().splitlines()[child_line - 1]
    assert error["weakenings"][0]["parent"].startswith(".floe/platform/v1.2.0/")
    assert not (folder / "out").exists()


def test_narrowing_and_adding_rules_is_accepted(
    tmp_path: Path, layout_parent: dict[str, Any]
) -> None:
    body = (
        "governance:\n"
        "  classification:\n    levels: [public, pii]\n    default_level: pii\n"
        "  access_control:\n    roles: [analyst]\n    permissions: {analyst: []}\n"
        "rules:\n"
        "  metadata:\n    required_keys: {severity: error, keys: {gold: [sla]}}\n"
        "  lineage:\n    chained_views: {severity: error, max: 2}\n"
        "  sql:\n    select_star: {severity: error}\n"
    )
    folder, result = _compile_layout(tmp_path, layout_parent, body)
    assert result.exit_code == 0, result.output
    merged = t.load_tree(folder / "out")
    assert merged.classification.levels == ["public", "pii"]
    assert merged.classification.default_level == "pii"
    assert merged.classification.rules["pii"].forbidden_layers == ["gold"]
    assert merged.access_control.roles == ["analyst"]
    assert merged.access_control.permissions == {"analyst": []}
    assert merged.namespaces.grants == {"gold": {"analyst": ["select"]}}
    assert merged.metadata_rules.required_keys.keys == {"*": ["owner"], "gold": ["sla"]}
    assert merged.lineage.chained_views.severity == "error"
    assert merged.lineage.chained_views.max == 2
    assert merged.sql.select_star.severity == "error"  # a family only the child turns on
    assert json.loads(result.stdout)["extends"][0]["ref"] == f"{layout_parent['ref']}:v1.2.0"
    # the merged tree passes the built-in checks (dropped roles take their grants along)
    checked = run_floe("platform", "test", "--artifacts", "out", "--format", "json", cwd=folder)
    assert checked.exit_code == 0, checked.output
    assert all(x["passed"] for x in json.loads(checked.stdout)["tests"])


def test_a_layer_the_parent_lacks_is_a_manifest_error(
    tmp_path: Path, layout_parent: dict[str, Any]
) -> None:
    body = "data_architecture:\n  layers:\n    platinum: {required_tests: [unique]}\n"
    _, result = _compile_layout(tmp_path, layout_parent, body)
    assert result.exit_code == 2, result.output
    assert (
        "manifest_invalid" in result.output
        and "'platinum' is not a layer of the parent" in result.output
    )


def test_an_edited_cached_parent_tree_does_not_let_a_weaker_child_through(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    from lifecycle_helpers import force_writable

    folder = _domain(tmp_path, enterprise)
    assert _compile(folder).exit_code == 0
    cached = folder / ".floe" / "platform" / "v1.3.0" / "policies" / "quality-gates.json"
    force_writable(cached)
    cached.write_text(
        cached.read_text().replace('"minimum_test_coverage": 80', '"minimum_test_coverage": 10')
    )
    (folder / "manifest.yaml").write_text(
        DOMAIN.format(ref=enterprise["ref"], body=WEAKER.split("catalog:")[0])
    )
    result = run_floe(
        "platform",
        "compile",
        "manifest.yaml",
        "--out",
        "out2",
        "--offline",
        "--format",
        "json",
        cwd=folder,
    )
    assert result.exit_code == 1, result.output
    [weakening] = json.loads(result.stdout)["weakenings"]
    assert "60 is looser than the parent's 80" in weakening["why"]
    # the tree is rebuilt from the verified blobs before anything reads it
    assert '"minimum_test_coverage": 80' in cached.read_text()


def test_the_trust_on_first_use_warning_reaches_stderr_in_json_mode(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise)
    text = (
        (folder / "manifest.yaml").read_text().replace("  trusted_keys: [enterprise.pub]\n", "", 1)
    )
    (folder / "manifest.yaml").write_text(text)
    result = run_floe(
        "platform", "compile", "manifest.yaml", "--out", "out", "--format", "json", cwd=folder
    )
    assert result.exit_code == 0, result.output
    assert "first use" in result.stderr
    assert json.loads(result.stdout)["extends"][0]["version"] == "1.3.0"
    lock = read_lock(folder / "platform.lock")
    assert lock is not None and [s.name for s in lock.platform.signers]
    again = _compile(folder)
    assert again.exit_code == 0 and "first use" not in again.output  # the lock anchors it
    # the recorded signer is the anchor now: a newer parent signed by another key is refused
    intruder, _ = make_signer(tmp_path / "other", "other")
    source = enterprise["pub"].parent
    (source / "manifest.yaml").write_text(ENTERPRISE.format(version="1.4.0", coverage=80))
    publish(enterprise["ref"], build_tree(source / "manifest.yaml").files, signer=intruder)
    (folder / "manifest.yaml").write_text(text.replace('version: "^1.2"', 'version: "^1.4"'))
    lock_bytes = (folder / "platform.lock").read_bytes()
    refused = _compile(folder)
    assert refused.exit_code == 1, refused.output
    assert "signature_untrusted" in refused.output
    assert (folder / "platform.lock").read_bytes() == lock_bytes
    assert "v1.4.0" not in files_under(folder / ".floe" / "platform")


def test_shared_tests_over_the_limit_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "enterprise"
    source.mkdir()
    (source / "enterprise.pub").write_text("")
    (source / "manifest.yaml").write_text(
        ENTERPRISE.format(version="1.0.0", coverage=1).replace(
            "  trusted_keys: [enterprise.pub]\n", ""
        )
    )
    (source / "tests").mkdir()
    (source / "tests" / "big.yaml").write_text("# " + "x" * (300 * 1024) + "\ncases: []\n")
    result = run_floe("platform", "compile", "manifest.yaml", "--out", "out", cwd=source)
    assert result.exit_code == 2, result.output
    assert "manifest_invalid" in result.output and "big.yaml" in result.output
    assert not (source / "out").exists()


def test_a_corrupt_platform_lock_is_refused_with_the_command_that_fixes_it(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    folder = _domain(tmp_path, enterprise)
    (folder / "platform.lock").write_text("lock_version = 1\nplatform = 3\n")
    result = _compile(folder)
    assert result.exit_code == 2, result.output
    assert "lock_invalid" in result.output
    assert "`floe platform compile`" in result.output
    assert "pull --upgrade" not in result.output


def test_a_loosening_in_a_from_policy_file_names_that_file(
    tmp_path: Path, layout_parent: dict[str, Any]
) -> None:
    body = "governance:\n  classification:\n    from: policies/classification.yaml\n"
    folder = _domain(tmp_path, layout_parent, body)
    (folder / "policies").mkdir()
    (folder / "policies" / "classification.yaml").write_text(
        "# the domain's levels\nlevels: [public, internal, confidential, pii, secret]\n"
    )
    result = run_floe(
        "platform", "compile", "manifest.yaml", "--out", "out", "--format", "json", cwd=folder
    )
    assert result.exit_code == 1, result.output
    [weakening] = json.loads(result.stdout)["weakenings"]
    assert weakening["child"] == "policies/classification.yaml:2:9"
    assert weakening["parent"] == ".floe/platform/v1.2.0/policies/classification.json:3:13"
    parent_file = folder / ".floe" / "platform" / "v1.2.0" / "policies" / "classification.json"
    assert parent_file.read_text().splitlines()[2].startswith('  "levels": [')


def test_a_fresh_clone_with_the_committed_lock_gets_the_locked_parent(
    tmp_path: Path, enterprise: dict[str, Any]
) -> None:
    """platform.lock is committed, .floe/ is not: another machine builds on the same bytes."""
    from floe.release.cache import global_cache_dir, remove_tree

    folder = _domain(tmp_path, enterprise)
    assert _compile(folder).exit_code == 0
    lock_bytes = (folder / "platform.lock").read_bytes()
    tree_bytes = t.read_tree_files(folder / "out")
    source = enterprise["pub"].parent
    (source / "manifest.yaml").write_text(ENTERPRISE.format(version="1.9.0", coverage=85))
    publish(
        enterprise["ref"], build_tree(source / "manifest.yaml").files, signer=enterprise["signer"]
    )
    remove_tree(folder / ".floe")
    remove_tree(folder / "out")
    # the user-wide cache still has the parent: offline works from it
    assert _compile(folder, "--offline").exit_code == 0
    remove_tree(folder / ".floe")
    remove_tree(folder / "out")
    assert Path(os.environ["XDG_CACHE_HOME"]) in global_cache_dir().parents  # the test's own
    remove_tree(global_cache_dir())  # another machine
    offline = _compile(folder, "--offline")
    assert offline.exit_code == 2 and "network_forbidden" in offline.output
    result = _compile(folder)
    assert result.exit_code == 0, result.output
    assert (folder / "platform.lock").read_bytes() == lock_bytes  # still v1.3.0, not v1.9.0
    assert t.read_tree_files(folder / "out") == tree_bytes


def test_a_platforms_tests_travel_by_default_and_share_tests_false_keeps_them_home(
    tmp_path: Path,
) -> None:
    source = tmp_path / "solo"
    (source / "tests").mkdir(parents=True)
    (source / "tests" / "naming.yaml").write_text(ENTERPRISE_TEST)
    text = (
        ENTERPRISE.format(version="1.0.0", coverage=70)
        .replace("  trusted_keys: [enterprise.pub]\n", "")
        .replace("require_signed_artifacts: true", "require_signed_artifacts: false")
    )
    (source / "manifest.yaml").write_text(text)
    shipped = build_tree(source / "manifest.yaml").manifest.inheritance
    assert shipped is not None
    assert [(s.platform, s.file) for s in shipped.tests] == [
        ("enterprise-platform v1.0.0", "naming.yaml")
    ]
    (source / "manifest.yaml").write_text(text + "share_tests: false\n")
    assert build_tree(source / "manifest.yaml").manifest.inheritance is None
