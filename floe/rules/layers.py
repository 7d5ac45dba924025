"""Layer constraints: every model of a layer carries the tests its layer requires.

Requirement names: `not_null_pk` / `unique_pk` (a not_null / unique test on the
primary key column, see `Context.primary_key`), `freshness` (a freshness config or a
recency test), `documentation` (model and every column described), or any test name
(`relationships`, `dbt_utils.accepted_range`, ...) found on the model or a column.
"""

from __future__ import annotations

from floe.rules.context import Context
from floe.rules.model import Finding


def check(ctx: Context) -> list[Finding]:
    constraints = ctx.platform.layer_constraints.layers
    findings: list[Finding] = []
    for model in ctx.models:
        layer = ctx.layer_of[model.name]
        constraint = constraints.get(layer) if layer else None
        if constraint is None:
            continue
        for required in constraint.required_tests:
            missing = ctx.missing(model, required)
            if missing is not None:
                findings.append(
                    ctx.finding(
                        "layer.required_test",
                        "error",
                        model,
                        f"{layer} layer requires {required}: {missing.message}",
                        missing.hint,
                        line=missing.line,
                    )
                )
    return findings
