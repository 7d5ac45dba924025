"""Model contracts: required per layer and access level, typed columns, key constraints,
declared columns equal to the SQL's output columns (from the sqlglot parse)."""

from __future__ import annotations

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model
from floe.rules.sql_scan import facts


def check(ctx: Context) -> list[Finding]:
    rules = ctx.platform.contracts
    findings: list[Finding] = []
    required = severity(rules.required)
    for model in ctx.models:
        props = model.props
        if required and not props.contract_enforced and _needs_contract(ctx, model):
            findings.append(
                ctx.finding(
                    "contract.required",
                    required,
                    model,
                    f"model {model.name} ({_why(ctx, model)}) does not enforce a contract",
                    f"add `config: {{contract: {{enforced: true}}}}` to model {model.name} "
                    f"in {ctx.where(model)}",
                )
            )
        if props.contract_enforced:
            findings.extend(_typed(ctx, model))
            findings.extend(_constraints(ctx, model))
            findings.extend(_columns_match(ctx, model))
    return findings


def _needs_contract(ctx: Context, model: Model) -> bool:
    rule = ctx.platform.contracts.required
    layer = ctx.layer_of.get(model.name)
    return (layer is not None and layer in rule.layers) or (
        (model.props.access or "protected") in rule.access
    )


def _why(ctx: Context, model: Model) -> str:
    layer = ctx.layer_of.get(model.name)
    if layer in ctx.platform.contracts.required.layers:
        return f"layer {layer}"
    return f"access {model.props.access or 'protected'}"


def _typed(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.contracts.data_types)
    if level is None:
        return []
    if not model.columns:
        return [
            ctx.finding(
                "contract.data_type",
                level,
                model,
                f"contracted model {model.name} declares no columns",
                f"list every column with its `data_type:` under model {model.name} "
                f"in {ctx.where(model)}",
            )
        ]
    return [
        ctx.finding(
            "contract.data_type",
            level,
            model,
            f"column {model.name}.{column.name} of a contracted model has no data_type",
            f"add `data_type:` to column {column.name} in {ctx.where(model, column.line)}",
            line=column.line,
        )
        for column in model.columns
        if not column.data_type
    ]


def _constraints(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.contracts.constraints
    level = severity(rule)
    if level is None:
        return []
    keys = [c for c in model.props.constraints if c.type == "primary_key"]
    if rule.primary_key and not keys:
        return [
            ctx.finding(
                "contract.constraint",
                level,
                model,
                f"contracted model {model.name} declares no primary_key constraint",
                f"add `constraints: [{{type: primary_key}}]` to the key column of model "
                f"{model.name} in {ctx.where(model)}",
            )
        ]
    if not rule.not_null_key:
        return []
    not_null = {col for c in model.props.constraints if c.type == "not_null" for col in c.columns}
    key_columns = sorted({col for c in keys for col in c.columns})
    by_name = {column.name: column for column in model.columns}
    findings: list[Finding] = []
    for name in key_columns:
        if name in not_null:
            continue
        line = by_name[name].line if name in by_name else model.line
        findings.append(
            ctx.finding(
                "contract.constraint",
                level,
                model,
                f"key column {model.name}.{name} has no not_null constraint",
                f"add `{{type: not_null}}` to the constraints of column {name} in "
                f"{ctx.where(model, line)}",
                line=line,
            )
        )
    return findings


def _columns_match(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.contracts.columns_match)
    if level is None or not model.props.sql:
        return []
    compute = ctx.platform.manifest.plugins.get("compute")
    found = facts(model.props.sql, compute, cache=ctx.lineage_cache)
    if found is None or found.columns is None:
        return []  # unparsable SQL or `*`: the output columns are not known here
    selected = {name.lower() for name in found.columns}
    declared = {column.name.lower() for column in model.columns}
    findings = [
        ctx.finding(
            "contract.columns_match",
            level,
            model,
            f"column {model.name}.{column.name} is declared but the SQL does not select it",
            f"select {column.name} in {model.sql_file or model.name}, or remove it from "
            f"{ctx.where(model, column.line)}",
            line=column.line,
        )
        for column in model.columns
        if column.name.lower() not in selected
    ]
    extra = [name for name in found.columns if name.lower() not in declared]
    if extra:
        findings.append(
            ctx.finding(
                "contract.columns_match",
                level,
                model,
                f"model {model.name} selects undeclared column(s) {', '.join(extra)}",
                f"declare {', '.join(extra)} (with data_type) under model {model.name} in "
                f"{ctx.where(model)}",
            )
        )
    return findings
