"""Platform inheritance (`extends:`) against a real registry: resolve, verify, cache, lock,
merge with stricter-wins, refuse a weakening child, run the parent's shared tests."""

from __future__ import annotations

import json
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
    rules:
      pii: {{forbidden_layers: [gold]}}
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
security:
  require_signed_artifacts: true
  trusted_keys: [enterprise.pub]
share_tests: true
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
    assert f"Extends {enterprise['ref']}:v1.3.0 ({enterprise['digests']['1.3.0']}" in result.output
    compiled = t.load_tree(folder / "out")
    # max / strictest
    assert compiled.quality_gates.minimum_test_coverage == 90
    assert compiled.naming_rules.enforcement == "strict"
    # union
    assert compiled.quality_gates.required_tests == ["not_null", "unique"]
    assert compiled.classification.rules["pii"].forbidden_layers == ["gold", "silver"]
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
    assert (folder / "out" / "manifest.json").read_bytes() == first  # reproducible
    # online, the lock is reused too: nothing but the trust check reads the registry
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
