"""The sound gate: each bypass of issue 12, caught with its rule id and file:line.

Real dbt-duckdb parses (in-process, as `floe run` and `floe compile --parse` do) and
real builds; no mocks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from compile_helpers import acme_files, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import install_state

SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0.json"
MODEL_SQL = "models/bronze/bronze_numbers.sql"
VAR_CONFIG = "{{ config(schema=var('mart_schema')) }}\n"


def _project(root: Path, *, vars_block: str = "", sql_prefix: str = "") -> Path:
    write_tiny_project(root)
    if vars_block:
        with (root / "dbt_project.yml").open("a") as f:
            f.write(vars_block)
    if sql_prefix:
        sql = root / MODEL_SQL
        sql.write_text(sql_prefix + sql.read_text())
    install_state(root, acme_files())
    return root


def _findings(root: Path) -> list[dict[str, object]]:
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    return list(compiled["findings"])


def _errors(root: Path, rule: str) -> list[dict[str, object]]:
    return [f for f in _findings(root) if f["rule_id"] == rule and f["severity"] == "error"]


def _tables(root: Path) -> list[tuple[str, str]]:
    import duckdb

    path = root / "target/warehouse.duckdb"
    if not path.exists():
        return []
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select table_schema, table_name from information_schema.tables")
        return sorted(rows.fetchall())


def test_var_schema_is_unresolved_at_compile(tmp_path: Path) -> None:
    root = _project(
        tmp_path / "p", vars_block="vars:\n  mart_schema: sandbox\n", sql_prefix=VAR_CONFIG
    )
    result = run_floe("compile", "--dir", str(root))
    assert result.exit_code == 1, result.output
    (finding,) = _errors(root, "config.unresolved")
    assert (finding["file"], finding["line"]) == (MODEL_SQL, 1)
    assert "var('mart_schema')" in str(finding["message"])
    assert "Read: files" in result.stdout


@pytest.mark.dbt
def test_var_schema_is_caught_at_run_and_nothing_is_built(tmp_path: Path) -> None:
    root = _project(
        tmp_path / "p", vars_block="vars:\n  mart_schema: sandbox\n", sql_prefix=VAR_CONFIG
    )
    result = run_floe("run", "--dir", str(root))
    assert result.exit_code == 1, result.output
    (finding,) = _errors(root, "namespace.not_approved")
    assert finding["file"] == "models/bronze/_bronze.yml" and finding["line"] == 4
    assert "main_sandbox" in str(finding["message"])
    assert not _errors(root, "config.unresolved")  # dbt resolved it: nothing unverified
    assert "dbt was not started" in result.stderr
    assert _tables(root) == []
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert compiled["read_from"]["kind"] == "dbt-parse"


@pytest.mark.dbt
def test_vars_on_the_command_line_are_what_floe_checks(tmp_path: Path) -> None:
    root = _project(
        tmp_path / "p", vars_block="vars:\n  mart_schema: bronze\n", sql_prefix=VAR_CONFIG
    )
    forbidden = json.dumps({"mart_schema": "forbidden_zone"})
    result = run_floe("run", "--dir", str(root), "--", "--vars", forbidden)
    assert result.exit_code == 1, result.output
    (finding,) = _errors(root, "namespace.not_approved")
    assert "main_forbidden_zone" in str(finding["message"])
    assert finding["line"] == 4
    assert _tables(root) == []


@pytest.mark.dbt
def test_run_json_checked_digest_equals_built_digest(tmp_path: Path) -> None:
    root = _project(
        tmp_path / "p", vars_block="vars:\n  mart_schema: bronze\n", sql_prefix=VAR_CONFIG
    )
    result = run_floe("run", "--dir", str(root))
    assert result.exit_code == 0, result.output
    record = json.loads((root / "target/floe/run.json").read_text())
    checked, built = record["manifest"]["checked_digest"], record["manifest"]["built_digest"]
    assert checked.startswith("sha256:") and len(checked) == 71
    assert checked == built
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert compiled["read_from"]["digest"] == checked
    assert record["platform"]["content_digest"] == compiled["platform"]["content_digest"]
    assert ("main_bronze", "bronze_numbers") in _tables(root)


@pytest.mark.dbt
def test_custom_generate_schema_name_is_caught(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "macros").mkdir()
    (root / "macros/generate_schema_name.sql").write_text(
        "{% macro generate_schema_name(custom_schema_name, node) -%}anywhere{%- endmacro %}\n"
    )
    files = run_floe("compile", "--dir", str(root))
    assert files.exit_code == 0, files.output  # the files say bronze: only dbt knows better
    result = run_floe("compile", "--dir", str(root), "--parse")
    assert result.exit_code == 1, result.output
    (finding,) = _errors(root, "namespace.not_approved")
    assert "schema anywhere" in str(finding["message"])
    assert (finding["file"], finding["line"]) == ("models/bronze/_bronze.yml", 4)


@pytest.mark.dbt
def test_parse_logs_stay_off_a_json_stdout(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    result = run_floe("compile", "--dir", str(root), "--parse", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # one JSON document: dbt's parse log went to stderr
    assert document["read_from"]["kind"] == "dbt-parse"
    assert "Running with dbt" in result.stderr


@pytest.mark.dbt
def test_snapshot_into_an_unapproved_schema(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    (root / "snapshots").mkdir()
    (root / "snapshots/bronze_numbers_snapshot.sql").write_text(
        "{% snapshot bronze_numbers_snapshot %}\n"
        "{{ config(schema='sandbox', unique_key='number_id', strategy='check',"
        " check_cols=['square']) }}\n"
        "select * from {{ ref('bronze_numbers') }}\n{% endsnapshot %}\n"
    )
    result = run_floe("compile", "--dir", str(root), "--parse")
    assert result.exit_code == 1, result.output
    found = _errors(root, "namespace.not_approved")
    assert [f["model"] for f in found] == ["bronze_numbers_snapshot"]
    assert str(found[0]["message"]).startswith("snapshot bronze_numbers_snapshot")
    assert found[0]["file"] == "snapshots/bronze_numbers_snapshot.sql"


@pytest.mark.dbt
def test_package_models_are_governed(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    package = root / "dbt_packages/helpers"
    (package / "models").mkdir(parents=True)
    (package / "dbt_project.yml").write_text("name: helpers\nversion: '1.0.0'\nconfig-version: 2\n")
    (package / "models/helper_numbers.sql").write_text("select 1 as n\n")
    (root / "packages.yml").write_text("packages:\n  - local: dbt_packages/helpers\n")
    result = run_floe("compile", "--dir", str(root), "--parse")
    assert result.exit_code == 1, result.output
    naming = [f for f in _findings(root) if f["model"] == "helper_numbers"]
    assert "quality.required_test" in {f["rule_id"] for f in naming}
    assert {f["file"] for f in naming} == {"dbt_packages/helpers/models/helper_numbers.sql"}


@pytest.mark.dbt
def test_versioned_model_has_no_false_errors(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    sql = (root / MODEL_SQL).read_text()
    (root / MODEL_SQL).unlink()
    for version in ("v1", "v2"):
        (root / f"models/bronze/bronze_numbers_{version}.sql").write_text(sql)
    schema = root / "models/bronze/_bronze.yml"
    text = schema.read_text().replace(
        "    meta: {primary_key: number_id}\n",
        "    meta: {primary_key: number_id}\n    latest_version: 2\n"
        "    versions:\n      - v: 1\n      - v: 2\n",
    )
    schema.write_text(text)
    files = run_floe("compile", "--dir", str(root))  # files mode: each version's file
    assert files.exit_code == 0, files.output
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert compiled["models"] == 2 and compiled["read_from"]["kind"] == "files"
    assert not [f for f in compiled["findings"] if f["severity"] != "info"]
    result = run_floe("compile", "--dir", str(root), "--parse")
    assert result.exit_code == 0, result.output
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert compiled["models"] == 2
    assert not [f for f in compiled["findings"] if f["severity"] != "info"]


def test_stale_manifest_is_reported(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    manifest = root / "target/manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"metadata": {}, "nodes": {}, "sources": {}}))
    old = (root / MODEL_SQL).stat().st_mtime - 100
    os.utime(manifest, (old, old))
    result = run_floe("compile", "--dir", str(root))
    assert result.exit_code == 0, result.output
    (finding,) = [f for f in _findings(root) if f["rule_id"] == "project.manifest_stale"]
    assert (finding["file"], finding["line"], finding["severity"]) == (
        "target/manifest.json",
        1,
        "warning",
    )
    assert "models/bronze/" in str(finding["message"])
    given = run_floe("compile", "--dir", str(root), "--manifest", str(manifest))
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert given.exit_code == 0 and compiled["read_from"]["kind"] == "manifest"
    assert compiled["read_from"]["path"] == "target/manifest.json"
    assert compiled["read_from"]["digest"].startswith("sha256:")
    assert "Read: manifest target/manifest.json" in given.stdout


def test_early_error_sarif_is_valid_and_reports_are_rewritten(tmp_path: Path) -> None:
    root = _project(tmp_path / "p")
    assert run_floe("compile", "--dir", str(root)).exit_code == 0
    cached = root / ".floe/platform/v1.2.3/policies/quality-gates.json"
    os.chmod(cached, 0o644)
    cached.write_text(cached.read_text().replace("80", "10"))
    result = run_floe("compile", "--dir", str(root), "--format", "sarif")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["descriptor"]["id"] == "cache_corrupt"
    for name in ("compiled.json", "findings.json"):
        data = json.loads((root / "target/floe" / name).read_text())
        assert data["status"] == "error" and data["error"]["event"] == "cache_corrupt"
    assert "cache_corrupt" in (root / "target/floe/junit.xml").read_text()
    on_disk = json.loads((root / "target/floe/findings.sarif").read_text())
    assert on_disk == document


@pytest.mark.dbt
def test_platform_may_exempt_a_package_by_name(tmp_path: Path) -> None:
    from floe.tree import model as t

    root = tmp_path / "p"
    write_tiny_project(root)
    files = acme_files()
    gates = t.QualityGates.model_validate_json(files[t.QUALITY_GATES_FILE])
    policy = t.GovernancePolicy(exempt_packages=["helpers"])
    files[t.QUALITY_GATES_FILE] = t.model_bytes(gates.model_copy(update={"governance": policy}))
    manifest = t.PlatformManifest.model_validate_json(files[t.MANIFEST_FILE])
    rest = {k: v for k, v in files.items() if k != t.MANIFEST_FILE}
    meta = manifest.metadata.model_copy(update={"digest": t.content_digest(rest)})
    files[t.MANIFEST_FILE] = t.model_bytes(manifest.model_copy(update={"metadata": meta}))
    install_state(root, files)
    package = root / "dbt_packages/helpers"
    (package / "models").mkdir(parents=True)
    (package / "dbt_project.yml").write_text("name: helpers\nversion: '1.0.0'\nconfig-version: 2\n")
    (package / "models/helper_numbers.sql").write_text("select 1 as n\n")
    (root / "packages.yml").write_text("packages:\n  - local: dbt_packages/helpers\n")
    result = run_floe("compile", "--dir", str(root), "--parse")
    assert result.exit_code == 0, result.output
    assert not [f for f in _findings(root) if f["model"] == "helper_numbers"]
