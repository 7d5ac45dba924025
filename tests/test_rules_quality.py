"""Quality gates: coverage numbers, block_on_failure, required tests per model."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import FIXTURES, edit, enforce, line_of, make_tree, only, shop_project

from floe.tree.model import QualityGates


def test_coverage_is_reported_on_a_passing_project() -> None:
    result = enforce(FIXTURES / "shop")
    assert result.coverage.to_json() == {
        "models_total": 3,
        "models_tested": 3,
        "columns_total": 9,
        "columns_tested": 9,
        "percent": 100.0,
    }
    assert not only(result, "quality.coverage")


def test_low_coverage_blocks_with_numbers_and_examples(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/silver/schema.yml", "        data_tests: [not_null]\n", "")
    edit(root, "models/silver/schema.yml", "        data_tests: [not_null]\n", "")
    result = enforce(root, make_tree(quality_gates=QualityGates(minimum_test_coverage=90)))
    (finding,) = only(result, "quality.coverage")
    assert finding.severity == "error" and result.blocking
    assert (finding.file, finding.line, finding.model) == ("dbt_project.yml", 1, None)
    assert "77.78% is below the required 90% (7 of 9 columns tested" in finding.message
    email = line_of(root, "models/silver/schema.yml", "- name: email")
    assert f"silver_customers.email (models/silver/schema.yml:{email})" in finding.hint


def test_without_block_on_failure_findings_are_warnings(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/silver/schema.yml", "        data_tests: [not_null]\n", "")
    gates = QualityGates(minimum_test_coverage=95, block_on_failure=False)
    result = enforce(root, make_tree(quality_gates=gates))
    (finding,) = only(result, "quality.coverage")
    assert finding.severity == "warning" and not result.blocking


def test_required_test_missing_on_a_model(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    gates = QualityGates(required_tests=["relationships"])
    findings = only(enforce(root, make_tree(quality_gates=gates)), "quality.required_test")
    assert [f.model for f in findings] == ["bronze_customers", "gold_customers", "silver_customers"]
    gold = findings[1]
    assert gold.line == line_of(root, "models/gold/schema.yml", "- name: gold_customers")
    assert gold.hint.startswith("add a `relationships` test to model gold_customers")


def test_package_tests_satisfy_bare_requirements(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    gates = QualityGates(required_tests=["recency"])
    findings = only(enforce(root, make_tree(quality_gates=gates)), "quality.required_test")
    assert [f.model for f in findings] == ["bronze_customers", "silver_customers"]
