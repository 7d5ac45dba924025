"""The PostgreSQL compute plugin: a dbt-postgres profile, then real grants, verified.

DuckDB has no grants, so there floe can only check the YAML `grants:` a project
declares. On PostgreSQL the platform's access control becomes real: after dbt built,
floe applies the platform's grants (catalog namespaces -> role -> privileges) as
`GRANT` statements on the schemas and relations dbt built, creating the roles when the
platform says so (`create_roles: true`), and then reads the catalog back and compares:

- `warehouse.grant_extra`: a role holds a privilege the platform does not allow there
  (someone granted it by hand);
- `warehouse.grant_missing`: an allowed privilege did not take;
- `warehouse.public_grant`: any privilege granted to PUBLIC;
- `warehouse.schema_unapproved`: dbt built into a schema that is not an approved namespace;
- `warehouse.classified_column`: a column classified at a level whose rule forbids the
  schema it now lives in;
- `warehouse.column_type`: a contracted model's column type differs from its declaration.

The password is never written to profiles.yml: it is `{{ env_var(...) }}` there, and
floe's own connection reads the same environment variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from floe.errors import UsageError
from floe.tree.model import PlatformTree

POSTGRES_KEYS = (
    "host",
    "port",
    "user",
    "password",
    "dbname",
    "schema",
    "threads",
    "sslmode",
    "connect_timeout",
    "search_path",
    "role",
    "create_roles",
)
DEFAULT_PASSWORD_ENV = "FLOE_POSTGRES_PASSWORD"
DEFAULT_PORT = 5432
TABLE_PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger")
SCHEMA_PRIVILEGES = ("create",)  # usage is granted with any privilege on the schema
_ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def _env_var(name: str, default: str | None = None) -> str:
    if default is None:
        return "{{ env_var('" + name + "') }}"
    return "{{ env_var('" + name + "', '" + default + "') }}"


def _password_env(config: dict[str, Any]) -> str:
    """The environment variable that holds the password: `${env:NAME}` only, never a value."""
    value = config.get("password")
    if value is None:
        return DEFAULT_PASSWORD_ENV
    match = _ENV_REF.match(str(value))
    if match is None:
        raise UsageError(
            "profile_invalid",
            "plugins.compute.config.password must be an environment reference "
            "like ${env:PGPASSWORD}; a literal password is never written",
            hint="ask the platform team to set password: ${env:NAME}",
        )
    return match.group(1)


def _rendered(value: Any) -> Any:
    if isinstance(value, str) and (match := _ENV_REF.match(value)):
        return _env_var(match.group(1))
    return value


def profile_output(config: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    """The dbt-postgres output for floe's target (keys sorted by the YAML writer)."""
    for key in ("host", "user", "dbname", "schema"):
        if not config.get(key):
            raise UsageError(
                "profile_invalid",
                f"the postgres compute plugin needs config.{key}",
                hint=f"ask the platform team to set plugins.compute.config.{key}",
            )
    output: dict[str, Any] = {"type": "postgres", "port": DEFAULT_PORT, "threads": 4}
    for key in ("host", "port", "user", "dbname", "schema", "threads", "sslmode"):
        if key in config:
            output[key] = _rendered(config[key])
    for key in ("connect_timeout", "search_path", "role"):
        if key in config:
            output[key] = _rendered(config[key])
    output["password"] = _env_var(_password_env(config), "")
    ignored = sorted(set(config) - set(POSTGRES_KEYS))
    if ignored:
        notes.append(f"compute config keys not used by dbt-postgres: {', '.join(ignored)}")
    return output


# ---- the warehouse stage -------------------------------------------------------------


@dataclass(frozen=True)
class Relation:
    """One relation dbt built, as its manifest node says."""

    node: str  # unique_id
    schema: str
    name: str
    kind: str  # model | seed | snapshot
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {level, type}
    contracted: bool = False


@dataclass(frozen=True)
class WarehouseFinding:
    rule: str
    relation: str  # schema.name or schema
    message: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "relation": self.relation, "message": self.message}


@dataclass
class WarehouseReport:
    applied: list[str] = field(default_factory=list)  # the GRANT statements run
    findings: list[WarehouseFinding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "verified" if self.ok else "drift",
            "applied": list(self.applied),
            "findings": [f.to_json() for f in self.findings],
        }


def relations_from_manifest(manifest: dict[str, Any]) -> list[Relation]:
    """Every non-ephemeral model, seed and snapshot of a parsed dbt manifest."""
    out: list[Relation] = []
    for unique_id, node in sorted((manifest.get("nodes") or {}).items()):
        if not isinstance(node, dict) or node.get("resource_type") not in (
            "model",
            "seed",
            "snapshot",
        ):
            continue
        config = node.get("config") or {}
        if config.get("materialized") == "ephemeral":
            continue
        columns = {
            str(name).lower(): {
                "level": (col.get("meta") or {}).get("classification"),
                "type": col.get("data_type"),
            }
            for name, col in (node.get("columns") or {}).items()
            if isinstance(col, dict)
        }
        contract = config.get("contract") or {}
        out.append(
            Relation(
                node=unique_id,
                schema=str(node.get("schema")),
                name=str(node.get("alias") or node.get("name")),
                kind=str(node["resource_type"]),
                columns=columns,
                contracted=bool(contract.get("enforced")),
            )
        )
    return out


def expected_grants(tree: PlatformTree) -> dict[str, dict[str, set[str]]]:
    """schema -> role -> privileges the platform allows (namespace grants within role perms)."""
    permissions = {r: {p.lower() for p in ps} for r, ps in tree.access_control.permissions.items()}
    out: dict[str, dict[str, set[str]]] = {}
    for schema, roles in tree.namespaces.grants.items():
        for role, privileges in roles.items():
            allowed = {p.lower() for p in privileges}
            if role in permissions:
                allowed &= permissions[role]
            out.setdefault(schema, {})[role] = allowed
    return out


def _ident(name: str, what: str) -> str:
    if not _IDENT.match(name):
        raise UsageError(
            "profile_invalid",
            f"{what} {name!r} is not a plain PostgreSQL identifier; floe quotes nothing exotic",
        )
    return '"' + name + '"'


def grant_statements(
    tree: PlatformTree, relations: Iterable[Relation], create_roles: bool
) -> list[str]:
    """The GRANTs that make the warehouse match the platform (deterministic order)."""
    grants = expected_grants(tree)
    built: dict[str, list[Relation]] = {}
    for relation in relations:
        built.setdefault(relation.schema, []).append(relation)
    statements = role_statements(tree) if create_roles else []
    for schema in sorted(set(built) & set(grants)):
        for role, privileges in sorted(grants[schema].items()):
            statements += _grants_for(schema, sorted(built[schema], key=_key), role, privileges)
    return statements


def role_statements(tree: PlatformTree) -> list[str]:
    """CREATE ROLE (when missing) for every role the platform grants or defines."""
    roles = set(tree.access_control.roles)
    roles |= {role for by_role in expected_grants(tree).values() for role in by_role}
    return [_create_role(role) for role in sorted(roles)]


def _key(relation: Relation) -> str:
    return relation.name


def _create_role(role: str) -> str:
    quoted = _ident(role, "role")
    literal = role.replace("'", "''")
    return (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{literal}') "
        f"THEN CREATE ROLE {quoted} NOLOGIN; END IF; END $$"
    )


def _grants_for(
    schema: str, relations: list[Relation], role: str, privileges: set[str]
) -> list[str]:
    quoted_schema, quoted_role = _ident(schema, "schema"), _ident(role, "role")
    out = [f"GRANT USAGE ON SCHEMA {quoted_schema} TO {quoted_role}"]
    out += [
        f"GRANT {p.upper()} ON SCHEMA {quoted_schema} TO {quoted_role}"
        for p in SCHEMA_PRIVILEGES
        if p in privileges
    ]
    table = [p.upper() for p in TABLE_PRIVILEGES if p in privileges]
    if table:
        for relation in relations:
            name = f"{quoted_schema}.{_ident(relation.name, 'relation')}"
            out.append(f"GRANT {', '.join(table)} ON {name} TO {quoted_role}")
    return out


def connect_kwargs(config: dict[str, Any]) -> dict[str, Any]:
    """psycopg2 connection arguments from the plugin config and the environment."""

    def value(key: str) -> Any:
        raw = config.get(key)
        if isinstance(raw, str) and (match := _ENV_REF.match(raw)):
            return os.environ.get(match.group(1))
        return raw

    return {
        "host": value("host"),
        "port": int(value("port") or DEFAULT_PORT),
        "user": value("user"),
        "dbname": value("dbname"),
        "password": os.environ.get(_password_env(config), ""),
        "connect_timeout": int(value("connect_timeout") or 10),
    }
