"""`floe platform copy SRC DST`: mirror an artifact between registries and layouts."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import click

from floe.cli import common
from floe.cli.options import copy_flags, quiet_option, trust_flags
from floe.cli.render import cli_events
from floe.events import human_size

if TYPE_CHECKING:
    from floe.artifact.verify import DownloadTrust
    from floe.oci.options import RegistryOptions


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--with-referrers", is_flag=True, help="Copy signatures and attestations too.")
@click.option("--force", is_flag=True, help="Move an existing version tag at the destination.")
@click.option("--offline", is_flag=True, help="Keyless verification: cached trusted root.")
@trust_flags
@copy_flags
@quiet_option
@common.format_option()
def copy(src: str, dst: str, with_referrers: bool, force: bool, offline: bool,
         trust: DownloadTrust, options: RegistryOptions, dst_options: RegistryOptions,
         quiet: bool, fmt: str) -> None:  # fmt: skip
    """Mirror SRC to DST between registries and layouts (e.g. into an air-gapped layout).

    With --key/--identity/--require-signed, SRC is verified first and a rejected
    artifact is not copied. A tag that disagrees with the artifact's version is refused.
    """
    from floe.artifact.copy import CopyRequest, copy_artifact

    trust = replace(trust, offline=offline)
    request = CopyRequest(src, dst, with_referrers, force, trust, options, dst_options)
    with cli_events(quiet) as events:
        result = copy_artifact(request, events)
    stats = result.stats
    if fmt == "json":
        common.emit_json(
            {"event": "copied", "source": str(result.source),
             "destination": str(result.destination), "digest": result.digest, **stats.to_json()}
        )  # fmt: skip
        return
    common.step(
        f"  ✓ {stats.blobs_copied} blobs copied ({human_size(stats.bytes_copied)}), "
        f"{stats.blobs_mounted} mounted, {stats.blobs_skipped} already present, "
        f"{len(stats.referrers)} referrers",
        quiet,
    )
    click.echo(f"Copied: {result.destination}")
    click.echo(f"Digest: {result.digest}")
