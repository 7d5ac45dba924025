"""Access control: model grants name known roles with privileges those roles may hold.

Privileges compare case-insensitively, with synonyms: a role allowed `read` may be
granted `select`; `write` covers insert, update, delete and truncate; `all` (or
`admin`) covers everything. When the platform lists no permissions at all, only the
role names are checked; a role missing from a non-empty permission table may be
granted nothing. When the model's namespace has grants in the catalog, a model grant
must also be one of them (`access.namespace_grant`).
"""

from __future__ import annotations

from floe.rules.context import Context
from floe.rules.model import Finding, Model

_IMPLIED_BY = {
    "select": {"read"},
    "usage": {"read"},
    "insert": {"write"},
    "update": {"write"},
    "delete": {"write"},
    "truncate": {"write"},
    "read": {"select"},
}
_SUPER = {"all", "admin", "all privileges"}


def allows(allowed: list[str] | set[str], privilege: str) -> bool:
    have = {p.lower() for p in allowed}
    wanted = privilege.lower()
    return bool(wanted in have or have & _SUPER or have & _IMPLIED_BY.get(wanted, set()))


def check(ctx: Context) -> list[Finding]:
    policy = ctx.platform.access_control
    roles = set(policy.roles)
    ns_grants = ctx.platform.namespaces.grants
    findings: list[Finding] = []
    for model in ctx.models:
        for privilege in sorted(model.grants):
            for role in model.grants[privilege]:
                finding = _check_grant(ctx, model, privilege, role, roles)
                if finding is None and model.schema in ns_grants:
                    finding = _check_namespace(ctx, model, privilege, role)
                if finding is not None:
                    findings.append(finding)
    return findings


def _check_grant(
    ctx: Context, model: Model, privilege: str, role: str, roles: set[str]
) -> Finding | None:
    policy = ctx.platform.access_control
    if role not in roles:
        return ctx.finding(
            "access.unknown_role",
            "error",
            model,
            f"model {model.name} grants {privilege} to role {role!r}, which the platform "
            f"does not define (roles: {', '.join(policy.roles)})",
            f"grant to one of {', '.join(policy.roles)} in {ctx.where(model)}",
        )
    if policy.permissions and not allows(policy.permissions.get(role, []), privilege):
        allowed = ", ".join(policy.permissions.get(role, [])) or "nothing"
        return ctx.finding(
            "access.privilege_not_allowed",
            "error",
            model,
            f"model {model.name} grants {privilege} to {role}, but {role} may only hold {allowed}",
            f"remove the {privilege} grant for {role} in {ctx.where(model)}, or ask the "
            "platform team to extend its permissions",
        )
    return None


def _check_namespace(ctx: Context, model: Model, privilege: str, role: str) -> Finding | None:
    namespace = model.schema or ""
    allowed = ctx.platform.namespaces.grants[namespace].get(role, [])
    if allows(allowed, privilege):
        return None
    return ctx.finding(
        "access.namespace_grant",
        "error",
        model,
        f"model {model.name} grants {privilege} to {role}, which namespace {namespace} "
        f"does not allow ({', '.join(allowed) or 'no privileges for this role'})",
        f"remove the grant in {ctx.where(model)} or use a namespace that allows it",
    )
