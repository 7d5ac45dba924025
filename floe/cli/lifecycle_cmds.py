"""`floe init`, `floe platform cache list|clear`, and project mode of `floe platform pull`.

The work happens in floe.project.lifecycle / floe.release.cache (imported inside the
commands so `floe --help` stays fast); this module parses flags and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common, project_render
from floe.cli.render import Rendered
from floe.cli.transport_cmds import registry_flags
from floe.errors import UsageError

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions

DIR_OPTION = common.dir_option("The dbt project (where floe.yaml lives).")


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    cli.add_command(init)
    platform.add_command(cache)


# ---- floe init -------------------------------------------------------------------------


@click.command("init")
@click.option(
    "--platform",
    "constraint",
    required=True,
    help="Version constraint: v1.2.3, v1.2.*, v1.*.*, ^1.2, ~1.2.3, '>=1.2,<2' or latest.",
)
@click.option("--registry", help="oci://HOST[:PORT]/REPO or oci-layout://PATH (no tag).")
@DIR_OPTION
@click.option(
    "--key",
    "keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pin a trusted public key (cosign.pub) in floe.yaml; implies signing is required. "
    "Repeatable.",
)
@click.option(
    "--identity",
    "identity_texts",
    multiple=True,
    metavar="ISSUER=SUBJECT",
    help="Pin a trusted keyless signer in floe.yaml (e.g. "
    "https://token.actions.githubusercontent.com=URI). Repeatable.",
)
@click.option("--offline", is_flag=True, help="Never use the network (needs the lock).")
@click.option("--allow-downgrade", is_flag=True, help="Accept a version older than the lock.")
@registry_flags
@common.format_option()
def init(
    constraint: str,
    registry: str | None,
    project_dir: Path,
    keys: tuple[Path, ...],
    identity_texts: tuple[str, ...],
    offline: bool,
    allow_downgrade: bool,
    options: RegistryOptions,
    fmt: str,
) -> None:
    """Resolve the platform, verify its signature, cache it, lock it, write floe.yaml."""
    from floe.project.lifecycle import init_project
    from floe.signing.policy import parse_identity

    _require_dir(project_dir)
    identities = tuple(parse_identity(text) for text in identity_texts)
    outcome = init_project(
        project_dir,
        constraint,
        registry=registry,
        keys=keys,
        identities=identities,
        offline=offline,
        allow_downgrade=allow_downgrade,
        options=options,
        events=Rendered(),
    )
    if options.ca_file is not None:  # remembered in registries.toml for the next commands
        from floe.oci.settings import remember_ca_file_for

        saved = remember_ca_file_for(outcome.ref, options.ca_file)
        if saved is not None:
            click.echo(f"Remembered --ca-file for {saved[0]} in {saved[1]}", err=True)
    project_render.print_outcome(outcome, "initialized", fmt)


def _require_dir(project_dir: Path) -> None:
    if not project_dir.is_dir():
        raise UsageError(
            "project_dir_missing",
            f"{project_dir} is not a folder",
            hint="pass --dir pointing at your dbt project",
        )


# ---- project mode of `floe platform pull` ---------------------------------------------------


def pull_project_command(
    project_dir: Path,
    *,
    force: bool,
    upgrade: bool,
    allow_downgrade: bool,
    offline: bool,
    options: RegistryOptions,
    fmt: str,
    quiet: bool = False,
    accept_drift: bool = False,
) -> None:
    """`floe platform pull` without REF: floe.yaml + lock -> the project caches."""
    from floe.project.lifecycle import pull_project

    _require_dir(project_dir)
    outcome = pull_project(
        project_dir,
        force=force,
        upgrade=upgrade,
        accept_drift=accept_drift,
        allow_downgrade=allow_downgrade,
        offline=offline,
        options=options,
        events=Rendered(quiet),
    )
    if quiet and fmt == "text":
        click.echo(f"Locked: {outcome.ref} ({outcome.locked.manifest_digest})")
        return
    project_render.print_outcome(outcome, "pulled", fmt)


# ---- floe platform cache ------------------------------------------------------------------


@click.group("cache")
def cache() -> None:
    """Show or clear the project's platform cache and the user-wide blob cache."""


@cache.command("list")
@DIR_OPTION
@common.format_option()
def cache_list(project_dir: Path, fmt: str) -> None:
    """Cached platform versions with sizes and digests, and the user-wide cache size."""
    from floe.release.cache import list_cache

    listing = list_cache(project_dir)
    if fmt == "json":
        common.emit_json({"event": "cache", **listing})
        return
    _print_listing(listing)


def _print_listing(listing: dict[str, Any]) -> None:
    from floe.events import human_size

    versions = listing["versions"]
    if not versions:
        click.echo("No platform versions cached in this project.")
    for row in versions:
        mark = " (locked)" if row["locked"] else ""
        click.echo(
            f"{row['version']}{mark}  {human_size(row['size'])}  {row['status']}  "
            f"{row['manifest_digest'] or row['content_digest'] or ''}"
        )
    click.echo(f"Project blob cache: {human_size(listing['project_oci_size'])}")
    click.echo(
        f"User-wide blob cache: {human_size(listing['global_size'])} ({listing['global_path']})"
    )


@cache.command("clear")
@DIR_OPTION
@click.option("--version", "version", help="Remove only this version's tree (e.g. v1.2.2).")
@click.option("--all", "clear_all", is_flag=True, help="Also remove artifacts.lock.")
@click.option("--global", "clear_global", is_flag=True, help="Empty the user-wide blob cache.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common.format_option()
def cache_clear(
    project_dir: Path,
    version: str | None,
    clear_all: bool,
    clear_global: bool,
    yes: bool,
    fmt: str,
) -> None:
    """Remove cached platform versions (never the lock unless --all)."""
    from floe.release.cache import clear_cache, plan_clear

    plan = plan_clear(project_dir, version=version, clear_all=clear_all, clear_global=clear_global)
    if not plan:
        common.step("Nothing to clear.")
        if fmt == "json":
            common.emit_json({"event": "cache_cleared", "removed": []})
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(
                "confirmation_required",
                f"would remove {', '.join(str(p) for p in plan)}",
                hint="pass --yes to confirm when not running in a terminal",
            )
        click.confirm(f"Remove {', '.join(str(p) for p in plan)}?", abort=True)
    removed = clear_cache(project_dir, plan)
    if fmt == "json":
        common.emit_json({"event": "cache_cleared", "removed": [str(p) for p in removed]})
        return
    for path in removed:
        click.echo(f"Removed: {path}")
