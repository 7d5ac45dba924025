"""`floe platform diff OLD NEW`: rule-by-rule changes between two compiled trees."""

from __future__ import annotations

from pathlib import Path

import click

from floe.cli import common

_FOLDER = click.Path(path_type=Path, file_okay=False, exists=True)


@click.command("diff")
@click.argument("old", type=_FOLDER)
@click.argument("new", type=_FOLDER)
@click.option("--semver", is_flag=True, help="Also say the smallest version bump the changes need.")
@common.format_option()
def diff_cmd(old: Path, new: Path, semver: bool, fmt: str) -> None:
    """Compare two compiled platform trees (folders written by `floe platform compile`)."""
    from floe.platform.diff import diff_folders

    report = diff_folders(old, new)
    if fmt == "json":
        common.emit_json(report.as_json())
        return
    click.echo(f"{report.old} -> {report.new}: {len(report.changes)} rule change(s)")
    for change in report.changes:
        marker = " (breaking)" if change.breaking else ""
        click.echo(f"  {change.kind:<10}  {change.rule}: {change.detail}{marker}")
    if semver:
        verdict = "enough" if report.enough else "too small"
        made = f"{report.old} -> {report.new} is {report.made}"
        click.echo(f"semver: needs {report.needed}; {made} ({verdict})")


def register(cli: click.Group, platform: click.Group) -> None:
    platform.add_command(diff_cmd)
