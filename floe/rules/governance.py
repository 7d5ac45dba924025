"""Model governance: access per layer, groups, public-model requirements, private refs
across groups, versions (latest_version, future deprecation dates, pinned refs)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model

DEFAULT_ACCESS = "protected"  # dbt's default


def check(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    versioned = {m.name for m in ctx.models if m.props.versioned}
    today = datetime.now(UTC).date()
    for model in ctx.models:
        findings.extend(_access(ctx, model))
        findings.extend(_group(ctx, model))
        findings.extend(_public(ctx, model))
        findings.extend(_private_refs(ctx, model))
        findings.extend(_versions(ctx, model, versioned, today))
    return findings


def _access(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.model_governance.access
    level = severity(rule)
    layer = ctx.layer_of.get(model.name)
    if level is None or layer is None or layer not in rule.allowed:
        return []
    access = model.props.access or DEFAULT_ACCESS
    allowed = rule.allowed[layer]
    if access in allowed:
        return []
    how = "" if model.props.access else " (dbt's default)"
    return [
        ctx.finding(
            "governance.access",
            level,
            model,
            f"model {model.name} in layer {layer} has access {access}{how}; "
            f"allowed: {', '.join(allowed)}",
            f"set `access: {allowed[0]}` on model {model.name} in {ctx.where(model)}",
        )
    ]


def _group(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.model_governance.group_required
    level = severity(rule)
    if level is None or model.props.group:
        return []
    if rule.layers is not None and ctx.layer_of.get(model.name) not in rule.layers:
        return []
    return [
        ctx.finding(
            "governance.group_required",
            level,
            model,
            f"model {model.name} belongs to no group",
            f"add `group: <team>` to model {model.name} in {ctx.where(model)}",
        )
    ]


def _public(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.model_governance.public_models
    level = severity(rule)
    if level is None or model.props.access != "public":
        return []
    missing = []
    if rule.description and not model.description:
        missing.append("a description")
    if rule.owner and not model.meta.get("owner"):
        missing.append("an owner (meta.owner)")
    if rule.contract and not model.props.contract_enforced:
        missing.append("an enforced contract")
    if not missing:
        return []
    return [
        ctx.finding(
            "governance.public_model",
            level,
            model,
            f"public model {model.name} lacks {', '.join(missing)}",
            f"add {', '.join(missing)} to model {model.name} in {ctx.where(model)}",
        )
    ]


def _private_refs(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.model_governance.private_refs)
    if level is None:
        return []
    findings = []
    for name in model.refs:
        upstream = ctx.project.models.get(name)
        if upstream is None or upstream.props.access != "private":
            continue
        if upstream.props.group and upstream.props.group == model.props.group:
            continue
        findings.append(
            ctx.finding(
                "governance.private_ref",
                level,
                model,
                f"model {model.name} (group {model.props.group or 'none'}) refs private "
                f"model {name} of group {upstream.props.group or 'none'}",
                f"make {name} protected or public in {ctx.where(upstream)}, or move "
                f"{model.name} into group {upstream.props.group or '<its group>'}",
            )
        )
    return findings


def _versions(ctx: Context, model: Model, versioned: set[str], today: date) -> list[Finding]:
    rules = ctx.platform.model_governance
    props = model.props
    findings = []
    latest = severity(rules.latest_version)
    if latest and props.versioned and not props.latest_version:
        findings.append(
            ctx.finding(
                "governance.latest_version",
                latest,
                model,
                f"versioned model {model.name} does not set latest_version",
                f"add `latest_version: <N>` to model {model.name} in {ctx.where(model)}",
            )
        )
    deprecation = severity(rules.deprecation_date)
    if deprecation and props.deprecation_date:
        problem = _deprecation_problem(props.deprecation_date, today)
        if problem:
            findings.append(
                ctx.finding(
                    "governance.deprecation_date",
                    deprecation,
                    model,
                    f"model {model.name}: deprecation_date {props.deprecation_date} {problem}",
                    f"remove model {model.name}, or set a future `deprecation_date:` "
                    f"(YYYY-MM-DD) in {ctx.where(model)}",
                )
            )
    pins = severity(rules.version_pins)
    if pins:
        for name in sorted(set(model.refs) & versioned - set(props.pinned_refs)):
            findings.append(
                ctx.finding(
                    "governance.version_pin",
                    pins,
                    model,
                    f"model {model.name} refs versioned model {name} without a version",
                    f"write `ref('{name}', v=<N>)` in {model.sql_file or model.name}",
                    file=model.sql_file,
                    line=_line_of(model, name) if model.sql_file else None,
                )
            )
    return findings


def _deprecation_problem(value: str, today: date) -> str | None:
    try:
        when = date.fromisoformat(value[:10])
    except ValueError:
        return "is not a date (YYYY-MM-DD)"
    return f"is not in the future (today is {today.isoformat()})" if when <= today else None


def _line_of(model: Model, needle: str) -> int:
    """Line of the first mention of `needle` in the model's SQL (1 when not found)."""
    sql = model.props.sql or ""
    index = sql.find(needle)
    return model.props.sql_line + sql.count("\n", 0, index) if index >= 0 else 1
