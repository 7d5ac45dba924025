"""`floe rules list|explain`, `floe compile --baseline`, `--format github`, `--compact`,
and the acme manifest's catalogue compiled into the tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from compile_helpers import REPO_ROOT, copy_demo
from conftest import run_floe
from lifecycle_helpers import install_state

from floe.rules.catalogue import RULE_IDS
from floe.tree.model import load_tree, parse_tree, read_tree_files


@pytest.fixture(scope="module")
def acme_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("acme") / "artifacts"
    manifest = REPO_ROOT / "manifests" / "acme" / "manifest.yaml"
    result = run_floe("platform", "compile", str(manifest), "--out", str(out))
    assert result.exit_code == 0, result.output
    return read_tree_files(out)


@pytest.fixture
def broken(tmp_path: Path, acme_files: dict[str, bytes]) -> Path:
    project = copy_demo("customer-360-broken", tmp_path / "broken")
    install_state(project, acme_files)
    return project


def test_acme_tree_carries_the_preset_with_its_overrides(acme_files: dict[str, bytes]) -> None:
    assert "policies/contracts.json" in acme_files and "architecture/sql.json" in acme_files
    tree = parse_tree(acme_files)
    assert tree.contracts.required.layers == ["gold"]
    assert tree.contracts.columns_match.severity == "error"  # acme's override
    assert tree.contracts.constraints.severity == "warn"  # the preset's value stays
    assert tree.metadata_rules.owner_format.groups == ["data_engineer", "customer_analytics"]


def test_acme_platform_tests_pass(acme_files: dict[str, bytes], tmp_path: Path) -> None:
    from lifecycle_helpers import write_tree

    tree_dir = write_tree(tmp_path / "tree", acme_files)
    manifest_dir = REPO_ROOT / "manifests" / "acme"
    result = run_floe(
        "platform", "test", "--artifacts", str(tree_dir), "--manifest-dir", str(manifest_dir)
    )
    assert result.exit_code == 0, result.output
    assert "Catalogue rules" in result.stdout and "(10 cases)" in result.stdout


def test_rules_list_names_every_rule_and_severity(broken: Path) -> None:
    plain = run_floe("rules", "list", "--format", "json")
    assert plain.exit_code == 0
    rows = json.loads(plain.stdout)["rules"]
    assert {row["rule_id"] for row in rows} >= RULE_IDS
    assert all(row["severity"] is None for row in rows)
    cached = run_floe("rules", "list", "--platform", "--dir", str(broken), "--format", "json")
    assert cached.exit_code == 0, cached.output
    data = json.loads(cached.stdout)
    assert data["platform"] == "acme-data-platform v1.2.3"
    levels = {row["rule_id"]: row["severity"] for row in data["rules"]}
    assert levels["contract.required"] == "error"
    assert levels["source.freshness"] == "warning"
    assert levels["governance.version_pin"] == "off"
    assert levels["naming.prefix"] == "error"
    text = run_floe("rules", "list", "--platform", "--dir", str(broken))
    assert "Rules of acme-data-platform v1.2.3:" in text.stdout
    assert "error    contract.required" in text.stdout


def test_rules_explain_and_unknown_rule() -> None:
    result = run_floe("rules", "explain", "lineage.upstream_layer")
    assert result.exit_code == 0
    assert "Set by the platform at: rules.lineage.upstream_layers" in result.stdout
    bad = run_floe("rules", "explain", "lineage.upstream_layr")
    assert bad.exit_code == 2
    assert "error[rule_unknown]" in bad.stderr and "'lineage.upstream_layer'" in bad.stderr


def test_broken_demo_shows_every_new_family(broken: Path) -> None:
    result = run_floe("compile", "--dir", str(broken), "--format", "json")
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    families = {f["rule_id"].split(".")[0] for f in findings}
    assert {"contract", "governance", "metadata", "lineage", "structure", "source", "sql"} <= (
        families
    )
    sql = [f for f in findings if f["rule_id"] == "sql.hardcoded_relation"]
    assert [(f["file"], f["line"]) for f in sql] == [("models/gold/gold_customer_contacts.sql", 11)]


def test_compact_and_github_formats(broken: Path) -> None:
    compact = run_floe("compile", "--dir", str(broken), "--format", "text", "--compact")
    assert compact.exit_code == 1
    lines = compact.stdout.splitlines()
    assert (
        "models/gold/gold_customer_contacts.sql:11:1: sql.hardcoded_relation model "
        "gold_customer_contacts reads main.do_not_contact by name, not through ref() or source()"
    ) in lines
    assert lines[-1].startswith("Compilation blocked: ")
    assert not any(line.startswith("[1/4]") for line in lines)
    github = run_floe("compile", "--dir", str(broken), "--format", "github")
    assert github.exit_code == 1
    annotations = github.stdout.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in annotations)
    assert any(
        line.startswith(
            "::error file=models/gold/gold_customer_contacts.sql,line=11,"
            "title=sql.hardcoded_relation::"
        )
        for line in annotations
    )
    assert any(
        line.startswith("::warning file=models/silver/_violations.yml,line=")
        for line in annotations
    )


def test_baseline_blocks_only_new_findings(broken: Path, tmp_path: Path) -> None:
    first = run_floe("compile", "--dir", str(broken), "--format", "json")
    assert first.exit_code == 1
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes((broken / "target/floe/findings.json").read_bytes())
    known = run_floe("compile", "--dir", str(broken), "--baseline", str(baseline))
    assert known.exit_code == 0, known.output
    assert "0 new (0 error(s)), 0 fixed since" in known.stdout
    assert (broken / "profiles.yml").is_file()
    # Fix two findings (still passing), then add a new error: blocked again.
    sql = broken / "models/gold/gold_customer_contacts.sql"
    sql.write_text(sql.read_text().replace("main.do_not_contact", "{{ ref('silver_orders') }}"))
    yml = broken / "models/silver/_violations.yml"
    yml.write_text(
        yml.read_text().replace("      materialized: incremental", "      materialized: ephemeral")
    )
    moved = run_floe("compile", "--dir", str(broken), "--baseline", str(baseline), "--compact")
    assert moved.exit_code == 0, moved.output
    fixed = re.search(r"0 new \(0 error\(s\)\), (\d+) fixed since", moved.stdout)
    assert fixed and int(fixed.group(1)) >= 2, moved.stdout  # the SQL fix clears lineage too
    extra = "    and c.customer_id not in (select customer_id from main.blocked)\n"
    sql.write_text(sql.read_text() + extra)
    new = run_floe("compile", "--dir", str(broken), "--baseline", str(baseline), "--compact")
    assert new.exit_code == 1
    assert f"1 new (1 error(s)), {fixed.group(1)} fixed since" in new.stdout


def test_baseline_must_be_a_findings_document(broken: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = run_floe("compile", "--dir", str(broken), "--baseline", str(bad))
    assert result.exit_code == 2 and "error[baseline_invalid]" in result.stderr
    missing = run_floe("compile", "--dir", str(broken), "--baseline", str(tmp_path / "no.json"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_old_tree_without_catalogue_files_loads_with_families_off(
    acme_files: dict[str, bytes], tmp_path: Path
) -> None:
    from rules_helpers import make_tree, write_tree

    root = write_tree(make_tree(), tmp_path / "old")
    tree = load_tree(root)
    assert tree.contracts.required.severity == "off"
    assert not any(path.name == "contracts.json" for path in root.rglob("*"))


def _reseal(path: Path, body: dict[str, object], key: bytes) -> None:
    import hashlib
    import hmac

    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    mac = hmac.new(key, data, hashlib.sha256).hexdigest().encode()
    path.write_bytes(b"floe-sealed-v1 " + mac + b"\n" + data)


def test_a_forged_lineage_cache_cannot_hide_findings(broken: Path) -> None:
    from floe.project.sealed import seal_key

    assert run_floe("compile", "--dir", str(broken)).exit_code == 1
    findings = broken / "target/floe/findings.json"
    before = sorted(f["rule_id"] for f in json.loads(findings.read_text())["findings"])
    assert "sql.hardcoded_relation" in before
    cache = broken / "target/floe/lineage-cache.json"
    body = json.loads(cache.read_bytes().split(b"\n", 1)[1])
    for facts in body["sql_facts"].values():
        facts[2] = []  # "this SQL names no hard-coded relation"
    # committed to the repository or made on another machine: another key, ignored here
    _reseal(cache, body, b"k" * 32)
    assert run_floe("compile", "--dir", str(broken)).exit_code == 1
    assert sorted(f["rule_id"] for f in json.loads(findings.read_text())["findings"]) == before
    # the same forgery sealed with this user's key is trusted: the seal is what stops it
    _reseal(cache, body, seal_key())
    run_floe("compile", "--dir", str(broken))
    forged = [f["rule_id"] for f in json.loads(findings.read_text())["findings"]]
    assert "sql.hardcoded_relation" not in forged
