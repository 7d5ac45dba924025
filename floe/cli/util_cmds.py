"""`floe doctor`: this machine, every configured registry and the project; exit 1 when
any check failed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common
from floe.cli.options import registry_flags

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions

MARKS = {"ok": "✓", "fail": "✗", "warn": "!", "skip": "-"}
HEADINGS = {
    "environment": "Environment",
    "tools": "Tools on PATH",
    "dbt": "dbt",
    "registry": "Registries",
    "project": "Project",
}


def _text_report(report: dict[str, Any]) -> None:
    click.echo("floe doctor")
    checks = report["checks"]
    for section, heading in HEADINGS.items():
        mine = [c for c in checks if c["section"] == section]
        if not mine:
            continue
        click.echo(heading)
        for check in mine:
            click.echo(f"  {MARKS[check['status']]} {check['message']}")
            if check.get("hint") and check["status"] in ("fail", "warn"):
                click.echo(f"      hint: {check['hint']}")
    failures, warnings = report["failures"], report["warnings"]
    if failures:
        plural = "s" if failures != 1 else ""
        click.echo(f"{failures} check{plural} failed, {warnings} warning(s)")
    else:
        click.echo(f"All checks passed, {warnings} warning(s)")


@click.command("doctor")
@click.option("--registry", "registry", default=None, help="A registry reference to probe too.")
@common.dir_option("The dbt project to check (with floe.yaml).")
@click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where floe writes profiles.yml [default: the project directory].",
)
@registry_flags
@common.format_option()
def doctor(
    registry: str | None,
    project_dir: Path,
    profiles_dir: Path | None,
    options: RegistryOptions,
    fmt: str,
) -> None:
    """Check Python, dbt, tools, every configured registry (reach, TLS, credentials) and
    the project (floe.yaml, lock, cache digests, profile). Exit 1 when a check fails."""
    from floe.project.doctor import diagnose

    report = diagnose(registry, project_dir=project_dir, profiles_dir=profiles_dir, options=options)
    if fmt == "json":
        common.emit_json(report)
    else:
        _text_report(report)
    if not report["ok"]:
        raise click.exceptions.Exit(1)


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    cli.add_command(doctor)
