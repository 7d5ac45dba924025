"""Sources (freshness, loader, description) and SQL (no `select *`, no hard-coded
relations, no cartesian joins) in the layers the platform names; SQL from sqlglot."""

from __future__ import annotations

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model, Severity
from floe.rules.sql_scan import SqlFacts, facts
from floe.tree.rule_families import LayerScoped

_SOURCE_RULES = (
    ("freshness", "source.freshness", "declares no freshness (warn_after / error_after)"),
    ("loader", "source.loader", "names no loader"),
    ("description", "source.description", "has no description"),
)
_SOURCE_FIX = {
    "freshness": "add `freshness: {warn_after: {count: 24, period: hour}}` and "
    "`loaded_at_field:` to source",
    "loader": "add `loader: <tool>` to source",
    "description": "add a `description:` to source table",
}


def check_sources(ctx: Context) -> list[Finding]:
    rules = ctx.platform.sources
    findings: list[Finding] = []
    for name in sorted(ctx.project.sources):
        source = ctx.project.sources[name]
        present = {
            "freshness": source.freshness,
            "loader": bool(source.loader),
            "description": bool(source.description),
        }
        for key, rule_id, problem in _SOURCE_RULES:
            level = severity(getattr(rules, key))
            if level is None or present[key]:
                continue
            findings.append(
                ctx.finding(
                    rule_id,
                    level,
                    None,
                    f"source {name} {problem}",
                    f"{_SOURCE_FIX[key]} {name} in {source.file}:{source.line}",
                    file=source.file,
                    line=source.line,
                )
            )
    return findings


def check_sql(ctx: Context) -> list[Finding]:
    rules = ctx.platform.sql
    scoped = [
        (rule, level)
        for rule in (rules.select_star, rules.hardcoded_relations, rules.cartesian_joins)
        if (level := severity(rule)) is not None
    ]
    if not scoped:
        return []
    dialect = ctx.platform.manifest.plugins.get("compute")
    findings: list[Finding] = []
    for model in ctx.models:
        layer = ctx.layer_of.get(model.name)
        wanted = [(r, lv) for r, lv in scoped if r.layers is None or layer in r.layers]
        if not wanted or not model.props.sql:
            continue
        found = facts(model.props.sql, dialect, columns=False, cache=ctx.lineage_cache)
        if found is None:
            continue  # unparsable SQL is the sound gate's finding, not a crash here
        for rule, level in wanted:
            findings.extend(_sql_findings(ctx, model, rule, level, found))
    return findings


def _sql_findings(
    ctx: Context, model: Model, rule: LayerScoped, level: Severity, found: SqlFacts
) -> list[Finding]:
    rules = ctx.platform.sql
    file = model.sql_file
    offset = model.props.sql_line - 1

    def at(line: int) -> int | None:
        return line + offset if file else None

    where = file or model.name
    if rule is rules.select_star:
        return [
            ctx.finding(
                "sql.select_star",
                level,
                model,
                f"model {model.name} selects *",
                f"list the columns model {model.name} needs in {where}",
                file=file,
                line=at(line),
            )
            for line in found.stars
        ]
    if rule is rules.hardcoded_relations:
        return [
            ctx.finding(
                "sql.hardcoded_relation",
                level,
                model,
                f"model {model.name} reads {name} by name, not through ref() or source()",
                f"replace {name} with {{{{ ref('...') }}}} or {{{{ source('...', '...') }}}} "
                f"in {where}",
                file=file,
                line=at(line),
            )
            for name, line in found.relations
        ]
    return [
        ctx.finding(
            "sql.cartesian_join",
            level,
            model,
            f"model {model.name} joins {name} without a join condition",
            f"add an `on` or `using` condition to the join of {name} in {where}",
            file=file,
            line=at(line),
        )
        for name, line in found.cartesian
    ]
