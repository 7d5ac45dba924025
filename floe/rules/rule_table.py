"""Every rule floe knows, with its family, summary and severity in a given platform.

`floe rules list` prints this table; `floe rules explain ID` one row with why and fix.
Built-in rules take their severity from the platform's settings (naming enforcement,
block_on_failure, the schema registry's switches); catalogue rules from their own
`severity`. `off` means the platform does not run the rule.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from floe.errors import UsageError
from floe.rules.catalogue import BY_ID, FAMILIES, RULES, rule_config
from floe.tree.model import PlatformTree

Level = Callable[[PlatformTree], str]


def _naming(tree: PlatformTree) -> str:
    return {"strict": "error", "warn": "warning"}.get(tree.naming_rules.enforcement, "off")


def _gate(attr: str) -> Level:
    def level(tree: PlatformTree) -> str:
        gates = tree.quality_gates
        if not getattr(gates, attr):
            return "off"
        return "error" if gates.block_on_failure else "warning"

    return level


def _switch(attr: str) -> Level:
    return lambda tree: "error" if getattr(tree.schema_registry, attr) else "off"


def _always(level: str) -> Level:
    return lambda _tree: level


def _layers(tree: PlatformTree) -> str:
    constrained = any(c.required_tests for c in tree.layer_constraints.layers.values())
    return "error" if constrained else "off"


# id -> (family, summary, severity in a platform)
BUILTIN: dict[str, tuple[str, str, Level]] = {
    "naming.prefix": ("Naming conventions", "Model names carry their layer's prefix", _naming),
    "naming.unknown_layer": ("Naming conventions", "Models belong to a known layer", _naming),
    "naming.custom_regex": ("Naming conventions", "Model names match the pattern", _naming),
    "naming.regex_unsafe": ("Naming conventions", "The naming pattern is safe", _always("error")),
    "layer.required_test": ("Layer constraints", "Models carry their layer's tests", _layers),
    "quality.coverage": ("Quality gates", "Test coverage meets the minimum",
                         _gate("minimum_test_coverage")),
    "quality.required_test": ("Quality gates", "Models carry the required tests",
                              _gate("required_tests")),
    "classification.unknown_level": ("Classification", "Levels are known", _always("error")),
    "classification.forbidden_layer": ("Classification", "Classified columns stay out of "
                                       "forbidden layers", _always("error")),
    "classification.forbidden_namespace": ("Classification", "Classified columns stay out of "
                                           "forbidden namespaces", _always("error")),
    "classification.description_required": ("Classification", "Classified columns are "
                                             "described", _always("error")),
    "classification.propagation": ("Classification", "Downstream columns keep their upstream "
                                   "classification", _always("error")),
    "access.unknown_role": ("Access control", "Grants name known roles", _always("error")),
    "access.privilege_not_allowed": ("Access control", "Roles get only allowed privileges",
                                     _always("error")),
    "access.namespace_grant": ("Access control", "Grants respect namespace grants",
                               _always("error")),
    "namespace.not_approved": ("Namespaces", "Schemas are approved namespaces",
                               _always("error")),
    "namespace.unset": ("Namespaces", "Models set a schema", _always("info")),
    "schema.column_description": ("Schema constraints", "Columns are described",
                                  _switch("require_column_descriptions")),
    "schema.column_data_type": ("Schema constraints", "Columns declare a data type",
                                _switch("require_column_data_types")),
    "schema.column_name": ("Schema constraints", "Column names match the pattern",
                           _switch("column_name_pattern")),
    "schema.regex_unsafe": ("Schema constraints", "The column pattern is safe",
                            _always("error")),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RuleRow:
    rule_id: str
    family: str
    summary: str
    severity: str | None  # None: no platform given
    why: str | None = None
    fix: str | None = None
    config: str | None = None  # manifest path that configures it (catalogue rules)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "family": self.family,
            "summary": self.summary,
            "severity": self.severity,
            "why": self.why,
            "fix": self.fix,
            "config": self.config,
        }


_SECTION = {
    "contracts": "contracts",
    "model_governance": "governance",
    "metadata_rules": "metadata",
    "lineage": "lineage",
    "structure": "structure",
    "sources": "sources",
    "sql": "sql",
}
_FAMILY_NAME = {family: name for family, name, _ in FAMILIES}


def _catalogue_severity(tree: PlatformTree | None, rule_id: str) -> str | None:
    if tree is None:
        return None
    level = rule_config(tree, BY_ID[rule_id]).severity
    return "warning" if level == "warn" else level


def rule_table(tree: PlatformTree | None = None) -> list[RuleRow]:
    """Every rule in report order; severities only when a platform is given."""
    rows = [
        RuleRow(rule_id, family, summary, level(tree) if tree else None)
        for rule_id, (family, summary, level) in BUILTIN.items()
    ]
    for info in RULES:
        rows.append(
            RuleRow(
                info.rule_id,
                _FAMILY_NAME[info.family],
                info.what,
                _catalogue_severity(tree, info.rule_id),
                info.why,
                info.fix,
                f"rules.{_SECTION[info.family]}.{info.key}",
            )
        )
    return rows


def explain(rule_id: str, tree: PlatformTree | None = None) -> RuleRow:
    """One rule, or `rule_unknown` with a did-you-mean."""
    for row in rule_table(tree):
        if row.rule_id == rule_id:
            return row
    known = [row.rule_id for row in rule_table()]
    close = difflib.get_close_matches(rule_id, known, n=1)
    raise UsageError(
        "rule_unknown",
        f"no rule {rule_id!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
        hint="`floe rules list` prints every rule id",
    )
