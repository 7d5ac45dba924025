"""Access control (roles, privileges, namespace grants) and approved namespaces."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import FIXTURES, at, edit, enforce, line_of, only, shop_project, where

GOLD = "models/gold/schema.yml"


def test_passing_fixture_grants_and_namespaces() -> None:
    result = enforce(FIXTURES / "shop")
    assert not [f for f in result.findings if f.rule_id.startswith(("access.", "namespace."))]


def test_unknown_role(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "select: ['analyst']", "select: ['marketing']")
    (finding,) = only(enforce(root), "access.unknown_role")
    assert where(finding) == at(root, GOLD, "- name: gold_customers", "gold_customers")
    assert "role 'marketing'" in finding.message


def test_privilege_not_allowed_for_role(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "select: ['analyst']", "insert: ['analyst']")
    (finding,) = only(enforce(root), "access.privilege_not_allowed")
    assert finding.message == (
        "model gold_customers grants insert to analyst, but analyst may only hold select"
    )


def test_namespace_grants_restrict_model_grants(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, GOLD, "select: ['analyst']", "update: ['data_engineer']")
    (finding,) = only(enforce(root), "access.namespace_grant")
    assert "namespace gold does not allow (select, insert)" in finding.message


def test_sql_config_grants_and_admin_all(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    sql = root / "models/bronze/bronze_customers.sql"
    sql.write_text("{{ config(grants={'select': ['admin', 'nobody']}) }}\n" + sql.read_text())
    findings = enforce(root).findings
    # admin may hold `all`, but the bronze namespace grants nothing to admin.
    assert [(f.rule_id, f.message.split(" grants ")[1]) for f in findings] == [
        (
            "access.namespace_grant",
            "select to admin, which namespace bronze does not allow (no privileges for this role)",
        ),
        (
            "access.unknown_role",
            "select to role 'nobody', which the platform does not define "
            "(roles: data_engineer, analyst, admin)",
        ),
    ]


def test_unapproved_namespace_and_unset_schema(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "dbt_project.yml", "      +schema: silver\n", "      +schema: scratch\n")
    edit(root, "dbt_project.yml", "      +schema: bronze\n", "")
    result = enforce(root)
    (finding,) = only(result, "namespace.not_approved")
    assert (finding.model, finding.file, finding.line) == (
        "silver_customers",
        "models/silver/schema.yml",
        line_of(root, "models/silver/schema.yml", "- name: silver_customers"),
    )
    (unset,) = only(result, "namespace.unset")
    assert unset.severity == "info" and unset.model == "bronze_customers"
