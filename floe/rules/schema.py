"""Schema constraints from the catalog's schema registry.

- `schema.column_description`: every column is described (require_column_descriptions).
- `schema.column_data_type`: every column declares data_type (require_column_data_types).
- `schema.column_missing`: a declared column the model's SQL does not produce (only
  when floe traced every output column of the SQL; see floe/rules/lineage.py).
- `schema.column_name`: every column name fully matches column_name_pattern (checked
  for catastrophic backtracking first; an unsafe pattern is `schema.regex_unsafe`).
"""

from __future__ import annotations

from floe.rules.context import Context
from floe.rules.model import Finding, Model


def _missing(ctx: Context, model: Model) -> list[Finding]:
    """`schema.column_missing`: a declared column the model's SQL does not produce."""
    lineage = ctx.lineage.get(model.name)
    if model.resource_type != "model" or lineage is None or not lineage.complete:
        return []
    if lineage.error is not None or not lineage.columns:
        return []
    produced = {column.name.lower() for column in lineage.columns}
    return [
        ctx.finding(
            "schema.column_missing",
            "error",
            model,
            f"column {model.name}.{column.name} is declared but the model's SQL "
            f"({model.sql_file}) does not select it",
            f"select {column.name} in {model.sql_file}, or remove it from "
            f"{ctx.where(model, column.line)}",
            line=column.line,
        )
        for column in model.columns
        if column.name.lower() not in produced
    ]


def check(ctx: Context) -> list[Finding]:
    registry = ctx.platform.schema_registry
    pattern, findings = ctx.platform_regex(
        registry.column_name_pattern,
        "schema.regex_unsafe",
        "column name pattern",
        "ask the platform team to fix catalog column_name_pattern",
    )
    for model in ctx.models:
        findings.extend(_missing(ctx, model))
        for column in model.columns:
            if registry.require_column_descriptions and not column.description:
                findings.append(
                    ctx.finding(
                        "schema.column_description",
                        "error",
                        model,
                        f"column {model.name}.{column.name} has no description",
                        f"add `description:` to column {column.name} in "
                        f"{ctx.where(model, column.line)}",
                        line=column.line,
                    )
                )
            if registry.require_column_data_types and not column.data_type:
                findings.append(
                    ctx.finding(
                        "schema.column_data_type",
                        "error",
                        model,
                        f"column {model.name}.{column.name} declares no data_type",
                        f"add `data_type:` to column {column.name} in "
                        f"{ctx.where(model, column.line)}",
                        line=column.line,
                    )
                )
            if pattern is not None and not pattern.fullmatch(column.name):
                findings.append(
                    ctx.finding(
                        "schema.column_name",
                        "error",
                        model,
                        f"column name {model.name}.{column.name} does not match "
                        f"{registry.column_name_pattern}",
                        f"rename column {column.name} in {ctx.where(model, column.line)} "
                        "(and in the model's SQL)",
                        line=column.line,
                    )
                )
    return findings
