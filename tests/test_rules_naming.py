"""Naming conventions: prefixes per layer, strict/warn/off, kimball, custom regex."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import FIXTURES, enforce, make_tree, only, shop_project

from floe.tree.model import NamingRules


def _rename(root: Path, old: str, new: str) -> None:
    folder = {"bronze": "bronze", "silver": "silver", "gold": "gold"}[old.split("_")[0]]
    sql = root / "models" / folder / f"{old}.sql"
    sql.rename(sql.with_name(f"{new}.sql"))
    schema = root / "models" / folder / "schema.yml"
    schema.write_text(schema.read_text().replace(f"name: {old}", f"name: {new}"))


def test_passing_fixture_has_no_naming_findings() -> None:
    result = enforce(FIXTURES / "shop")
    assert not [f for f in result.findings if f.rule_id.startswith("naming.")]
    assert result.checks[0].name == "Naming conventions" and result.checks[0].passed


def test_model_in_layer_folder_without_prefix_fails_at_sql_line_1(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    _rename(root, "silver_customers", "customers")
    (finding,) = only(enforce(root), "naming.prefix")
    assert finding.severity == "error"
    assert (finding.file, finding.line, finding.model) == (
        "models/silver/customers.sql",
        1,
        "customers",
    )
    assert "lacks the prefix silver_" in finding.message
    assert finding.hint == "rename models/silver/customers.sql to silver_customers.sql"


def test_wrong_layer_prefix_is_renamed_in_the_hint(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    _rename(root, "silver_customers", "gold_customers_v2")
    (finding,) = only(enforce(root), "naming.prefix")
    assert finding.hint.endswith("to silver_customers_v2.sql")


def test_warn_enforcement_gives_warnings_and_off_gives_nothing(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    _rename(root, "bronze_customers", "customers_raw")
    warn = make_tree(naming_rules=NamingRules(pattern="medallion", enforcement="warn"))
    (finding,) = only(enforce(root, warn), "naming.prefix")
    assert finding.severity == "warning"
    off = make_tree(naming_rules=NamingRules(pattern="medallion", enforcement="off"))
    assert not only(enforce(root, off), "naming.prefix")


def test_meta_layer_unknown_to_the_platform(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    text = (root / "models/bronze/schema.yml").read_text()
    (root / "models/bronze/schema.yml").write_text(
        text.replace(
            "    description: Customers, typed.\n",
            "    description: Customers, typed.\n    config:\n      meta: {layer: platinum}\n",
        )
    )
    (finding,) = only(enforce(root), "naming.unknown_layer")
    assert (finding.file, finding.line) == ("models/bronze/schema.yml", 4)


def test_kimball_default_prefixes(tmp_path: Path) -> None:
    root = tmp_path / "k"
    (root / "models" / "marts").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: k\n")
    (root / "models" / "marts" / "dim_customer.sql").write_text("select 1 as id\n")
    (root / "models" / "marts" / "customer_facts.sql").write_text("select 1 as id\n")
    tree = make_tree(naming_rules=NamingRules(pattern="kimball", enforcement="strict"))
    findings = only(enforce(root, tree), "naming.prefix")
    assert [f.model for f in findings] == ["customer_facts"]
    assert "no layer and no layer prefix" in findings[0].message


def test_custom_regex_checks_every_model(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    tree = make_tree(
        naming_rules=NamingRules(
            pattern="custom", enforcement="strict", custom_regex="^(bronze|silver)_[a-z_]+$"
        )
    )
    findings = only(enforce(root, tree), "naming.custom_regex")
    assert [(f.model, f.file, f.line) for f in findings] == [
        ("gold_customers", "models/gold/gold_customers.sql", 1)
    ]
    assert not only(enforce(root, tree), "naming.prefix")  # custom without prefixes


def test_unsafe_custom_regex_is_not_run(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    tree = make_tree(
        naming_rules=NamingRules(pattern="custom", enforcement="strict", custom_regex="(a+)+$")
    )
    result = enforce(root, tree)
    (finding,) = only(result, "naming.regex_unsafe")
    assert finding.file is None and "nested quantifier" in finding.message
    assert not only(result, "naming.custom_regex")
