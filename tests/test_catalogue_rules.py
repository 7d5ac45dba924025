"""Every catalogue rule: the clean fixture passes, one edit makes it fire at file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from catalogue_helpers import STRICT_EXTRAS, catalogue_project, catalogue_tree
from rules_helpers import edit, line_of

from floe.rules.catalogue import RULE_IDS
from floe.rules.dbt_reader import read_project
from floe.rules.engine import evaluate

GOLD_YML = "models/gold/_gold.yml"
SILVER_YML = "models/silver/_silver.yml"
BRONZE_YML = "models/bronze/_bronze.yml"
GOLD_SQL = "models/gold/gold_customers.sql"
SILVER_SQL = "models/silver/silver_customers.sql"
VERSIONED = "    versions:\n      - v: 1\n"

# rule id -> (edits (file, old, new), where the finding points (file, needle), rules override)
CASES: dict[str, tuple[list[tuple[str, str, str]], tuple[str, str], dict[str, Any] | None]] = {
    "contract.required": (
        [(GOLD_YML, "      contract: {enforced: true}\n", "")],
        (GOLD_YML, "- name: gold_customers"),
        None,
    ),
    "contract.data_type": (
        [(GOLD_YML, "        data_type: bigint\n", "")],
        (GOLD_YML, "- name: order_count"),
        None,
    ),
    "contract.constraint": (
        [(GOLD_YML, "          - type: not_null\n", "")],
        (GOLD_YML, "- name: customer_id"),
        None,
    ),
    "contract.columns_match": (
        [(GOLD_SQL, " as order_count,\n    sum(o.amount) as total_amount", " as order_count")],
        (GOLD_YML, "- name: total_amount"),
        None,
    ),
    "governance.access": (
        [(BRONZE_YML, "access: private", "access: public")],
        (BRONZE_YML, "- name: bronze_customers"),
        None,
    ),
    "governance.group_required": (
        [(SILVER_YML, "    group: crm\n", "")],
        (SILVER_YML, "- name: silver_customers"),
        None,
    ),
    "governance.public_model": (
        [(GOLD_YML, "    description: One row per customer with their order totals.\n", "")],
        (GOLD_YML, "- name: gold_customers"),
        None,
    ),
    "governance.private_ref": (
        [(SILVER_YML, "group: crm", "group: marketing")],
        (SILVER_YML, "- name: silver_customers"),
        None,
    ),
    "governance.latest_version": (
        [
            (
                SILVER_YML,
                "    description: Cleaned orders",
                VERSIONED + "    description: Cleaned orders",
            )
        ],
        (SILVER_YML, "- name: silver_orders"),
        None,
    ),
    "governance.deprecation_date": (
        [
            (
                SILVER_YML,
                "    description: Cleaned customers.\n",
                "    deprecation_date: 2020-01-01\n",
            )
        ],
        (SILVER_YML, "- name: silver_customers"),
        None,
    ),
    "governance.version_pin": (
        [
            (
                SILVER_YML,
                "    description: Cleaned orders",
                VERSIONED + "    latest_version: 1\n    description: Cleaned orders",
            )
        ],
        (GOLD_SQL, "silver_orders"),
        None,
    ),
    "metadata.required_key": (
        [(GOLD_YML, ", domain: customer}", "}")],
        (GOLD_YML, "- name: gold_customers"),
        None,
    ),
    "metadata.owner_format": (
        [(SILVER_YML, "meta: {owner: crm-team@acme.example}", "meta: {owner: somebody}")],
        (SILVER_YML, "- name: silver_customers"),
        None,
    ),
    "metadata.tag_not_allowed": (
        [(SILVER_YML, "tags: [crm]", "tags: [crm, nightly]")],
        (SILVER_YML, "- name: silver_customers"),
        None,
    ),
    "lineage.upstream_layer": (
        [(GOLD_SQL, "ref('silver_orders')", "ref('bronze_orders')")],
        (GOLD_SQL, "bronze_orders"),
        None,
    ),
    "lineage.source_outside_layer": (
        [(SILVER_SQL, "{{ ref('bronze_customers') }}", "{{ source('crm', 'customers') }}")],
        (SILVER_SQL, "source("),
        None,
    ),
    "lineage.deprecated_ref": (
        [
            (
                SILVER_YML,
                "    description: Cleaned customers.\n",
                "    deprecation_date: 2999-01-01\n",
            )
        ],
        (GOLD_SQL, "silver_customers"),
        None,
    ),
    "lineage.exposure_not_public": (
        [(GOLD_YML, "    access: public\n", "    access: protected\n")],
        (GOLD_YML, "- name: customer_dashboard"),
        None,
    ),
    "lineage.chained_views": (
        [(SILVER_YML, "    config:\n", "    config:\n      materialized: view\n")],
        (SILVER_YML, "- name: silver_customers"),
        {"preset": "medallion-strict", "lineage": {"chained_views": {"max": 1}}},
    ),
    "lineage.fanout": (
        [],
        (BRONZE_YML, "- name: bronze_customers"),
        {"preset": "medallion-strict", "lineage": {"fanout": {"severity": "error", "max": 0}}},
    ),
    "structure.materialization": (
        [
            (
                GOLD_YML,
                "      contract: {enforced: true}\n",
                "      contract: {enforced: true}\n      materialized: view\n",
            )
        ],
        (GOLD_YML, "- name: gold_customers"),
        None,
    ),
    "structure.unique_key": (
        [(SILVER_YML, "      unique_key: order_id\n", "")],
        (SILVER_YML, "- name: silver_orders"),
        None,
    ),
    "source.freshness": (
        [(BRONZE_YML, "    freshness:\n      warn_after: {count: 24, period: hour}\n", "")],
        (BRONZE_YML, "- name: customers"),
        None,
    ),
    "source.loader": (
        [(BRONZE_YML, "    loader: fivetran\n", "")],
        (BRONZE_YML, "- name: customers"),
        None,
    ),
    "source.description": (
        [(BRONZE_YML, "        description: One row per CRM customer.\n", "")],
        (BRONZE_YML, "- name: customers"),
        None,
    ),
    "sql.select_star": (
        [(SILVER_SQL, "    lower(email) as email", "    *")],
        (SILVER_SQL, "    *"),
        None,
    ),
    "sql.hardcoded_relation": (
        [("models/silver/silver_orders.sql", "{{ ref('bronze_orders') }}", "raw.orders")],
        ("models/silver/silver_orders.sql", "raw.orders"),
        None,
    ),
    "sql.cartesian_join": (
        [
            (
                GOLD_SQL,
                "left join orders as o on o.customer_id = c.customer_id",
                "cross join orders as o",
            )
        ],
        (GOLD_SQL, "cross join"),
        None,
    ),
}
# Rules whose failing fixture needs files moved or created (tests below).
FILE_CASES = {"structure.layer_folder", "structure.file_name", "structure.properties_file"}


def _evaluate(root: Path, rules: dict[str, Any] | None = None) -> Any:
    return evaluate(read_project(root), catalogue_tree(rules))


def test_every_catalogue_rule_has_a_failing_fixture() -> None:
    assert set(CASES) | FILE_CASES == RULE_IDS


def test_the_clean_fixture_passes_every_catalogue_rule(tmp_path: Path) -> None:
    result = _evaluate(catalogue_project(tmp_path))
    fired = [f for f in result.findings if f.rule_id in RULE_IDS]
    assert fired == []
    names = [check.name for check in result.checks]
    assert "Model contracts" in names and "SQL" in names


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_at_file_line(tmp_path: Path, rule_id: str) -> None:
    edits, (file, needle), rules = CASES[rule_id]
    root = catalogue_project(tmp_path)
    if rules is not None:  # the override alone must not fire on the clean fixture... unless
        clean = _evaluate(root, rules)  # the rule is a pure threshold (fanout max 0)
        assert rule_id == "lineage.fanout" or rule_id not in clean.rule_ids()
    for rel, old, new in edits:
        edit(root, rel, old, new)
    result = _evaluate(root, rules)
    hits = [f for f in result.findings if f.rule_id == rule_id]
    assert hits, sorted(result.rule_ids())
    assert (file, line_of(root, file, needle)) in {(f.file, f.line) for f in hits}
    assert all(f.severity == "error" for f in hits)
    assert result.blocking


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_off_or_warn_is_honoured(tmp_path: Path, rule_id: str) -> None:
    from floe.platform.rule_families import SECTIONS
    from floe.rules.catalogue import BY_ID

    edits, _, rules = CASES[rule_id]
    root = catalogue_project(tmp_path)
    for rel, old, new in edits:
        edit(root, rel, old, new)
    info = BY_ID[rule_id]
    section = next(s for s, (field, _) in SECTIONS.items() if field == info.family)
    base = dict(rules or {"preset": "medallion-strict", **STRICT_EXTRAS})
    for level, expected in (("warn", {"warning"}), ("off", set())):
        override = {**base, section: {**base.get(section, {}), info.key: {"severity": level}}}
        if rule_id == "lineage.fanout":
            override[section] = {info.key: {"severity": level, "max": 0}}
        if rule_id == "lineage.chained_views":
            override[section] = {info.key: {"severity": level, "max": 1}}
        found = _evaluate(root, override)
        assert {f.severity for f in found.findings if f.rule_id == rule_id} == expected


def test_layer_folder_points_at_the_moved_file(tmp_path: Path) -> None:
    root = catalogue_project(tmp_path)
    (root / "models/silver/silver_orders.sql").rename(root / "models/silver_orders.sql")
    result = _evaluate(root)
    hits = [(f.file, f.line) for f in result.findings if f.rule_id == "structure.layer_folder"]
    assert hits == [("models/silver_orders.sql", 1)]


def test_properties_file_outside_the_models_folder(tmp_path: Path) -> None:
    root = catalogue_project(tmp_path)
    text = (root / SILVER_YML).read_text()
    start = text.index("  - name: silver_orders")
    (root / SILVER_YML).write_text(text[:start])
    (root / "models/silver/_orders.yml").write_text("version: 2\n\nmodels:\n" + text[start:])
    result = _evaluate(root)
    hits = [(f.file, f.line) for f in result.findings if f.rule_id == "structure.properties_file"]
    assert hits == [("models/silver/_orders.yml", 4)]  # _silver.yml came first
    assert result.blocking
