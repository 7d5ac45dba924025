"""`floe platform test`: built-in checks, the platform team's cases, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from catalogue_helpers import acme_catalogue
from conftest import REPO_ROOT, run_floe
from rules_helpers import make_tree, write_tree

from floe.platform.policy_test import BUILTIN_CHECKS, run_policy_tests
from floe.tree.model import (
    AccessControl,
    Classification,
    ClassificationRule,
    LayerConstraint,
    LayerConstraints,
    Namespaces,
    NamingRules,
    QualityGates,
    SchemaRegistry,
)

ACME_TESTS = REPO_ROOT / "manifests" / "acme" / "tests"


def _problems(tree_kwargs: dict[str, object]) -> dict[str, list[str]]:
    tree = make_tree(**tree_kwargs)
    return {name: check(tree) for name, check in BUILTIN_CHECKS}


def test_builtin_checks_pass_on_a_sound_tree() -> None:
    assert all(not problems for problems in _problems({}).values())


BAD_TREES = {
    "Naming rules compile and are ReDoS-safe": {
        "naming_rules": NamingRules(pattern="custom", enforcement="strict", custom_regex="^(a|a)*$")
    },
    "Naming prefixes cover the constrained layers": {
        "naming_rules": NamingRules(
            pattern="medallion", enforcement="strict", prefixes={"bronze": "b_", "silver": "b_"}
        )
    },
    "Quality gates are satisfiable": {
        "quality_gates": QualityGates(minimum_test_coverage=120, required_tests=["not_nul"])
    },
    "Classification rules name known levels": {
        "classification": Classification(
            levels=["public", "pii"],
            default_level="internal",
            rules={"phi": ClassificationRule(forbidden_layers=["platinum"])},
        )
    },
    "Permissions name known roles": {
        "access_control": AccessControl(roles=["analyst"], permissions={"ghost": ["select"]})
    },
    "Namespace grants name known roles": {
        "namespaces": Namespaces(namespaces=["gold"], grants={"gold": {"ghost": ["select"]}})
    },
}


@pytest.mark.parametrize("check_name", sorted(BAD_TREES))
def test_each_builtin_check_fails_on_a_crafted_bad_tree(check_name: str) -> None:
    problems = _problems(BAD_TREES[check_name])
    assert problems[check_name], check_name
    failing = {name for name, found in problems.items() if found}
    assert check_name in failing


def test_builtin_problem_wording() -> None:
    regex = _problems(BAD_TREES["Naming rules compile and are ReDoS-safe"])
    assert regex["Naming rules compile and are ReDoS-safe"][0].startswith("naming.regex_unsafe")
    quality = _problems(BAD_TREES["Quality gates are satisfiable"])["Quality gates are satisfiable"]
    assert quality == [
        "minimum_test_coverage 120 is outside 0..100",
        "required test 'not_nul' is not a known test type",
    ]
    prefixes = _problems(BAD_TREES["Naming prefixes cover the constrained layers"])
    assert (
        "layer gold has required tests but no naming prefix (prefixes: bronze, silver)"
        in (prefixes["Naming prefixes cover the constrained layers"])
    )
    unsafe_column = _problems({"schema_registry": SchemaRegistry(column_name_pattern="(x+)+")})[
        "Naming rules compile and are ReDoS-safe"
    ]
    assert "column_name_pattern" in unsafe_column[0]
    layer = _problems(
        {
            "layer_constraints": LayerConstraints(
                layers={"gold": LayerConstraint(required_tests=["x"])}
            )
        }
    )["Quality gates are satisfiable"]
    assert layer == ["layer gold requires 'x', which is not a known test type"]


def test_acme_cases_all_pass_against_the_acme_like_tree() -> None:
    report = run_policy_tests(make_tree(**acme_catalogue()), ACME_TESTS)
    assert report.passed, report.text_lines()
    names = [test.name for test in report.tests if test.kind == "cases"]
    assert names == [
        "Naming convention enforcement",
        "Quality gate validation",
        "Classification propagation",
        "Access control rules",
        "Catalogue rules (contracts, governance, metadata, lineage, structure, sources, SQL)",
    ]
    assert all(len(test.cases) >= 3 for test in report.tests if test.kind == "cases")


def _platform(tmp_path: Path, cases: str | None = None) -> tuple[Path, Path]:
    artifacts = write_tree(make_tree(**acme_catalogue()), tmp_path / "artifacts")
    manifest_dir = tmp_path / "manifests" / "acme"
    (manifest_dir / "tests").mkdir(parents=True)
    (manifest_dir / "manifest.yaml").write_text("metadata:\n  name: acme-data-platform\n")
    if cases is None:
        for path in ACME_TESTS.glob("*.yaml"):
            shutil.copy(path, manifest_dir / "tests" / path.name)
    else:
        (manifest_dir / "tests" / "cases.yaml").write_text(cases)
    return artifacts, manifest_dir


def test_cli_passes_and_prints_the_transcript(tmp_path: Path) -> None:
    artifacts, _ = _platform(tmp_path)
    result = run_floe("platform", "test", "--artifacts", str(artifacts), cwd=tmp_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Running policy tests..."
    assert "  ✓ Naming convention enforcement (5 cases)" in lines
    assert lines[-1] == "All 11 tests passed"


FAILING_CASES = """\
name: Naming convention enforcement
cases:
  - name: orders passes (wrongly)
    models:
      - name: orders
        layer: bronze
        schema: bronze
        columns:
          - {name: order_id, tests: [not_null, unique]}
    expect: pass
  - name: prefixed model fails (wrongly)
    models:
      - name: bronze_orders
        layer: bronze
        schema: bronze
        columns:
          - {name: order_id, tests: [not_null, unique]}
    expect:
      fail: [naming.prefix]
"""


def test_cli_failing_cases_exit_1_with_reasons(tmp_path: Path) -> None:
    artifacts, _ = _platform(tmp_path, FAILING_CASES)
    result = run_floe("platform", "test", "--artifacts", str(artifacts), cwd=tmp_path)
    assert result.exit_code == 1
    out = result.stdout
    assert "  ✗ Naming convention enforcement (2 of 2 cases failed)" in out
    assert (
        "      ✗ orders passes (wrongly) (manifests/acme/tests/cases.yaml:3): expected pass, "
        "got naming.prefix: model orders is in layer bronze (meta.layer) but lacks the "
        "prefix bronze_" in out
    )
    assert "expected naming.prefix to fail, but it did not" in out
    assert out.splitlines()[-1] == "1 of 7 tests failed"


def test_cli_json_report(tmp_path: Path) -> None:
    artifacts, manifest_dir = _platform(tmp_path, FAILING_CASES)
    result = run_floe(
        "platform",
        "test",
        "--artifacts",
        str(artifacts),
        "--manifest-dir",
        str(manifest_dir),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["event"] == "platform_test" and report["passed"] is False
    assert report["summary"] == {"cases": 2, "failed": 1, "tests": 7}
    cases = report["tests"][-1]["cases"]
    assert [case["passed"] for case in cases] == [False, False]


def test_cli_builtin_failure_on_a_bad_compiled_tree(tmp_path: Path) -> None:
    tree = make_tree(quality_gates=QualityGates(minimum_test_coverage=101))
    artifacts = write_tree(tree, tmp_path / "artifacts")
    result = run_floe("platform", "test", "--artifacts", str(artifacts), cwd=tmp_path)
    assert result.exit_code == 1
    assert "  ✗ Quality gates are satisfiable" in result.stdout
    assert "      - minimum_test_coverage 101 is outside 0..100" in result.stdout
    assert "no platform test cases found" in result.stdout


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ("cases:\n  - name: x\n    models: []\n    expect: maybe\n", "cases.yaml:2: expect must"),
        (
            "cases:\n  - name: x\n    models: []\n    expect: {fail: [naming.prefx]}\n",
            "unknown rule id naming.prefx",
        ),
        ("cases: [\n", "cases.yaml:"),
        ("cases:\n  - name: x\n", "a case needs `name:` and a `models:` list"),
    ],
)
def test_invalid_case_files_exit_2(tmp_path: Path, cases: str, message: str) -> None:
    artifacts, _ = _platform(tmp_path, cases)
    result = run_floe("platform", "test", "--artifacts", str(artifacts), cwd=tmp_path)
    assert result.exit_code == 2
    assert "error[policy_test_invalid]" in result.stderr and message in result.stderr


def test_missing_artifacts_and_manifest_dir(tmp_path: Path) -> None:
    result = run_floe("platform", "test", "--artifacts", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.exit_code == 2 and "artifacts_missing" in result.stderr
    artifacts = write_tree(make_tree(**acme_catalogue()), tmp_path / "artifacts")
    result = run_floe(
        "platform", "test", "--artifacts", str(artifacts), "--manifest-dir", str(tmp_path)
    )
    assert result.exit_code == 2 and "platform_tests_missing" in result.stderr
