"""Classification compliance: known levels, where sensitive columns may live, lineage.

- `classification.unknown_level`: a column's classification is not a platform level.
- `classification.forbidden_layer` / `classification.forbidden_namespace`: a column
  whose effective level (declared or inherited) is forbidden in the model's layer or
  schema by the platform's rule for that level.
- `classification.description_required`: the level's rule requires a description.
- `classification.propagation`: classification flows downstream through `ref()` (and
  `source()`) to columns of the same name. A downstream column that declares no level,
  or a lower one (levels are ordered least to most sensitive), while an upstream column
  is pii/phi (or any level with a platform rule) is flagged; it still counts as the
  inherited level for the layer and namespace checks.

Propagation visits the models in topological order once: O(models + refs + columns).
"""

from __future__ import annotations

from dataclasses import dataclass

from floe.rules.context import Context
from floe.rules.lineage import ModelLineage, topological
from floe.rules.model import Column, Finding, Model

_ALWAYS_PROPAGATE = ("pii", "phi")


@dataclass(frozen=True, slots=True)
class _Origin:
    level: str
    node: str  # "model.column" the level came from, for messages


def check(ctx: Context) -> list[Finding]:
    policy = ctx.platform.classification
    rank = {level: index for index, level in enumerate(policy.levels)}
    placement_rules = policy.rules
    findings: list[Finding] = []
    inherited = _propagate(ctx, rank) if policy.propagate else {}
    for model in ctx.models:
        from_upstream = inherited.get(model.name, {})
        findings.extend(_undeclared(ctx, model, from_upstream))
        for column in model.columns:
            declared = column.classification
            if declared is not None and declared not in rank:
                findings.append(_unknown(ctx, model, column, policy.levels))
                declared = None
            origin = from_upstream.get(column.name)
            effective = declared or policy.default_level
            raised_by = None
            if origin is not None and rank[origin.level] > rank.get(effective or "", -1):
                findings.append(_dropped(ctx, model, column, origin))
                effective, raised_by = origin.level, origin
            if effective is not None and effective in placement_rules:
                findings.extend(_placement(ctx, model, column, effective, raised_by))
    return findings


def _undeclared(ctx: Context, model: Model, incoming: dict[str, _Origin]) -> list[Finding]:
    """Output columns (from the SQL) not in the YAML that carry a classified upstream."""
    lineage = ctx.lineage.get(model.name)
    if lineage is None or lineage.error is not None:
        return []
    declared = {column.name.lower() for column in model.columns}
    found: list[Finding] = []
    for column in lineage.columns:
        origin = incoming.get(column.name)
        if origin is None or column.name.lower() in declared:
            continue
        found.append(
            ctx.finding(
                "classification.undeclared_column",
                "error",
                model,
                f"column {model.name}.{column.name} carries {origin.level} from {origin.node} "
                "but is not declared in the model's schema YAML",
                f"declare column {column.name} with `meta: {{classification: {origin.level}}}` "
                f"for model {model.name} in {ctx.where(model)}, or drop/mask it in the SQL",
                file=model.sql_file or model.file,
                line=column.line,
            )
        )
    return found


def _unknown(ctx: Context, model: Model, column: Column, levels: list[str]) -> Finding:
    return ctx.finding(
        "classification.unknown_level",
        "error",
        model,
        f"column {model.name}.{column.name} has classification {column.classification!r}, "
        f"which is not a platform level ({', '.join(levels)})",
        f"use one of {', '.join(levels)} for column {column.name} in "
        f"{ctx.where(model, column.line)}",
        line=column.line,
    )


def _dropped(ctx: Context, model: Model, column: Column, origin: _Origin) -> Finding:
    declared = column.classification
    was = f"declares {declared}" if declared else "declares no classification"
    return ctx.finding(
        "classification.propagation",
        "error",
        model,
        f"column {model.name}.{column.name} {was} but inherits {origin.level} from "
        f"{origin.node} through ref()",
        f"set `meta: {{classification: {origin.level}}}` on column {column.name} in "
        f"{ctx.where(model, column.line)}, or drop/mask the column",
        line=column.line,
    )


def _placement(
    ctx: Context, model: Model, column: Column, level: str, origin: _Origin | None
) -> list[Finding]:
    rule = ctx.platform.classification.rules.get(level)
    if rule is None:
        return []
    found: list[Finding] = []
    via = f" (inherited from {origin.node})" if origin else ""
    layer = ctx.layer_of[model.name]
    if layer is not None and layer in rule.forbidden_layers:
        found.append(
            ctx.finding(
                "classification.forbidden_layer",
                "error",
                model,
                f"{level} column {model.name}.{column.name}{via} is not allowed in the "
                f"{layer} layer",
                f"remove, hash or mask column {column.name} before the {layer} layer "
                f"({ctx.where(model, column.line)})",
                line=column.line,
            )
        )
    if model.schema is not None and model.schema in rule.forbidden_namespaces:
        found.append(
            ctx.finding(
                "classification.forbidden_namespace",
                "error",
                model,
                f"{level} column {model.name}.{column.name}{via} is not allowed in "
                f"namespace {model.schema}",
                f"move model {model.name} to another schema or remove column "
                f"{column.name} ({ctx.where(model, column.line)})",
                line=column.line,
            )
        )
    if rule.requires_description and not column.description:
        found.append(
            ctx.finding(
                "classification.description_required",
                "error",
                model,
                f"{level} column {model.name}.{column.name} has no description",
                f"describe column {column.name} in {ctx.where(model, column.line)}",
                line=column.line,
            )
        )
    return found


def _propagate(ctx: Context, rank: dict[str, int]) -> dict[str, dict[str, _Origin]]:
    """model -> column -> the most sensitive propagating level among its upstreams."""
    policy = ctx.platform.classification
    sticky = {level for level in policy.levels if level in _ALWAYS_PROPAGATE}
    sticky.update(level for level in policy.rules if level in rank)
    if not sticky:
        return {}
    # What each node passes downstream: its own sticky columns, plus what it inherited.
    passes: dict[str, dict[str, _Origin]] = {}
    for name, columns in _leaf_columns(ctx):
        passes[name] = _own(name, columns, sticky)
    inherited: dict[str, dict[str, _Origin]] = {}
    lineages = ctx.lineage
    for model in topological(ctx.project.models):
        lineage = lineages.get(model.name)
        if lineage is not None and lineage.error is None and lineage.columns:
            incoming = _through_lineage(lineage, passes, rank)
        else:
            incoming = _by_name(model, passes, rank)
        inherited[model.name] = incoming
        own = _own(model.name, model.columns, sticky)
        # Pass inherited levels on even for columns this model does not declare: an
        # undocumented pass-through must not launder a pii column.
        outgoing = dict(incoming)
        for column, origin in own.items():
            current = outgoing.get(column)
            if current is None or rank[origin.level] >= rank[current.level]:
                outgoing[column] = origin
        passes[model.name] = outgoing
    return inherited


def _through_lineage(
    lineage: ModelLineage, passes: dict[str, dict[str, _Origin]], rank: dict[str, int]
) -> dict[str, _Origin]:
    """Each output column takes the strictest level of the upstream columns it reads."""
    incoming: dict[str, _Origin] = {}
    for column in lineage.columns:
        for node, upstream in column.deps:
            origin = passes.get(node, {}).get(upstream)
            if origin is None:
                continue
            current = incoming.get(column.name)
            if current is None or rank[origin.level] > rank[current.level]:
                incoming[column.name] = origin
    return incoming


def _by_name(
    model: Model, passes: dict[str, dict[str, _Origin]], rank: dict[str, int]
) -> dict[str, _Origin]:
    """Without lineage (unparsable SQL, a Python model): same-named columns of parents."""
    incoming: dict[str, _Origin] = {}
    for parent in (*model.refs, *("source:" + s for s in model.sources)):
        for column, origin in passes.get(parent, {}).items():
            current = incoming.get(column)
            if current is None or rank[origin.level] > rank[current.level]:
                incoming[column] = origin
    return incoming


def _own(node: str, columns: tuple[Column, ...], sticky: set[str]) -> dict[str, _Origin]:
    return {
        column.name: _Origin(column.classification, f"{node}.{column.name}")
        for column in columns
        if column.classification in sticky and column.classification is not None
    }


def _leaf_columns(ctx: Context) -> list[tuple[str, tuple[Column, ...]]]:
    project = ctx.project
    leaves: list[tuple[str, tuple[Column, ...]]] = [
        (name, seed.columns) for name, seed in sorted(project.seeds.items())
    ]
    leaves.extend(
        ("source:" + name, source.columns) for name, source in sorted(project.sources.items())
    )
    return leaves
