"""`floe compile --baseline FINDINGS.json`, `--format github`, `--format text --compact`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

BASELINE_OPTION = click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A previous findings.json: only findings not in it block.",
)
COMPACT_OPTION = click.option(
    "--compact",
    is_flag=True,
    default=False,
    help="With --format text: one `file:line:col: rule-id message` line per finding.",
)


def load(path: Path | None) -> Any:
    if path is None:
        return None
    from floe.project.report_formats import load_baseline

    return load_baseline(path)


def render(outcome: Any, fmt: str, compact: bool, baseline: Any) -> bool:
    """Print the github/compact formats and the baseline line; True when it printed the
    whole output (the caller prints nothing more)."""
    from floe.project import report_formats

    findings = outcome.result.findings
    if baseline is not None and fmt in ("text", "github"):
        summary = report_formats.baseline_summary(outcome.result, baseline)
        click.echo(
            f"Baseline {summary['baseline']}: {summary['known']} known finding(s) do not "
            f"block, {summary['new']} new ({summary['new_errors']} error(s)), "
            f"{summary['fixed']} fixed since",
            err=fmt == "github",
        )
    if fmt == "github":
        for line in report_formats.github_lines(findings):
            click.echo(line)
        return True
    if fmt == "text" and compact:
        for line in report_formats.compact_lines(findings):
            click.echo(line)
        n = sum(1 for f in findings if f.severity == "error")
        verdict = "blocked" if outcome.blocked else "passed"
        click.echo(
            f"Compilation {verdict}: {n} error{'s' if n != 1 else ''}, {len(findings)} finding(s)"
        )
        return True
    return False
