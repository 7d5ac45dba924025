"""Run every rule family over a project and summarize the verdict.

`evaluate(project, platform)` is the one entry point shared by `floe compile` (data
teams) and `floe platform test` (the platform team's cases). The result is fully
deterministic: findings are sorted by file, line, rule id and model, checks come in
a fixed order, and `to_json()` has no timestamps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from floe.rules import (
    access,
    catalogue,
    classification,
    config_rules,
    layers,
    namespaces,
    naming,
    quality,
    schema,
)
from floe.rules.context import Context, CoverageStats
from floe.rules.lineage import LineageCache
from floe.rules.model import Finding, Project, paused_gc
from floe.tree.model import PlatformTree

__all__ = ["CHECKS", "RULE_IDS", "CheckSummary", "CoverageStats", "EnforcementResult", "evaluate"]

RuleFamily = Callable[[Context], list[Finding]]

# (summary name, rule-id prefix, family) in the order every report shows them.
CHECKS: tuple[tuple[str, str, RuleFamily], ...] = (
    ("Naming conventions", "naming", naming.check),
    ("Layer constraints", "layer", layers.check),
    ("Quality gates", "quality", quality.check),
    ("Classification compliance", "classification", classification.check),
    ("Access control", "access", access.check),
    ("Namespaces", "namespace", namespaces.check),
    ("Schema constraints", "schema", schema.check),
    ("Configuration", "config", config_rules.check),
    ("Project source", "project", config_rules.reader),
    ("Column lineage", "lineage", config_rules.unparsed),
)

# Every rule id a finding can carry (docs/rules.md describes each one).
RULE_IDS = frozenset(
    {
        "naming.prefix",
        "naming.unknown_layer",
        "naming.custom_regex",
        "naming.regex_unsafe",
        "layer.required_test",
        "quality.coverage",
        "quality.required_test",
        "classification.unknown_level",
        "classification.forbidden_layer",
        "classification.forbidden_namespace",
        "classification.description_required",
        "classification.propagation",
        "access.unknown_role",
        "access.privilege_not_allowed",
        "access.namespace_grant",
        "namespace.not_approved",
        "namespace.unset",
        "schema.column_description",
        "schema.column_data_type",
        "schema.column_name",
        "schema.regex_unsafe",
        "config.unresolved",
        "project.manifest_stale",
        "lineage.unparsed",
        "classification.undeclared_column",
        "schema.column_missing",
        "waiver.expired",
        "waiver.too_long",
        "waiver.not_allowed",
    }
)
RULE_IDS |= catalogue.RULE_IDS  # the catalogue families (floe/rules/catalogue.py)


@dataclass(frozen=True, slots=True)
class CheckSummary:
    name: str
    rule_prefix: str
    passed: bool  # no error finding in this family
    errors: int
    warnings: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rule_prefix": self.rule_prefix,
            "passed": self.passed,
            "errors": self.errors,
            "warnings": self.warnings,
        }


@dataclass(frozen=True, slots=True)
class EnforcementResult:
    findings: list[Finding]
    checks: list[CheckSummary]
    coverage: CoverageStats
    blocking: bool  # any error finding

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error" and not f.waived)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning" and not f.waived)

    @property
    def waived(self) -> int:
        return sum(1 for f in self.findings if f.waived)

    def rule_ids(self, *severities: str) -> set[str]:
        """Rule ids that fired (optionally only with the given severities)."""
        wanted = set(severities) or {"error", "warning", "info"}
        return {f.rule_id for f in self.findings if f.severity in wanted}

    def to_json(self) -> dict[str, Any]:
        infos = sum(1 for f in self.findings if f.severity == "info" and not f.waived)
        return {
            "blocking": self.blocking,
            "checks": [check.to_json() for check in self.checks],
            "coverage": self.coverage.to_json(),
            "findings": [finding.to_json() for finding in self.findings],
            "summary": {
                "errors": self.errors,
                "warnings": self.warnings,
                "infos": infos,
                "waived": self.waived,
            },
        }


def evaluate(
    project: Project, platform: PlatformTree, lineage_cache: LineageCache | None = None
) -> EnforcementResult:
    """Every platform rule over every model of the project."""
    with paused_gc():
        ctx = Context(project, platform)
        if lineage_cache is not None:
            ctx.lineage_cache = lineage_cache
        return _evaluate(ctx)


def _evaluate(ctx: Context) -> EnforcementResult:
    findings: list[Finding] = []
    checks: list[CheckSummary] = []
    for name, prefix, family in (*CHECKS, *catalogue.active_checks(ctx.platform)):
        found = family(ctx)
        errors = sum(1 for f in found if f.severity == "error")
        warnings = sum(1 for f in found if f.severity == "warning")
        checks.append(CheckSummary(name, prefix, errors == 0, errors, warnings))
        findings.extend(found)
    findings.sort(key=Finding.sort_key)
    blocking = any(f.severity == "error" for f in findings)
    return EnforcementResult(findings, checks, ctx.coverage, blocking)
