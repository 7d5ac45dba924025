"""Namespaces: each model's schema is one the catalog approves.

Approved names match exactly; an entry with `*` is a glob (`sandbox_*`). A model with
no configured schema lands in the target's default schema; that is reported as
`namespace.unset` (info), not as a violation.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from floe.rules.context import Context
from floe.rules.model import Finding


def check(ctx: Context) -> list[Finding]:
    approved = ctx.platform.namespaces.namespaces
    exact = set(approved)
    globs = [name for name in approved if "*" in name]
    findings: list[Finding] = []
    listed = ", ".join(approved) or "none"
    for model in ctx.models:
        schema = model.schema
        if schema is None:
            findings.append(
                ctx.finding(
                    "namespace.unset",
                    "info",
                    model,
                    f"model {model.name} sets no schema; it lands in the target's default schema",
                    f"set `+schema:` for its folder in dbt_project.yml (approved: {listed})",
                )
            )
        elif schema not in exact and not any(fnmatchcase(schema, g) for g in globs):
            findings.append(
                ctx.finding(
                    "namespace.not_approved",
                    "error",
                    model,
                    f"model {model.name} writes to schema {schema}, which is not an approved "
                    f"namespace ({listed})",
                    f"set the schema of {model.name} to one of {listed} ({ctx.where(model)})",
                )
            )
    return findings
