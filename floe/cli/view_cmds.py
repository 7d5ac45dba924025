"""`floe platform inspect | list`: read-only views of a registry, rendered as text or json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from floe.cli import common
from floe.cli.options import registry_flags
from floe.events import human_size

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions


@click.command("inspect")
@click.argument("ref")
@registry_flags
@common.format_option()
def inspect(ref: str, options: RegistryOptions, fmt: str) -> None:
    """Show an artifact's manifest, annotations, files, signatures and other referrers.

    A bare VERSION is looked up where publish would push: in a platform folder the
    manifest's artifacts.registry (else the platform's embedded repository).
    """
    from floe.platform.where import inspect_here

    info = inspect_here(ref, options=options).to_json()
    if fmt == "json":
        common.emit_json(info)
        return
    _print_inspect(info)


def _print_inspect(info: dict[str, Any]) -> None:
    click.echo(f"Reference:     {info['reference']}")
    click.echo(f"Digest:        {info['digest']}")
    click.echo(f"Artifact type: {info['artifact_type']}")
    for parent in info.get("extends") or []:
        click.echo(f"Extends:       {parent['ref']} ({parent['manifest_digest']})")
    for key, value in sorted(info["annotations"].items()):
        click.echo(f"  {key}: {value}")
    click.echo(f"Files ({len(info['files'])}):")
    for f in info["files"]:
        title = f["title"] or "(untitled)"
        click.echo(
            f"  {title:<40} {human_size(f['size']):>9}  {f['digest'][:19]}  {f['media_type']}"
        )
    click.echo(f"Referrers ({len(info['referrers'])}):")
    for r in info["referrers"]:
        click.echo(f"  {r['digest']}  {r['artifact_type']}")
        if "attestation" in r:
            _print_attestation(r["attestation"])
    for tag in info["legacy_signature_tags"]:
        click.echo(f"  {tag}  (cosign tag-schema)")
    if not info["referrers"] and not info["legacy_signature_tags"]:
        click.echo("  none (the artifact is not signed)")


def _print_attestation(claims: dict[str, Any]) -> None:
    if "error" in claims:
        click.echo(f"    attestation: {claims['error']}")
        return
    click.echo(f"    attestation:  {claims['predicate_type']} (claims; `platform verify` checks)")
    click.echo(f"    builder:      {claims['builder']}")
    for name, value in sorted(claims["external_parameters"].items()):
        click.echo(f"    {name + ':':<13} {value}")
    click.echo(f"    materials ({len(claims['materials'])}):")
    for material in claims["materials"]:
        digests = ", ".join(f"{k}:{v}" for k, v in sorted(material["digest"].items()))
        click.echo(f"      {material['uri']}  {digests}")


@click.command("list")
@click.argument("registry", required=False)
@click.option("--all", "show_all", is_flag=True, help="Also list non-semver and sha256-* tags.")
@registry_flags
@common.format_option()
def list_versions(registry: str | None, show_all: bool, options: RegistryOptions, fmt: str) -> None:
    """List published versions (newest first) with their digests.

    Without REGISTRY: FLOE_REGISTRY, else (in a platform folder) the manifest's
    artifacts.registry or the platform's embedded repository, else the embedded registry.
    """
    from floe.platform.where import list_here

    listing = list_here(registry, show_all=show_all, options=options)
    if fmt == "json":
        common.emit_json(
            {"registry": str(listing.repository),
             "versions": [row.to_json() for row in listing.versions],
             "other_tags": [row.to_json() for row in listing.other_tags],
             "hidden": listing.hidden}
        )  # fmt: skip
        return
    click.echo(f"Versions in {listing.repository}:")
    for row in listing.versions:
        click.echo(f"  {row.tag:<20} {row.digest}")
    if not listing.versions:
        click.echo("  none")
    for row in listing.other_tags:
        click.echo(f"  {row.tag:<20} {row.digest}  (not a version)")
    if listing.hidden and not show_all:
        click.echo(f"({listing.hidden} other tags hidden; --all shows them)")
