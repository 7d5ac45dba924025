"""Classification: known levels, forbidden layers/namespaces, lineage propagation."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import (
    FIXTURES,
    at,
    edit,
    enforce,
    line_of,
    make_tree,
    only,
    shop_project,
    where,
)

from floe.rules.engine import evaluate
from floe.rules.model import Column, Model, Project
from floe.tree.model import Classification, ClassificationRule

GOLD = "models/gold/schema.yml"
SILVER = "models/silver/schema.yml"


def test_passing_fixture_is_compliant() -> None:
    result = enforce(FIXTURES / "shop")
    assert not [f for f in result.findings if f.rule_id.startswith("classification.")]


def test_unknown_level_points_at_the_column(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "meta: {classification: pii}", "meta: {classification: secret}")
    result = enforce(root)
    (finding,) = only(result, "classification.unknown_level")
    assert (finding.file, finding.line) == (GOLD, line_of(root, GOLD, "- name: email"))
    assert "'secret', which is not a platform level" in finding.message


def test_phi_in_a_forbidden_layer(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "meta: {classification: pii}", "meta: {classification: phi}")
    (finding,) = only(enforce(root), "classification.forbidden_layer")
    assert where(finding) == at(root, GOLD, "- name: email", "gold_customers")
    assert finding.message == "phi column gold_customers.email is not allowed in the gold layer"


def test_pii_in_a_forbidden_namespace(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "dbt_project.yml", "      +schema: gold\n", "      +schema: gold_public\n")
    (finding,) = only(enforce(root), "classification.forbidden_namespace")
    assert finding.line == line_of(root, GOLD, "- name: email")
    assert "namespace gold_public" in finding.message


def test_pii_requires_a_description(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "        description: Contact email.\n", "")
    (finding,) = only(enforce(root), "classification.description_required")
    assert finding.line == line_of(root, GOLD, "- name: email")


def test_dropped_label_downstream_is_a_propagation_error(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "        meta: {classification: pii}\n", "")
    (finding,) = only(enforce(root), "classification.propagation")
    assert where(finding) == at(root, GOLD, "- name: email", "gold_customers")
    assert finding.message == (
        "column gold_customers.email declares no classification but inherits pii from "
        "silver_customers.email through ref()"
    )
    assert "meta: {classification: pii}" in finding.hint


def test_propagation_through_a_chain_bronze_silver_gold(tmp_path: Path) -> None:
    """Silver drops the label; gold still inherits pii from bronze (transitively)."""
    root = shop_project(tmp_path)
    edit(root, SILVER, "        tags: ['classification:pii']\n", "")
    edit(root, GOLD, "meta: {classification: pii}", "meta: {classification: internal}")
    findings = only(enforce(root), "classification.propagation")
    assert [(f.model, f.line) for f in findings] == [
        ("gold_customers", line_of(root, GOLD, "- name: email")),
        ("silver_customers", line_of(root, SILVER, "- name: email")),
    ]
    assert "declares internal but inherits pii from bronze_customers.email" in (findings[0].message)


def test_inherited_level_counts_for_placement_rules(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/bronze/schema.yml", "classification: pii", "classification: phi")
    edit(root, SILVER, "classification:pii", "classification:phi")
    edit(root, GOLD, "meta: {classification: pii}", "meta: {classification: public}")
    result = enforce(root)
    assert only(result, "classification.propagation")
    (finding,) = only(result, "classification.forbidden_layer")
    assert "(inherited from silver_customers.email)" in finding.message


def test_seed_classification_flows_into_models() -> None:
    seed_tree = make_tree()
    project = Project(
        "p",
        Path("."),
        {
            "bronze_x": Model(
                "bronze_x",
                "m.yml",
                3,
                refs=("raw",),
                columns=(Column("email", line=5, tests=("not_null",)),),
            )
        },
    )
    from floe.rules.model import Seed

    project.seeds["raw"] = Seed("raw", "s.yml", 2, (Column("email", classification="pii"),))
    (finding,) = only(evaluate(project, seed_tree), "classification.propagation")
    assert (finding.file, finding.line) == ("m.yml", 5)


def test_propagation_off_and_cycles_do_not_hang() -> None:
    models = {
        "bronze_a": Model(
            "bronze_a", "a.yml", 1, refs=("bronze_b",), columns=(Column("e", classification="pii"),)
        ),
        "bronze_b": Model("bronze_b", "b.yml", 1, refs=("bronze_a",), columns=(Column("e"),)),
    }
    project = Project("p", Path("."), models)
    assert only(evaluate(project, make_tree()), "classification.propagation")
    policy = Classification(
        levels=["internal", "pii"], propagate=False, rules={"pii": ClassificationRule()}
    )
    assert not only(
        evaluate(project, make_tree(classification=policy)), "classification.propagation"
    )
