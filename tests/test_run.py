"""`floe run`: the compile gate, then dbt build on DuckDB; the run record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compile_helpers import TINY_MODEL, acme_files, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import install_state

from floe.project import run as run_module
from floe.project.run import summarize_run_results


def _project(root: Path, **kwargs: str) -> Path:
    write_tiny_project(root, **kwargs)
    install_state(root, acme_files())
    return root


@pytest.mark.dbt
def test_blocked_run_never_starts_dbt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "broken", model="numbers")
    started: list[object] = []
    monkeypatch.setattr(run_module, "build_parsed", lambda *a, **k: started.append(a))
    result = run_floe("run", "--dir", str(root))
    assert result.exit_code == 1
    assert "Compilation blocked: 1 error" in result.stdout
    assert "dbt was not started" in result.stderr
    assert started == []
    assert not (root / "target" / "run_results.json").exists()
    assert not (root / "target" / "floe" / "run.json").exists()
    assert not (root / "profiles.yml").exists()


def test_missing_dbt_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "tiny")
    real = run_module.importlib.util.find_spec

    def no_dbt(name: str, *args: object) -> object:
        return None if name.startswith("dbt") else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module.importlib.util, "find_spec", no_dbt)
    result = run_floe("run", "--dir", str(root))
    assert result.exit_code == 2
    assert "error[dbt_not_installed]" in result.stderr
    assert "pip install 'floe[dbt]'" in result.stderr


def test_summarize_run_results_counts_statuses(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    assert summarize_run_results(path) is None
    results = [{"status": s} for s in ("success", "pass", "pass", "fail", "skipped")]
    path.write_text(
        json.dumps({"metadata": {"invocation_id": "abc"}, "elapsed_time": 1.5, "results": results})
    )
    summary = summarize_run_results(path)
    assert summary is not None
    assert summary["total"] == 5
    assert summary["counts"]["pass"] == 2 and summary["counts"]["fail"] == 1
    assert summary["counts"]["error"] == 0 and summary["invocation_id"] == "abc"


@pytest.mark.dbt
def test_run_builds_on_duckdb_and_records_the_run(tmp_path: Path) -> None:
    import duckdb

    root = _project(tmp_path / "tiny")
    result = run_floe("run", "--dir", str(root), "--", "--no-partial-parse")
    assert result.exit_code == 0, result.output
    assert "[4/4] Compilation successful" in result.stdout
    assert "Completed successfully" in result.stdout  # dbt's own output, streamed
    record = json.loads((root / "target/floe/run.json").read_text())
    assert record["dbt"]["exit_code"] == 0
    assert record["dbt"]["command"][:2] == ["dbt", "build"]
    assert record["dbt"]["command"][-1] == "--no-partial-parse"
    assert record["dbt"]["results"]["counts"]["success"] == 1
    assert record["dbt"]["results"]["counts"]["pass"] == 4
    compiled = json.loads((root / "target/floe/compiled.json").read_text())
    assert record["platform"] == compiled["platform"]
    with duckdb.connect(str(root / "target/warehouse.duckdb"), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        assert ("main_bronze", "bronze_numbers") in tables
        assert con.execute("select sum(square) from main_bronze.bronze_numbers").fetchone() == (55,)


@pytest.mark.dbt
def test_failing_dbt_test_becomes_floe_exit_code(tmp_path: Path) -> None:
    root = _project(tmp_path / "tiny")
    duplicated = TINY_MODEL.replace("range(1, 6)", "(select 1 union all select 1)")
    (root / "models/bronze/bronze_numbers.sql").write_text(duplicated)
    result = run_floe("run", "--dir", str(root))
    assert result.exit_code == 1, result.output
    record = json.loads((root / "target/floe/run.json").read_text())
    assert record["status"] == "failed"
    assert record["dbt"]["exit_code"] == 1
    assert record["dbt"]["results"]["counts"]["fail"] == 1
