"""`floe platform diff OLD NEW`: rule-by-rule changes between two platform versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from floe.cli import common
from floe.cli.options import quiet_option, registry_flags, trust_flags
from floe.cli.render import cli_events

if TYPE_CHECKING:
    from floe.artifact.verify import DownloadTrust
    from floe.oci.options import RegistryOptions


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--semver",
    is_flag=True,
    help="Also say the smallest version bump the changes need (exit 1 when NEW's is smaller).",
)
@click.option("--registry", help="Where a bare version is looked up (oci://... or oci-layout://).")
@click.option("--offline", is_flag=True, help="Keyless verification: cached trusted root.")
@trust_flags
@registry_flags
@quiet_option
@common.format_option()
def diff_cmd(old: str, new: str, semver: bool, registry: str | None, offline: bool,
             trust: DownloadTrust, options: RegistryOptions, quiet: bool,
             fmt: str) -> None:  # fmt: skip
    """Compare two platforms, each a compiled folder (`floe platform compile`), a
    reference (oci://HOST/REPO:v1.2.0, oci-layout://PATH:v1.2.0) or a bare version in
    the configured registry (a platform folder's artifacts.registry, as publish uses).

    References are pulled and verified first (--key/--identity, else the release's own
    policy). Each change is tightening, loosening or neutral. Exit 0 when the diff was
    made (changes or not); with --semver, 1 when NEW's version is a smaller bump than
    the changes need.
    """
    from dataclasses import replace

    from floe.platform.diff import DiffRequest, diff_platforms

    request = DiffRequest(old, new, replace(trust, offline=offline), registry, options)
    with cli_events(quiet) as events:
        report = diff_platforms(request, events)
    if fmt == "json":
        common.emit_json(report.as_json())
    else:
        click.echo(f"{report.old} -> {report.new}: {len(report.changes)} rule change(s)")
        for change in report.changes:
            marker = " (breaking)" if change.breaking else ""
            click.echo(f"  {change.kind:<10}  {change.rule}: {change.detail}{marker}")
        if semver:
            verdict = "enough" if report.enough else "too small"
            made = f"{report.old} -> {report.new} is {report.made}"
            click.echo(f"semver: needs {report.needed}; {made} ({verdict})")
    if semver and not report.enough:
        raise click.exceptions.Exit(1)


def register(cli: click.Group, platform: click.Group) -> None:
    platform.add_command(diff_cmd)
