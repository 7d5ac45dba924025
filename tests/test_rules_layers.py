"""Layer constraints: not_null_pk / unique_pk / freshness / documentation per layer."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import FIXTURES, edit, enforce, line_of, make_tree, only, shop_project

from floe.tree.model import LayerConstraint, LayerConstraints

SILVER = "models/silver/schema.yml"
GOLD = "models/gold/schema.yml"


def test_passing_fixture_meets_every_layer() -> None:
    result = enforce(FIXTURES / "shop")
    assert not only(result, "layer.required_test")
    assert result.checks[1].name == "Layer constraints" and result.checks[1].passed


def test_missing_unique_on_pk_points_at_the_column(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(
        root,
        SILVER,
        "          - unique:\n              config:\n                severity: error\n",
        "",
    )
    findings = [f for f in only(enforce(root), "layer.required_test") if "unique" in f.message]
    (finding,) = findings
    line = line_of(root, SILVER, "- name: customer_id")
    assert (finding.file, finding.line, finding.model) == (SILVER, line, "silver_customers")
    assert finding.message.startswith("silver layer requires unique_pk")
    assert finding.hint == f"add `unique` to the tests of column customer_id in {SILVER}:{line}"


def test_untested_pk_hint_adds_a_tests_list(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(
        root,
        "models/bronze/schema.yml",
        "        tests:\n          - not_null\n          - unique\n",
        "",
    )
    (finding,) = only(enforce(root), "layer.required_test")
    line = line_of(root, "models/bronze/schema.yml", "- name: customer_id")
    assert finding.line == line
    assert finding.hint == (
        f"add `tests: [not_null]` to column customer_id in models/bronze/schema.yml:{line}"
    )


def test_declared_primary_key_must_be_a_column(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "primary_key: customer_id", "primary_key: customer_key")
    findings = only(enforce(root), "layer.required_test")
    assert findings and all("customer_key, which is not a column" in f.message for f in findings)
    assert {f.line for f in findings} == {line_of(root, GOLD, "- name: gold_customers")}


def test_no_key_column_at_all(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/bronze/schema.yml", "- name: customer_id", "- name: ref_code")
    # A column with both not_null and unique counts as the key (heuristic, step 3).
    assert not only(enforce(root), "layer.required_test")
    edit(root, "models/bronze/schema.yml", "          - unique\n", "")
    (finding,) = only(enforce(root), "layer.required_test")
    assert "has no primary key column" in finding.message
    assert "meta: {primary_key: <column>}" in finding.hint


def test_freshness_from_meta_or_recency_test(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(
        root, SILVER, "        freshness: {warn_after: {count: 1, period: day}}\n", "        x: 1\n"
    )
    (finding,) = only(enforce(root), "layer.required_test")
    assert "no freshness check" in finding.message
    assert finding.line == line_of(root, SILVER, "- name: silver_customers")


def test_documentation_names_the_bare_columns(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "        description: ISO country code.\n", "")
    edit(root, GOLD, "    description: One row per customer, ready for analysts.\n", "")
    (finding,) = only(enforce(root), "layer.required_test")
    assert finding.message == (
        "gold layer requires documentation: model gold_customers and column country "
        "undocumented (documentation required)"
    )


def test_custom_test_requirement_and_layers_without_constraints(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    tree = make_tree(
        layer_constraints=LayerConstraints(
            layers={"bronze": LayerConstraint(required_tests=["accepted_values"])}
        )
    )
    assert not only(enforce(root, tree), "layer.required_test")  # country has it
    edit(root, "models/bronze/schema.yml", "- accepted_values:", "- dbt_utils.not_constant:")
    (finding,) = only(enforce(root, tree), "layer.required_test")
    assert finding.model == "bronze_customers" and "`accepted_values`" in finding.message
