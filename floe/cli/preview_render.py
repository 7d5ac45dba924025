"""`floe compile --platform VERSION`: run the upgrade preview and show it.

text: both verdicts, then the findings the candidate adds (+), removes (-) and changes (~);
json: the `UpgradePreview` document; github and sarif: the findings the candidate adds
or changes (what a pull request should see). Exit 1 when the candidate would block.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.project.preview import Gate, Preview

FORMATS = ("text", "json", "github", "sarif")


def _verdict_line(version: str, role: str, gate: Gate) -> str:
    result = gate.result
    status = "blocked" if gate.blocked else "passed"
    minimum = gate.tree.quality_gates.minimum_test_coverage
    return (
        f"  {'✗' if gate.blocked else '✓'} {version} ({role}): {status}, {result.errors} "
        f"error(s), {result.warnings} warning(s); coverage {result.coverage.percent:g}% "
        f"(minimum {minimum:g}%)"
    )


def _lines(mark: str, findings: list[Any]) -> list[str]:
    from floe.project.report_formats import compact_lines

    return [f"  {mark} {line}" for line in compact_lines(findings)]


def render_text(preview: Preview, constraint: str) -> None:
    current, candidate = preview.current, preview.candidate
    name = candidate.tree.manifest.metadata.name
    click.echo(f"Upgrade preview: {name} {current.version} (locked) -> {candidate.version}")
    click.echo(_verdict_line(current.version, "locked", preview.before))
    click.echo(_verdict_line(candidate.version, "candidate", preview.after))
    diff = preview.diff
    click.echo(f"Findings {candidate.version} adds: {len(diff.added)}")
    for line in _lines("+", diff.added):
        click.echo(line)
    click.echo(f"Findings {candidate.version} removes: {len(diff.removed)}")
    for line in _lines("-", diff.removed):
        click.echo(line)
    if diff.changed:
        click.echo(f"Findings {candidate.version} changes: {len(diff.changed)}")
    for change in diff.changed:
        (line,) = _lines("~", [change.after])
        click.echo(f"{line} (was {_state(change.before)})")
    newer = candidate.newer  # the highest match is the candidate: only `outside` can be set
    if newer is not None and newer.outside:
        click.echo(f"  ! A newer version {newer.outside} exists outside {constraint}")
    click.echo("Not locked: artifacts.lock, floe.yaml and the reports are unchanged")
    if preview.blocked:
        n = preview.after.result.errors
        click.echo(f"{candidate.version} would block this project: {n} error(s)")
    else:
        click.echo(f"{candidate.version} would pass; `floe init --platform={constraint}` pins it")


def _state(finding: Any) -> str:
    return f"{finding.severity}{', waived' if finding.waived else ''}"


def run_preview(
    project_dir: Path,
    constraint: str,
    fmt: str,
    manifest: Path | None,
    parse: bool,
    options: RegistryOptions,
    unused: Mapping[str, object],
) -> None:
    """Preview CONSTRAINT on the project; exit 1 when the candidate's gate fails.

    `unused`: the build's flags (--out, --profiles-dir, ...), refused when given.
    """
    from floe.cli.render import Rendered
    from floe.errors import UsageError
    from floe.project.preview import preview_upgrade

    given = [flag for flag, value in unused.items() if value]
    if given:
        raise UsageError(
            "usage_invalid",
            f"{', '.join(given)}: a preview (--platform) writes no reports and no profile",
            hint="drop them, or drop --platform to build against the locked platform",
        )
    if fmt not in FORMATS:
        raise UsageError(
            "usage_invalid",
            f"--platform previews print {', '.join(FORMATS)}, not {fmt}",
            hint="use --format sarif for CI annotations, or drop --platform to build",
        )
    preview = preview_upgrade(
        project_dir.resolve(),
        constraint,
        manifest=manifest,
        parse=parse,
        options=options,
        events=Rendered(),
    )
    shown = [*preview.diff.added, *(c.after for c in preview.diff.changed)]
    if fmt == "json":
        common.emit_json({"event": "upgrade_preview", **preview.to_json()})
    elif fmt == "github":
        from floe.project.report_formats import github_lines

        for line in github_lines(shown):
            click.echo(line)
    elif fmt == "sarif":
        from dataclasses import replace

        from floe.project import report

        document = report.sarif_document(replace(preview.after.result, findings=shown))
        click.echo(report.dumps_json(document), nl=False)
    else:
        render_text(preview, constraint)
    if preview.blocked:
        raise click.exceptions.Exit(1)
