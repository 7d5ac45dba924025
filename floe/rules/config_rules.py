"""Configuration floe could not verify, and findings the project reader made.

- `config.unresolved`: in files mode, a `{{ config(...) }}` argument (or a Jinja config
  value in YAML) that floe cannot evaluate: `var()`, `env_var()`, any expression. Only
  dbt knows its value, so nothing that depends on it is verified: a warning, an error
  when the platform's naming enforcement is strict. `floe run` and `floe compile
  --parse` read dbt's own parse, where nothing is unresolved.
- `project.*`: what the reader reports about its input (`project.manifest_stale`).
"""

from __future__ import annotations

from floe.rules.context import Context
from floe.rules.model import Finding, Severity


def check(ctx: Context) -> list[Finding]:
    strict = ctx.platform.naming_rules.enforcement == "strict"
    severity: Severity = "error" if strict else "warning"
    findings: list[Finding] = []
    for model in ctx.models:
        for key, line, text in model.unresolved:
            findings.append(
                ctx.finding(
                    "config.unresolved",
                    severity,
                    model,
                    f"model {model.name}: config {key}={text} cannot be evaluated without dbt; "
                    "floe did not verify it",
                    "use a literal value, or run `floe compile --parse` / `floe run` so "
                    "floe checks what dbt resolves",
                    line=line,
                    file=model.sql_file or model.file,
                )
            )
    return findings


def reader(ctx: Context) -> list[Finding]:
    return list(ctx.project.reader_findings)


def unparsed(ctx: Context) -> list[Finding]:
    """`lineage.unparsed` (info): SQL sqlglot cannot parse; no column claims are made."""
    findings: list[Finding] = []
    for model in ctx.models:
        lineage = ctx.lineage.get(model.name)
        if lineage is not None and lineage.error is not None:
            findings.append(
                ctx.finding(
                    "lineage.unparsed",
                    "info",
                    model,
                    f"model {model.name}: floe could not parse its SQL ({lineage.error}); "
                    "its columns were not traced",
                    "run `floe compile --parse` / `floe run`, or simplify the Jinja in "
                    f"{model.sql_file}",
                    file=model.sql_file or model.file,
                    line=1,
                )
            )
    return findings
