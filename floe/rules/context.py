"""What every rule family needs, computed once per evaluation (linear in the project).

The context resolves each model's layer with the platform's knowledge (meta, then the
folder, then the name prefix), finds primary keys, decides whether a model carries a
required test, and words the `file:line` locations used in findings and hints.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from floe.rules.lineage import (
    LineageCache,
    ModelLineage,
    dialect_of,
    project_lineage,
    topological,
)
from floe.rules.model import Column, Finding, Model, Project, Severity
from floe.rules.regex_safety import UnsafeRegex, compile_safe
from floe.tree.model import PlatformTree

# Prefixes used when the platform names a pattern but no prefixes of its own.
DEFAULT_PREFIXES: dict[str, dict[str, str]] = {
    "medallion": {"bronze": "bronze_", "silver": "silver_", "gold": "gold_"},
    "kimball": {
        "staging": "stg_",
        "intermediate": "int_",
        "dimension": "dim_",
        "fact": "fct_",
    },
    "custom": {},
}

# Requirements floe understands beyond plain test names (layer constraints, quality gates).
SPECIAL_REQUIREMENTS = ("not_null_pk", "unique_pk", "freshness", "documentation")
# Generic tests of dbt and its common packages (bare names; `pkg.name` also matches).
KNOWN_TESTS = frozenset(
    {
        "not_null",
        "unique",
        "relationships",
        "accepted_values",
        "recency",
        "not_constant",
        "at_least_one",
        "expression_is_true",
        "unique_combination_of_columns",
        "accepted_range",
        "not_empty_string",
        "equal_rowcount",
        "cardinality_equality",
        "mutually_exclusive_ranges",
        "sequential_values",
        "not_null_proportion",
        "relationships_where",
        *SPECIAL_REQUIREMENTS,
    }
)
FRESHNESS_TESTS = frozenset({"freshness", "recency"})
COMPOSITE_UNIQUE_TESTS = frozenset({"unique_combination_of_columns"})


@functools.lru_cache(maxsize=1024)
def test_base(name: str) -> str:
    """`dbt_utils.recency` -> `recency`: requirements match tests from any package."""
    return name.rsplit(".", 1)[-1]


def is_known_test(name: str) -> bool:
    return test_base(name) in KNOWN_TESTS


@dataclass(frozen=True, slots=True)
class CoverageStats:
    models_total: int
    models_tested: int
    columns_total: int
    columns_tested: int
    percent: float  # columns with >= 1 test; models when no column is declared

    def to_json(self) -> dict[str, Any]:
        return {
            "models_total": self.models_total,
            "models_tested": self.models_tested,
            "columns_total": self.columns_total,
            "columns_tested": self.columns_tested,
            "percent": self.percent,
        }


@dataclass(frozen=True, slots=True)
class Requirement:
    """Why a model lacks a required test, where to point, and how to fix it."""

    line: int
    message: str
    hint: str


class Context:
    def __init__(self, project: Project, platform: PlatformTree) -> None:
        self.project = project
        self.platform = platform
        rules = platform.naming_rules
        self.prefixes: dict[str, str] = dict(rules.prefixes) or dict(
            DEFAULT_PREFIXES[rules.pattern]
        )
        self.known_layers = frozenset(self.prefixes) | frozenset(platform.layer_constraints.layers)
        # Longest prefix first, so `gold_agg_` wins over `gold_` when both exist.
        self._by_prefix = sorted(
            ((prefix, layer) for layer, prefix in self.prefixes.items() if prefix),
            key=lambda item: (-len(item[0]), item[0]),
        )
        gates = platform.quality_gates.governance
        self.exempt_packages = frozenset(gates.exempt_packages if gates else ())
        # Every node for lineage; the governed ones for the rules: ephemeral models are not
        # built (lineage only) and the platform may exempt packages by name.
        self.all_models: list[Model] = [project.models[name] for name in sorted(project.models)]
        self.models: list[Model] = [
            model
            for model in self.all_models
            if model.materialized != "ephemeral" and model.package not in self.exempt_packages
        ]
        self.layer_of: dict[str, str | None] = {}
        self.layer_how: dict[str, str | None] = {}
        for model in self.models:
            layer, how = self._resolve_layer(model)
            self.layer_of[model.name] = layer
            self.layer_how[model.name] = how
        # Test base names per model, computed once: every rule family asks for them.
        self._model_tests: dict[str, frozenset[str]] = {}
        self._tests: dict[str, frozenset[str]] = {}
        for model in self.models:
            own = frozenset(map(test_base, model.tests))
            self._model_tests[model.name] = own
            names = set(own)
            for column in model.columns:
                names.update(map(test_base, column.tests))
            self._tests[model.name] = frozenset(names)
        self._keys: dict[str, Column | str | None] = {}
        self.coverage = self._coverage()
        self.lineage_cache = LineageCache()  # evaluate() may hand in a loaded cache
        self._lineage: dict[str, ModelLineage] | None = None

    # ---- column lineage (sqlglot) ------------------------------------------------

    @property
    def lineage(self) -> dict[str, ModelLineage]:
        """Each model's output columns and their upstream columns, computed once."""
        if self._lineage is None:
            project = self.project
            from floe.rules.dbt_reader import csv_header

            leaves: dict[str, tuple[str, ...] | None] = {
                name: csv_header(project.root, seed.csv_file)
                or tuple(c.name for c in seed.columns)
                or None
                for name, seed in project.seeds.items()
            }
            for name, source in project.sources.items():
                leaves["source:" + name] = tuple(c.name for c in source.columns) or None
            plugins = self.platform.manifest.plugins
            detail = self.platform.manifest.plugin_details.get("compute")
            compute = detail.type if detail is not None else plugins.get("compute")
            self._lineage = project_lineage(
                project.root,
                topological(project.models),
                leaves,
                dialect_of(compute),
                self.lineage_cache,
            )
        return self._lineage

    # ---- layers --------------------------------------------------------------

    def _resolve_layer(self, model: Model) -> tuple[str | None, str | None]:
        if model.layer_source == "meta" and model.layer:
            return model.layer, "meta"
        for part in reversed(model.folders):
            if part in self.known_layers:
                return part, "folder"
        for prefix, layer in self._by_prefix:
            if model.name.startswith(prefix):
                return layer, "prefix"
        return None, None  # the reader's guess used default layers, not the platform's

    def strip_prefix(self, name: str) -> str:
        """The name without its layer prefix (`silver_customers` -> `customers`)."""
        layer = self.layer_from_prefix(name)
        return name[len(self.prefixes[layer]) :] or name if layer else name

    def layer_from_prefix(self, name: str) -> str | None:
        for prefix, layer in self._by_prefix:
            if name.startswith(prefix):
                return layer
        return None

    # ---- tests and requirements ----------------------------------------------

    def test_names(self, model: Model) -> frozenset[str]:
        """Base names of every test on the model or any of its columns."""
        cached = self._tests.get(model.name)
        if cached is None:  # a model that is not in the context's project
            names = set(map(test_base, model.tests))
            for column in model.columns:
                names.update(map(test_base, column.tests))
            cached = self._tests[model.name] = frozenset(names)
        return cached

    def primary_key(self, model: Model) -> Column | str | None:
        """The key column; a declared key that is not a documented column stays a str.

        Heuristic when no `meta.primary_key` is set: a column named `<entity>_id` (the
        model name without its layer prefix, also singular: customers -> customer_id),
        then a column named `id`, then the first column with both not_null and unique.
        """
        if model.name in self._keys:
            return self._keys[model.name]
        key = self._find_primary_key(model)
        self._keys[model.name] = key
        return key

    def _find_primary_key(self, model: Model) -> Column | str | None:
        by_name = {column.name: column for column in model.columns}
        if model.primary_key:
            return by_name.get(model.primary_key, model.primary_key)
        for candidate in _key_candidates(self.strip_prefix(model.name)):
            if candidate in by_name:
                return by_name[candidate]
        for column in model.columns:
            bases = {test_base(t) for t in column.tests}
            if {"not_null", "unique"} <= bases:
                return column
        return None

    def missing(self, model: Model, required: str) -> Requirement | None:
        """None when the model satisfies `required`, else what is missing and the fix."""
        if required in ("not_null_pk", "unique_pk"):
            return self._missing_pk_test(model, required)
        if required == "freshness":
            if self.test_names(model) & FRESHNESS_TESTS:
                return None
            return Requirement(
                model.line,
                f"model {model.name} has no freshness check",
                f"add a `dbt_utils.recency` test or `config: {{meta: {{freshness: ...}}}}` "
                f"to model {model.name} in {self.where(model)}",
            )
        if required == "documentation":
            return self._missing_docs(model)
        if test_base(required) in self.test_names(model):
            return None
        return Requirement(
            model.line,
            f"model {model.name} has no `{required}` test",
            f"add a `{required}` test to model {model.name} or one of its columns "
            f"in {self.where(model)}",
        )

    def _missing_pk_test(self, model: Model, required: str) -> Requirement | None:
        test = "not_null" if required == "not_null_pk" else "unique"
        model_tests = self._model_tests.get(model.name)
        if model_tests is None:
            model_tests = frozenset(map(test_base, model.tests))
        if required in model_tests:
            return None
        if required == "unique_pk" and model_tests & COMPOSITE_UNIQUE_TESTS:
            return None
        key = self.primary_key(model)
        if key is None:
            return Requirement(
                model.line,
                f"model {model.name} needs {required} but has no primary key column",
                f"set `meta: {{primary_key: <column>}}` on model {model.name} in "
                f"{self.where(model)} and give that column `tests: [not_null, unique]`",
            )
        if isinstance(key, str):
            return Requirement(
                model.line,
                f"model {model.name} declares primary key {key}, which is not a column",
                f"add column {key} with `tests: [not_null, unique]` to model {model.name} "
                f"in {self.where(model)}",
            )
        if test in {test_base(t) for t in key.tests}:
            return None
        verb = f"add `{test}` to the tests of" if key.tests else f"add `tests: [{test}]` to"
        return Requirement(
            key.line,
            f"primary key {model.name}.{key.name} has no {test} test ({required})",
            f"{verb} column {key.name} in {self.where(model, key.line)}",
        )

    def _missing_docs(self, model: Model) -> Requirement | None:
        bare = [column.name for column in model.columns if not column.description]
        if model.description and not bare:
            return None
        parts = [] if model.description else [f"model {model.name}"]
        if bare:
            parts.append(f"column{'s' if len(bare) > 1 else ''} {', '.join(bare)}")
        return Requirement(
            model.line,
            f"{' and '.join(parts)} undocumented (documentation required)",
            f"add a description to {' and '.join(parts)} in {self.where(model)}",
        )

    # ---- coverage --------------------------------------------------------------

    def _coverage(self) -> CoverageStats:
        columns_total = columns_tested = models_tested = 0
        for model in self.models:
            tested = bool(model.tests)
            for column in model.columns:
                columns_total += 1
                if column.tests:
                    columns_tested += 1
                    tested = True
            models_tested += tested
        models_total = len(self.models)
        if columns_total:
            percent = 100.0 * columns_tested / columns_total
        elif models_total:
            percent = 100.0 * models_tested / models_total
        else:
            percent = 100.0
        return CoverageStats(
            models_total, models_tested, columns_total, columns_tested, round(percent, 2)
        )

    # ---- wording -----------------------------------------------------------------

    def where(self, model: Model, line: int | None = None) -> str:
        return f"{model.file}:{line or model.line}"

    def finding(
        self,
        rule_id: str,
        severity: Severity,
        model: Model | None,
        message: str,
        hint: str,
        *,
        line: int | None = None,
        file: str | None = None,
    ) -> Finding:
        return Finding(
            rule_id=rule_id,
            severity=severity,
            model=model.name if model else None,
            file=file if file is not None else (model.file if model else None),
            line=line if line is not None else (model.line if model else None),
            message=message,
            hint=hint,
        )

    def platform_regex(
        self, pattern: str | None, rule_id: str, what: str, fix: str
    ) -> tuple[re.Pattern[str] | None, list[Finding]]:
        """The platform's regex, compiled when safe; else no regex and a `rule_id` finding."""
        if not pattern:
            return None, []
        try:
            return compile_safe(pattern), []
        except UnsafeRegex as exc:
            message = f"the platform's {what} {pattern!r} was not run: {exc}"
            return None, [self.finding(rule_id, "error", None, message, fix)]


def _key_candidates(entity: str) -> list[str]:
    """`customers` -> customers_id, customer_id, ...; `customer_orders` also order_id."""
    forms = [entity]
    if entity.endswith("ies"):
        forms.append(entity[:-3] + "y")
    if entity.endswith("es"):
        forms.append(entity[:-2])
    if entity.endswith("s"):
        forms.append(entity[:-1])
    last = entity.rsplit("_", 1)[-1]
    if last != entity:
        forms.extend([last, last[:-1]] if last.endswith("s") else [last])
    return [f"{form}_id" for form in forms if form] + ["id"]
