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
