"""The `floe run` stage after the build on a server warehouse: apply grants, then verify.

Only the PostgreSQL compute plugin has this stage (DuckDB has no grants). The stage
reads the relations dbt built from `target/manifest.json` (written by that same build),
applies the platform's grants in one transaction, then reads the catalog back
(`pg_class.relacl`, `pg_namespace.nspacl`, `information_schema.columns`) and compares it
with the platform's rules; see floe.project.plugins.postgres for the finding ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from floe.errors import GateError, UsageError
from floe.project.plugins.postgres import (
    SCHEMA_PRIVILEGES,
    TABLE_PRIVILEGES,
    Relation,
    WarehouseFinding,
    WarehouseReport,
    connect_kwargs,
    expected_grants,
    grant_statements,
    relations_from_manifest,
    role_statements,
)
from floe.tree.model import PlatformTree

MAX_MANIFEST_BYTES = 512 * 1024 * 1024
_TABLE_ACL = """
SELECT n.nspname, c.relname, COALESCE(r.rolname, 'PUBLIC'), lower(a.privilege_type)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
  AND a.grantee <> c.relowner
"""
_SCHEMA_ACL = """
SELECT n.nspname, COALESCE(r.rolname, 'PUBLIC'), lower(a.privilege_type)
FROM pg_namespace n
CROSS JOIN LATERAL aclexplode(n.nspacl) a
LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE n.nspname = ANY(%s) AND a.grantee <> n.nspowner
"""
_COLUMNS = """
SELECT table_schema, table_name, lower(column_name), lower(data_type)
FROM information_schema.columns WHERE table_schema = ANY(%s)
"""
# information_schema spellings of common declared types.
_TYPE_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "varchar": "character varying",
    "char": "character",
    "bool": "boolean",
    "float8": "double precision",
    "float4": "real",
    "float": "double precision",
    "decimal": "numeric",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "string": "text",
}


def compute_config(tree: PlatformTree) -> tuple[str | None, dict[str, Any]]:
    detail = tree.manifest.plugin_details.get("compute")
    kind = detail.type if detail is not None else tree.manifest.plugins.get("compute")
    return kind, dict(detail.config) if detail is not None else {}


def before_build(tree: PlatformTree) -> list[str]:
    """Create the platform's roles first when it says so: dbt's own `grants:` need them."""
    kind, config = compute_config(tree)
    if kind != "postgres" or not config.get("create_roles"):
        return []
    statements = role_statements(tree)
    _execute(config, statements, WarehouseReport())
    return statements


def after_build(tree: PlatformTree, target_dir: Path) -> WarehouseReport | None:
    """Apply and verify grants when the platform's compute is PostgreSQL; else None."""
    kind, config = compute_config(tree)
    if kind != "postgres":
        return None
    relations = relations_from_manifest(_read_manifest(target_dir / "manifest.json"))
    return enforce(tree, config, relations)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise UsageError("warehouse_error", f"{path} is larger than 512 MiB")
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(
            "warehouse_error",
            f"cannot read the manifest dbt wrote ({path}): {exc}",
            hint="the build must finish before grants are applied; re-run `floe run`",
        ) from None
    if not isinstance(data, dict):
        raise UsageError("warehouse_error", f"{path} is not a dbt manifest")
    return data


def enforce(
    tree: PlatformTree, config: dict[str, Any], relations: list[Relation]
) -> WarehouseReport:
    """Grant what the platform allows on what dbt built, then compare the catalog to it."""
    report = WarehouseReport()
    statements = grant_statements(tree, relations, bool(config.get("create_roles")))
    _execute(config, statements, report, lambda cursor: verify(cursor, tree, relations))
    return report


def _execute(
    config: dict[str, Any],
    statements: list[str],
    report: WarehouseReport,
    then: Callable[[Any], list[WarehouseFinding]] | None = None,
) -> None:
    """Run the statements in one transaction, then (in another) the verification."""
    psycopg2 = _driver()
    try:
        connection = psycopg2.connect(**connect_kwargs(config))
    except psycopg2.Error as exc:
        raise UsageError(
            "warehouse_unreachable",
            f"cannot connect to PostgreSQL at {config.get('host')}:{config.get('port')}: "
            f"{_first_line(exc)}",
            hint="check the compute plugin's host/port/user and the password variable",
        ) from None
    try:
        with connection, connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                report.applied.append(statement)
        if then is not None:
            with connection, connection.cursor() as cursor:
                report.findings.extend(then(cursor))
    except psycopg2.Error as exc:
        raise GateError(
            "warehouse_grant_failed",
            f"PostgreSQL refused a grant or a catalog read: {_first_line(exc)}",
            hint="the dbt user must own the relations it built (and hold CREATEROLE "
            "when create_roles is set)",
        ) from None
    finally:
        connection.close()


def _driver() -> Any:
    try:
        import psycopg2
    except ImportError:
        raise UsageError(
            "plugin_not_installed",
            "the postgres compute plugin needs psycopg2 (installed with dbt-postgres)",
            hint="pip install 'floe[postgres]'",
        ) from None
    return psycopg2


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def verify(cursor: Any, tree: PlatformTree, relations: list[Relation]) -> list[WarehouseFinding]:
    schemas = sorted({r.schema for r in relations})
    findings = _unapproved(tree, schemas)
    cursor.execute(_TABLE_ACL, (schemas,))
    table_acl = {(s, t, role, p) for s, t, role, p in cursor.fetchall()}
    cursor.execute(_SCHEMA_ACL, (schemas,))
    schema_acl = {(s, role, p) for s, role, p in cursor.fetchall()}
    cursor.execute(_COLUMNS, (schemas,))
    columns = {(s, t, c): dtype for s, t, c, dtype in cursor.fetchall()}
    findings += _table_grants(tree, relations, table_acl)
    findings += _schema_grants(tree, schemas, schema_acl)
    findings += _classified(tree, relations, columns)
    findings += _column_types(relations, columns)
    return sorted(findings, key=lambda f: (f.rule, f.relation, f.message))


def _unapproved(tree: PlatformTree, schemas: list[str]) -> list[WarehouseFinding]:
    approved = set(tree.namespaces.namespaces)
    return [
        WarehouseFinding(
            "warehouse.schema_unapproved",
            schema,
            f"dbt built into schema {schema}, which is not an approved namespace "
            f"({', '.join(sorted(approved))})",
        )
        for schema in schemas
        if schema not in approved
    ]


def _table_grants(
    tree: PlatformTree, relations: list[Relation], acl: set[tuple[str, str, str, str]]
) -> list[WarehouseFinding]:
    grants = expected_grants(tree)
    findings: list[WarehouseFinding] = []
    built = {(r.schema, r.name) for r in relations}
    for schema, table, role, privilege in sorted(acl):
        if (schema, table) not in built:
            continue
        where = f"{schema}.{table}"
        if role == "PUBLIC":
            findings.append(_public(where, privilege))
        elif privilege not in grants.get(schema, {}).get(role, set()):
            findings.append(_extra(where, role, privilege))
    for schema, table in sorted(built):
        for role, privileges in sorted(grants.get(schema, {}).items()):
            for privilege in sorted(privileges & set(TABLE_PRIVILEGES)):
                if (schema, table, role, privilege) not in acl:
                    findings.append(_missing(f"{schema}.{table}", role, privilege))
    return findings


def _schema_grants(
    tree: PlatformTree, schemas: list[str], acl: set[tuple[str, str, str]]
) -> list[WarehouseFinding]:
    grants = expected_grants(tree)
    findings: list[WarehouseFinding] = []
    for schema, role, privilege in sorted(acl):
        allowed = grants.get(schema, {}).get(role)
        if role == "PUBLIC":
            findings.append(_public(schema, privilege))
        elif allowed is None or (privilege != "usage" and privilege not in allowed):
            findings.append(_extra(schema, role, privilege))
    for schema in schemas:
        for role, privileges in sorted(grants.get(schema, {}).items()):
            for privilege in ["usage", *sorted(privileges & set(SCHEMA_PRIVILEGES))]:
                if (schema, role, privilege) not in acl:
                    findings.append(_missing(schema, role, privilege))
    return findings


def _public(where: str, privilege: str) -> WarehouseFinding:
    return WarehouseFinding(
        "warehouse.public_grant",
        where,
        f"PUBLIC holds {privilege.upper()} on {where}; the platform grants nothing to PUBLIC",
    )


def _extra(where: str, role: str, privilege: str) -> WarehouseFinding:
    target = where if "." in where else f"SCHEMA {where}"
    return WarehouseFinding(
        "warehouse.grant_extra",
        where,
        f"role {role} holds {privilege.upper()} on {where}, which the platform does not "
        f"allow there (granted outside floe?); revoke it: REVOKE {privilege.upper()} ON "
        f"{target} FROM {role}",
    )


def _missing(where: str, role: str, privilege: str) -> WarehouseFinding:
    return WarehouseFinding(
        "warehouse.grant_missing",
        where,
        f"role {role} lacks {privilege.upper()} on {where}, which the platform grants",
    )


def _classified(
    tree: PlatformTree, relations: list[Relation], columns: dict[tuple[str, str, str], str]
) -> list[WarehouseFinding]:
    rules = tree.classification.rules
    findings: list[WarehouseFinding] = []
    for relation in relations:
        for name, declared in sorted(relation.columns.items()):
            level = declared.get("level")
            rule = rules.get(str(level)) if level else None
            if rule is None or (relation.schema, relation.name, name) not in columns:
                continue
            if relation.schema in rule.forbidden_namespaces:
                findings.append(
                    WarehouseFinding(
                        "warehouse.classified_column",
                        f"{relation.schema}.{relation.name}",
                        f"column {name} is classified {level}, which the platform forbids in "
                        f"schema {relation.schema}",
                    )
                )
    return findings


def normalize_type(data_type: str) -> str:
    base = data_type.strip().lower().split("(")[0].strip()
    return _TYPE_ALIASES.get(base, base)


def _column_types(
    relations: list[Relation], columns: dict[tuple[str, str, str], str]
) -> list[WarehouseFinding]:
    findings: list[WarehouseFinding] = []
    for relation in relations:
        if not relation.contracted:
            continue
        for name, declared in sorted(relation.columns.items()):
            wanted, actual = (
                declared.get("type"),
                columns.get((relation.schema, relation.name, name)),
            )
            if not wanted or actual is None:
                continue
            if normalize_type(str(wanted)) != normalize_type(actual):
                findings.append(
                    WarehouseFinding(
                        "warehouse.column_type",
                        f"{relation.schema}.{relation.name}",
                        f"column {name} is {actual} in the warehouse; the contract declares "
                        f"{wanted}",
                    )
                )
    return findings
