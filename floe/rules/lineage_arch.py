"""Lineage architecture: allowed upstream layers, who reads source(), refs to deprecated
models, exposures on public models only, view-chain length and fan-out limits."""

from __future__ import annotations

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model


def check(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for model in ctx.models:
        findings.extend(_upstream(ctx, model))
        findings.extend(_sources(ctx, model))
        findings.extend(_deprecated(ctx, model))
    findings.extend(_exposures(ctx))
    findings.extend(_chains(ctx))
    findings.extend(_fanout(ctx))
    return findings


def _upstream(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.lineage.upstream_layers
    level = severity(rule)
    layer = ctx.layer_of.get(model.name)
    if level is None or layer is None or layer not in rule.allowed:
        return []
    allowed = rule.allowed[layer]
    findings = []
    for name in model.refs:
        if name not in ctx.project.models:
            continue  # a seed or a package model: no layer of this project
        upstream = ctx.layer_of.get(name)
        if upstream is None or upstream in allowed:
            continue
        findings.append(
            ctx.finding(
                "lineage.upstream_layer",
                level,
                model,
                f"{layer} model {model.name} refs {upstream} model {name}; {layer} may read "
                f"{', '.join(allowed) or 'no model'}",
                f"ref a model of layer {' or '.join(allowed) or '(none)'} instead of {name}",
                file=model.sql_file,
                line=_line_of(model, name) if model.sql_file else None,
            )
        )
    return findings


def _sources(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.lineage.source_layers
    level = severity(rule)
    layer = ctx.layer_of.get(model.name)
    if level is None or not model.sources or layer in rule.layers:
        return []
    first = model.sources[0]
    return [
        ctx.finding(
            "lineage.source_outside_layer",
            level,
            model,
            f"model {model.name} (layer {layer or 'none'}) reads source {', '.join(model.sources)}"
            f"; only {', '.join(rule.layers) or 'no layer'} may read sources",
            f"read {first} in a {' or '.join(rule.layers) or 'source'} model and ref() it",
            file=model.sql_file,
            line=_line_of(model, first.split(".")[-1]) if model.sql_file else None,
        )
    ]


def _deprecated(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.lineage.deprecated_refs)
    if level is None:
        return []
    findings = []
    for name in model.refs:
        upstream = ctx.project.models.get(name)
        if upstream is None or not upstream.props.deprecation_date:
            continue
        findings.append(
            ctx.finding(
                "lineage.deprecated_ref",
                level,
                model,
                f"model {model.name} refs {name}, deprecated on {upstream.props.deprecation_date}",
                f"ref the replacement of {name} in {model.sql_file or model.name}",
                file=model.sql_file,
                line=_line_of(model, name) if model.sql_file else None,
            )
        )
    return findings


def _exposures(ctx: Context) -> list[Finding]:
    level = severity(ctx.platform.lineage.exposures_public)
    if level is None:
        return []
    findings = []
    for exposure in ctx.project.exposures:
        for name in exposure.depends_on:
            model = ctx.project.models.get(name)
            if model is None or model.props.access == "public":
                continue
            findings.append(
                ctx.finding(
                    "lineage.exposure_not_public",
                    level,
                    None,
                    f"exposure {exposure.name} depends on {model.props.access or 'protected'} "
                    f"model {name}",
                    f"set `access: public` on model {name} in {ctx.where(model)}, or point "
                    f"exposure {exposure.name} at a public model",
                    file=exposure.file,
                    line=exposure.line,
                )
            )
    return findings


def _chains(ctx: Context) -> list[Finding]:
    rule = ctx.platform.lineage.chained_views
    level = severity(rule)
    if level is None:
        return []
    depth = view_chains(ctx.project.models)
    findings = []
    for model in ctx.models:
        length = depth.get(model.name, 0)
        if length > rule.max:
            findings.append(
                ctx.finding(
                    "lineage.chained_views",
                    level,
                    model,
                    f"model {model.name} ends a chain of {length} views (limit {rule.max})",
                    f"materialize model {model.name} or one of its upstream views as a table",
                )
            )
    return findings


def view_chains(models: dict[str, Model]) -> dict[str, int]:
    """Views in the longest view-only chain ending at each view (iterative; cycles stop)."""

    def is_view(name: str) -> bool:
        model = models.get(name)
        return model is not None and model.materialized in (None, "view")

    depth: dict[str, int] = {}
    for start in sorted(models):
        if start in depth or not is_view(start):
            continue
        stack = [(start, iter(models[start].refs))]
        open_ = {start}
        while stack:
            name, refs = stack[-1]
            ref = next(refs, None)
            if ref is None:
                stack.pop()
                open_.discard(name)
                ups = [depth.get(r, 0) for r in models[name].refs if r not in open_]
                depth[name] = 1 + max(ups, default=0)
            elif ref not in depth and ref not in open_ and is_view(ref):
                open_.add(ref)
                stack.append((ref, iter(models[ref].refs)))
    return depth


def _fanout(ctx: Context) -> list[Finding]:
    rule = ctx.platform.lineage.fanout
    level = severity(rule)
    if level is None:
        return []
    children: dict[str, int] = {}
    for model in ctx.models:
        for name in model.refs:
            children[name] = children.get(name, 0) + 1
    return [
        ctx.finding(
            "lineage.fanout",
            level,
            model,
            f"model {model.name} has {children[model.name]} direct children (limit {rule.max})",
            f"factor what the children of {model.name} share into intermediate models",
        )
        for model in ctx.models
        if children.get(model.name, 0) > rule.max
    ]


def _line_of(model: Model, needle: str) -> int:
    sql = model.props.sql or ""
    index = sql.find(needle)
    return model.props.sql_line + sql.count("\n", 0, index) if index >= 0 else 1
