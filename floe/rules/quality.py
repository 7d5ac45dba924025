"""Quality gates: minimum column test coverage and tests every model must carry.

Findings are errors when the platform sets `block_on_failure`, warnings otherwise.
Coverage is the share of declared columns with at least one test (the share of
models with a test when no column is declared); it is always reported.
"""

from __future__ import annotations

from floe.rules.context import Context
from floe.rules.model import Finding, Model, Severity

_EXAMPLES = 3  # untested columns named in the coverage hint


def check(ctx: Context) -> list[Finding]:
    gates = ctx.platform.quality_gates
    severity: Severity = "error" if gates.block_on_failure else "warning"
    findings: list[Finding] = []
    coverage = ctx.coverage
    if ctx.models and coverage.percent < gates.minimum_test_coverage:
        findings.append(
            ctx.finding(
                "quality.coverage",
                severity,
                None,
                f"test coverage {coverage.percent:g}% is below the required "
                f"{gates.minimum_test_coverage:g}% ({coverage.columns_tested} of "
                f"{coverage.columns_total} columns tested; {coverage.models_tested} of "
                f"{coverage.models_total} models have a test)",
                _coverage_hint(ctx),
                file=ctx.project.config_file,
                line=1,
            )
        )
    for model in ctx.models:
        for required in gates.required_tests:
            missing = ctx.missing(model, required)
            if missing is not None:
                findings.append(
                    ctx.finding(
                        "quality.required_test",
                        severity,
                        model,
                        f"quality gate requires {required}: {missing.message}",
                        missing.hint,
                        line=missing.line,
                    )
                )
    return findings


def _coverage_hint(ctx: Context) -> str:
    untested: list[tuple[Model, str, int]] = []
    for model in ctx.models:
        for column in model.columns:
            if not column.tests:
                untested.append((model, column.name, column.line))
                if len(untested) == _EXAMPLES:
                    break
        if len(untested) == _EXAMPLES:
            break
    if not untested:
        return "declare the models' columns in schema YAML and give each at least one test"
    examples = ", ".join(
        f"{model.name}.{name} ({ctx.where(model, line)})" for model, name, line in untested
    )
    return f"add tests to untested columns, e.g. {examples}"
