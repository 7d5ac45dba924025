"""`floe compile`: load the verified platform, enforce, write reports and profiles.yml."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from compile_helpers import acme_files, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import force_writable, install_state

SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0.json"
REPORTS = ["compiled.json", "findings.json", "findings.sarif", "junit.xml", "lineage-cache.json"]
# with them, compile's sealed check records (an unsigned platform: no trust-checked)
WRITTEN = sorted([*REPORTS, "floe-yaml-checked"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_tiny_project(tmp_path / "tiny")
    install_state(root, acme_files())
    return root


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = write_tiny_project(tmp_path / "broken", model="numbers")
    install_state(root, acme_files())
    return root


def _reports(root: Path) -> list[str]:
    out = root / "target" / "floe"
    return sorted(p.name for p in out.iterdir()) if out.is_dir() else []


def test_compile_passes_and_writes_profile_and_reports(project: Path) -> None:
    result = run_floe("compile", "--dir", str(project))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "[1/4] Loading platform artifacts",
        "  ✓ Platform: acme-data-platform v1.2.3",
        "  ✓ Cached at: .floe/platform/v1.2.3/",
    ]
    assert "[2/4] Validating against platform" in lines
    for check in ("Naming conventions", "Quality gates", "Classification compliance"):
        assert f"  ✓ {check}" in lines
    assert "  ✓ profiles.yml (target: duckdb)" in lines
    assert lines[-1] == "[4/4] Compilation successful"
    assert _reports(project) == WRITTEN
    profile = yaml.safe_load((project / "profiles.yml").read_text())
    output = profile["tiny"]["outputs"]["floe"]
    assert output["path"] == (project.resolve() / "target/warehouse.duckdb").as_posix()


def test_compiled_json_names_the_platform_and_is_deterministic(project: Path) -> None:
    assert run_floe("compile", "--dir", str(project)).exit_code == 0
    first = {name: (project / "target/floe" / name).read_bytes() for name in REPORTS}
    assert run_floe("compile", "--dir", str(project)).exit_code == 0
    second = {name: (project / "target/floe" / name).read_bytes() for name in REPORTS}
    assert first == second
    compiled = json.loads(first["compiled.json"])
    lock = (project / ".floe/cache/artifacts.lock").read_text()
    assert compiled["platform"]["content_digest"] in lock
    assert compiled["platform"]["manifest_digest"] in lock
    assert compiled["platform"]["version"] == "v1.2.3"
    assert compiled["project"] == "tiny"
    assert compiled["status"] == "passed"
    assert compiled["findings"] == []
    assert [c["name"] for c in compiled["checks"]][:3] == [
        "Naming conventions",
        "Layer constraints",
        "Quality gates",
    ]
    assert compiled["coverage"]["percent"] == 100.0


def test_blocked_compile_exits_1_without_profile(broken: Path) -> None:
    result = run_floe("compile", "--dir", str(broken))
    assert result.exit_code == 1, result.output
    assert "  ✗ Naming conventions (1 error)" in result.stdout
    assert "numbers" in result.stdout and "naming.prefix" in result.stdout
    assert "models/bronze/numbers.sql:1" in result.stdout
    assert "[4/4] Compilation blocked: 1 error" in result.stdout
    assert not (broken / "profiles.yml").exists()
    assert _reports(broken) == WRITTEN
    findings = json.loads((broken / "target/floe/findings.json").read_text())["findings"]
    assert [(f["rule_id"], f["file"], f["line"]) for f in findings] == [
        ("naming.prefix", "models/bronze/numbers.sql", 1)
    ]


def test_format_json_prints_compiled_json(broken: Path) -> None:
    result = run_floe("compile", "--dir", str(broken), "--format", "json")
    assert result.exit_code == 1
    assert "[1/4]" not in result.stdout
    document = json.loads(result.stdout)
    assert document == json.loads((broken / "target/floe/compiled.json").read_text())
    assert document["status"] == "blocked" and document["blocking"] is True


def test_format_sarif_and_junit_print_valid_documents(broken: Path) -> None:
    sarif = run_floe("compile", "--dir", str(broken), "--format", "sarif")
    assert sarif.exit_code == 1
    document = json.loads(sarif.stdout)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    assert document["runs"][0]["results"][0]["ruleId"] == "naming.prefix"
    junit = run_floe("compile", "--dir", str(broken), "--format", "junit")
    assert junit.exit_code == 1
    assert ET.fromstring(junit.stdout).get("failures") == "1"


def test_out_and_profiles_dir_options(project: Path, tmp_path: Path) -> None:
    out, profiles = tmp_path / "reports", tmp_path / "profiles"
    result = run_floe(
        "compile", "--dir", str(project), "--out", str(out), "--profiles-dir", str(profiles)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == WRITTEN
    assert (profiles / "profiles.yml").is_file()
    assert not (project / "profiles.yml").exists()


def test_corrupt_cache_stops_compile_before_validation(project: Path) -> None:
    cached = project / ".floe/platform/v1.2.3/policies/quality-gates.json"
    force_writable(cached)
    cached.write_text(cached.read_text().replace("80", "10"))
    result = run_floe("compile", "--dir", str(project))
    assert result.exit_code == 1
    assert "cache_corrupt" in result.stderr
    assert "[2/4]" not in result.stdout
    # Every report says so: nothing claims "passed" after an error before validation.
    compiled = json.loads((project / "target/floe/compiled.json").read_text())
    assert compiled["status"] == "error" and compiled["error"]["event"] == "cache_corrupt"
    assert compiled["profile"] is None and compiled["findings"] == []


def test_uninitialized_project_is_a_usage_error(tmp_path: Path) -> None:
    root = write_tiny_project(tmp_path / "fresh")
    result = run_floe("compile", "--dir", str(root), "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["event"] == "platform_not_initialized"


def test_foreign_profiles_yml_is_never_overwritten(project: Path) -> None:
    (project / "profiles.yml").write_text("tiny:\n  target: dev\n")
    result = run_floe("compile", "--dir", str(project))
    assert result.exit_code == 2
    assert "profiles_not_generated" in result.stderr
    assert (project / "profiles.yml").read_text() == "tiny:\n  target: dev\n"


def test_compile_from_the_project_directory(project: Path) -> None:
    result = run_floe("compile", cwd=project)
    assert result.exit_code == 0, result.output
    assert "  Reports:" not in result.stdout
    assert (project / "target/floe/compiled.json").is_file()


def test_coverage_line_marks_the_gate() -> None:
    from floe.project.compile import coverage_line
    from floe.rules.engine import CoverageStats, EnforcementResult

    def line(percent: float, blocking: bool) -> str:
        stats = CoverageStats(2, 1, 10, int(percent / 10), percent)
        return coverage_line(EnforcementResult([], [], stats, False), 80, blocking)

    assert line(90.0, True) == (
        "  ✓ Coverage: 90% of columns tested (9/10), 1/2 models tested (minimum 80%)"
    )
    assert line(50.0, True).startswith("  ✗ Coverage: 50%")
    assert line(50.0, False).startswith("  ! Coverage: 50%")


def test_platform_layers_come_from_the_naming_rules() -> None:
    from compile_helpers import acme_tree

    from floe.project.compile import platform_layers

    assert platform_layers(acme_tree()) == {
        "bronze": "bronze_",
        "silver": "silver_",
        "gold": "gold_",
    }
