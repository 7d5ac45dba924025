"""The Dagster plugin: a code location floe writes, loaded and run by Dagster itself.

Dagster lives in its own environment (.venv-dagster, made by `make dagster-venv`) so its
pins never touch floe's; the tests drive it as a separate process, as a user's Dagster
deployment would load the code location.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from compile_helpers import REPO_ROOT, acme_files, copy_demo
from conftest import run_floe
from lifecycle_helpers import install_state

from floe.project.plugins.dagster import GateFinding, write_code_location

DAGSTER_BIN = REPO_ROOT / ".venv-dagster" / "bin"
PLATFORM = {"name": "acme-data-platform", "version": "1.2.3"}
MATERIALIZE = """
import json, runpy, sys
defs = runpy.run_path(sys.argv[1])["defs"]
result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
events = result.all_events
checks = [e.event_specific_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
failures = [
    getattr(e.event_specific_data.user_failure_data, "description", None)
    or e.event_specific_data.error.message
    for e in events
    if e.event_type_value == "STEP_FAILURE"
]
print(json.dumps({
    "success": result.success,
    "materialized": sum(e.event_type_value == "ASSET_MATERIALIZATION" for e in events),
    "gate": sorted(c.passed for c in checks if c.check_name == "floe_gate"),
    "freshness": [c.passed for c in checks if c.check_name == "freshness_check"],
    "failures": failures,
}))
"""


def _dagster(name: str) -> Path:
    path = DAGSTER_BIN / name
    if not path.is_file():
        pytest.fail(f"{path} missing: run `make dagster-venv` (make test does)")
    return path


def _env(tmp: Path) -> dict[str, str]:
    home = tmp / "dagster-home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "DAGSTER_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


@pytest.fixture
def parsed_demo(tmp_path: Path) -> Path:
    """Customer 360 on DuckDB, compiled by floe and parsed by dbt (target/manifest.json)."""
    project = copy_demo("customer-360", tmp_path / "customer-360")
    install_state(project, acme_files({"path": "target/warehouse.duckdb", "threads": 2}))
    assert run_floe("compile", "--dir", str(project)).exit_code == 0
    dbt = Path(sys.executable).with_name("dbt")
    parse = [str(dbt), "parse", "--profiles-dir", ".", "--target", "floe", "--no-partial-parse"]
    done = subprocess.run(parse, cwd=project, env=_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def _location(project: Path, findings: list[GateFinding]) -> Path:
    location = write_code_location(
        project / "target" / "floe",
        project,
        project,
        (project / "target" / "manifest.json").read_bytes(),
        findings,
        PLATFORM,
        ["gold_customer_360", "silver_orders"],
    )
    assert location.models == 8
    return location.definitions


def _materialize(definitions: Path, tmp: Path) -> dict[str, object]:
    argv = [str(_dagster("python")), "-c", MATERIALIZE, str(definitions)]
    done = subprocess.run(argv, env=_env(tmp), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.dbt
@pytest.mark.slow
def test_dagster_loads_and_materializes_the_checked_manifest(
    parsed_demo: Path, tmp_path: Path
) -> None:
    warning = GateFinding("naming.prefix", "warning", "gold_customer_360", "w", "m.yml:3")
    definitions = _location(parsed_demo, [warning])
    first = {p.name: p.read_bytes() for p in definitions.parent.iterdir()}
    _location(parsed_demo, [warning])
    assert {p.name: p.read_bytes() for p in definitions.parent.iterdir()} == first
    validate = [str(_dagster("dagster")), "definitions", "validate", "-f", str(definitions)]
    done = subprocess.run(validate, env=_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Validation successful" in done.stderr + done.stdout
    outcome = _materialize(definitions, tmp_path)
    assert outcome["success"] is True, outcome
    assert outcome["materialized"] == 11  # 8 models + 3 seeds
    assert outcome["gate"] == [True] * 8  # a warning does not fail the gate check
    assert outcome["freshness"] == [True, True]  # gold_customer_360 and silver_orders
    import duckdb

    with duckdb.connect(str(parsed_demo / "target" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from gold.gold_customer_360").fetchone() == (300,)


@pytest.mark.dbt
@pytest.mark.slow
def test_a_blocking_finding_stops_the_build_before_dbt(parsed_demo: Path, tmp_path: Path) -> None:
    error = GateFinding("naming.prefix", "error", "gold_customer_360", "bad name", "m.yml:3")
    outcome = _materialize(_location(parsed_demo, [error]), tmp_path)
    assert outcome["success"] is False
    assert outcome["materialized"] == 0
    assert any("floe gate: 1 blocking finding" in str(m) for m in outcome["failures"]), outcome
    assert not (parsed_demo / "target" / "warehouse.duckdb").exists()


@pytest.mark.dbt
def test_a_manifest_other_than_the_checked_one_refuses_to_load(
    parsed_demo: Path, tmp_path: Path
) -> None:
    definitions = _location(parsed_demo, [])
    copy = definitions.parent / "manifest.json"
    copy.write_bytes(copy.read_bytes().replace(b"gold_customer_360", b"gold_customer_361", 1))
    validate = [str(_dagster("dagster")), "definitions", "validate", "-f", str(definitions)]
    done = subprocess.run(validate, env=_env(tmp_path), capture_output=True, text=True)
    assert done.returncode != 0
    assert "is not the manifest floe checked" in done.stderr + done.stdout


@pytest.mark.dbt
def test_compile_parse_writes_the_code_location_and_names_installed_versions(
    tmp_path: Path,
) -> None:
    from importlib.metadata import version

    project = copy_demo("customer-360", tmp_path / "customer-360")
    install_state(project, acme_files({"path": "target/warehouse.duckdb", "threads": 2}))
    result = run_floe("compile", "--dir", str(project), "--parse")
    assert result.exit_code == 0, result.output
    assert f"Plugin compute: duckdb (dbt-duckdb {version('dbt-duckdb')}" in result.stdout
    assert "Plugin catalog: polaris (recorded metadata; floe does not act on it)" in result.stdout
    assert "Dagster code location: target/floe/dagster/definitions.py" in result.stdout
    compiled = json.loads((project / "target/floe/compiled.json").read_text())
    compute = next(p for p in compiled["plugins"] if p["slot"] == "compute")
    assert compute["installed"] == {"dbt-duckdb": version("dbt-duckdb")}
    gate = json.loads((project / "target/floe/dagster/floe_gate.json").read_text())
    assert gate["manifest_digest"] == compiled["orchestrator"]["manifest_digest"]
    assert gate["blocked"] is False and len(gate["models"]) == 8
    (project / "target" / "manifest.json").unlink()  # files mode: no manifest to build on
    files_only = run_floe("compile", "--dir", str(project))
    assert files_only.exit_code == 0 and "Dagster code location" not in files_only.stdout
