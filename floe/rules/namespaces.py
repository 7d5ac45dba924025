"""Namespaces: each model's schema is one the catalog approves.

Approved names match exactly; an entry with `*` is a glob (`sandbox_*`). A model with
no configured schema lands in the target's default schema; that is reported as
`namespace.unset` (info), not as a violation.

When dbt parsed the project (floe run, compile --parse, a manifest), the schema that
counts is the one dbt resolved through `generate_schema_name`: approved as is, or as
`<target schema>_<approved>` (dbt's default macro). A custom macro that routes a model
anywhere else is caught here, whatever the configured `schema` says. Ephemeral models
are not built and have no schema.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from floe.rules.context import Context
from floe.rules.model import Finding, Model


def check(ctx: Context) -> list[Finding]:
    approved = ctx.platform.namespaces.namespaces
    exact = set(approved)
    globs = [name for name in approved if "*" in name]

    def ok(schema: str) -> bool:
        return schema in exact or any(fnmatchcase(schema, g) for g in globs)

    findings: list[Finding] = []
    listed = ", ".join(approved) or "none"
    target = ctx.project.target_schema
    for model in ctx.models:
        if model.materialized == "ephemeral":
            continue
        if model.resolved_schema is not None:
            finding = _resolved(ctx, model, ok, target, listed)
            if finding is not None:
                findings.append(finding)
            continue
        schema = model.schema
        if schema is None:
            findings.append(_unset(ctx, model, listed))
        elif not ok(schema):
            findings.append(_not_approved(ctx, model, schema, listed, ""))
    return findings


def _resolved(
    ctx: Context, model: Model, ok: object, target: str | None, listed: str
) -> Finding | None:
    assert callable(ok)
    built = model.resolved_schema or ""
    if ok(built):
        return None
    if target is not None:
        if built == target and model.schema is None:
            return _unset(ctx, model, listed)
        custom = built[len(target) + 1 :] if built.startswith(target + "_") else None
        if custom is not None and ok(custom):
            return None
    elif model.schema is not None and ok(model.schema) and built.endswith("_" + model.schema):
        return None  # the target schema is unknown: <anything>_<approved> as dbt's default
    elif model.schema is None:
        return _unset(ctx, model, listed)
    why = f" (dbt resolved it; the configured schema is {model.schema or 'unset'})"
    return _not_approved(ctx, model, built, listed, why)


def _unset(ctx: Context, model: Model, listed: str) -> Finding:
    return ctx.finding(
        "namespace.unset",
        "info",
        model,
        f"model {model.name} sets no schema; it lands in the target's default schema",
        f"set `+schema:` for its folder in dbt_project.yml (approved: {listed})",
    )


def _not_approved(ctx: Context, model: Model, schema: str, listed: str, why: str) -> Finding:
    kind = "snapshot" if model.resource_type == "snapshot" else "model"
    return ctx.finding(
        "namespace.not_approved",
        "error",
        model,
        f"{kind} {model.name} writes to schema {schema}{why}, which is not an approved "
        f"namespace ({listed})",
        f"set the schema of {model.name} to one of {listed} ({ctx.where(model)})",
    )
