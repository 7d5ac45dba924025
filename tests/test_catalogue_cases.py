"""Catalogue rules in `floe platform test` cases and in dbt's manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

from catalogue_helpers import catalogue_project, catalogue_tree
from rules_helpers import line_of

from floe.platform.policy_test import run_case_file
from floe.rules.dbt_reader import read_project
from floe.rules.engine import evaluate
from floe.tree.model import LayerConstraints, QualityGates

CASES = """\
name: Catalogue cases
cases:
  - name: model file named after the model passes
    models:
      - name: gold_revenue
        layer: gold
        sql_file: models/gold/gold_revenue.sql
    expect: pass
  - name: model file with another name fails
    models:
      - name: gold_revenue
        layer: gold
        sql_file: models/gold/revenue_final.sql
    expect: {fail: [structure.file_name]}
  - name: versioned model without latest_version fails
    models:
      - name: gold_revenue
        layer: gold
        versions: [{v: 1}, {v: 2}]
    expect: {fail: [governance.latest_version]}
  - name: exposure on a protected model fails
    models:
      - name: gold_revenue
        layer: gold
        access: protected
    exposures:
      - {name: revenue_dashboard, depends_on: [gold_revenue]}
    expect: {fail: [lineage.exposure_not_public]}
  - name: source without loader fails
    models:
      - name: bronze_orders
        layer: bronze
    sources:
      - {name: crm.orders, freshness: true, description: Orders}
    expect: {fail: [source.loader]}
"""

ONLY_STRUCTURE = {
    "structure": {"file_names": {"severity": "error"}},
    "governance": {"latest_version": {"severity": "error"}},
    "lineage": {"exposures_public": {"severity": "error"}},
    "sources": {"loader": {"severity": "error"}},
}


def test_case_files_carry_catalogue_properties(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CASES)
    tree = catalogue_tree(
        ONLY_STRUCTURE, layer_constraints=LayerConstraints(), quality_gates=QualityGates()
    )
    result = run_case_file(tree, path, "catalogue.yaml")
    assert [(case.name, case.passed, case.reason) for case in result.cases if not case.passed] == []
    assert len(result.cases) == 5


def test_case_finding_points_at_the_case_file(tmp_path: Path) -> None:
    from floe.platform.policy_test import project_from_case
    from floe.rules.yaml_lines import load_yaml

    doc = load_yaml(CASES, "catalogue.yaml")
    project = project_from_case(doc.data["cases"][1], doc, "catalogue.yaml")
    result = evaluate(project, catalogue_tree(ONLY_STRUCTURE))
    hits = [(f.file, f.line) for f in result.findings if f.rule_id == "structure.file_name"]
    assert hits == [("models/gold/revenue_final.sql", 1)]


def _manifest(root: Path) -> None:
    """A dbt manifest.json for the fixture, as `dbt parse` writes the fields we read."""
    nodes = {
        "model.catalogue.gold_customers": {
            "resource_type": "model",
            "name": "gold_customers",
            "package_name": "catalogue",
            "original_file_path": "models/gold/gold_customers.sql",
            "fqn": ["catalogue", "gold", "gold_customers"],
            "description": "Customers.",
            "access": "protected",
            "group": "crm",
            "contract": {"enforced": False},
            "config": {"materialized": "table", "meta": {"owner": "crm-team@acme.example"}},
            "columns": {},
            "refs": [{"name": "silver_customers", "package": None, "version": None}],
            "sources": [],
            "raw_code": "select customer_id from {{ ref('silver_customers') }}",
        },
        "model.catalogue.silver_customers": {
            "resource_type": "model",
            "name": "silver_customers",
            "package_name": "catalogue",
            "original_file_path": "models/silver/silver_customers.sql",
            "fqn": ["catalogue", "silver", "silver_customers"],
            "access": "protected",
            "group": "crm",
            "config": {"materialized": "table", "meta": {"owner": "crm-team@acme.example"}},
            "columns": {},
            "refs": [],
            "sources": [],
            "raw_code": "select 1 as customer_id",
        },
    }
    exposures = {
        "exposure.catalogue.customer_dashboard": {
            "name": "customer_dashboard",
            "original_file_path": "models/gold/_gold.yml",
            "depends_on": {"nodes": ["model.catalogue.gold_customers"]},
        }
    }
    target = root / "target"
    target.mkdir()
    (target / "manifest.json").write_text(
        json.dumps({"nodes": nodes, "sources": {}, "exposures": exposures})
    )


def test_manifest_mode_reads_access_contract_and_exposures(tmp_path: Path) -> None:
    root = catalogue_project(tmp_path)
    for path in (root / "models").rglob("*"):
        if path.is_file() and path.suffix == ".sql" and "bronze" in path.name:
            path.unlink()
    _manifest(root)
    project = read_project(root)
    assert project.origin == "manifest"
    gold = project.models["gold_customers"]
    assert (gold.props.access, gold.props.group, gold.props.contract_enforced) == (
        "protected",
        "crm",
        False,
    )
    result = evaluate(project, catalogue_tree())
    fired = {(f.rule_id, f.file, f.line) for f in result.findings}
    gold_line = line_of(root, "models/gold/_gold.yml", "- name: gold_customers")
    exposure_line = line_of(root, "models/gold/_gold.yml", "- name: customer_dashboard")
    assert ("contract.required", "models/gold/_gold.yml", gold_line) in fired
    assert ("lineage.exposure_not_public", "models/gold/_gold.yml", exposure_line) in fired
