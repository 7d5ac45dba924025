"""`floe platform compile` and `floe schema export` (the platform manifest's own commands)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli import common
from floe.cli.options import registry_flags

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions

DEFAULT_OUT = Path(".floe/artifacts")


@click.command("compile")
@click.argument("manifest", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_OUT,
    show_default=True,
    help="Directory for the compiled tree (replaced atomically).",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Never use the network: a parent (`extends:`) comes from platform.lock and the caches.",
)
@registry_flags
@common.format_option()
def compile_cmd(
    manifest: Path | None, out_dir: Path, offline: bool, options: RegistryOptions, fmt: str
) -> None:
    """Compile MANIFEST (default: ./manifest.yaml or the only manifests/*/manifest.yaml)."""
    from floe.cli.render import Rendered
    from floe.platform.compile import compile_platform, default_manifest

    source = manifest if manifest is not None else default_manifest(Path.cwd())
    result = compile_platform(
        source, out_dir, report=common.step, offline=offline, options=options, events=Rendered()
    )
    inheritance = result.manifest.inheritance
    if fmt == "json":
        import hashlib

        common.emit_json(
            {
                "event": "platform_compiled",
                "manifest": str(source),
                "out": str(out_dir),
                "name": result.manifest.metadata.name,
                "version": result.manifest.metadata.version,
                "created": result.manifest.metadata.created,
                "content_digest": result.content_digest,
                "extends": [p.model_dump(mode="json") for p in inheritance.parents]
                if inheritance is not None
                else [],
                "lock_written": result.lock_written,
                "plugins": [
                    {"slot": p.slot, "type": p.type, "version": p.version, "line": p.line}
                    for p in result.plugins
                ],
                "files": [
                    {
                        "path": path,
                        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                    }
                    for path, data in sorted(result.files.items())
                ],
            }
        )
        return
    shown = out_dir.as_posix().rstrip("/") + "/"
    click.echo("")
    click.echo(f"Artifacts built: {shown}")
    click.echo(f"Content digest: {result.content_digest}")
    if result.lock_written and result.parent is not None:
        click.echo(f"Locked parent: {result.parent.lock_file.name} ({result.parent.locked.ref})")


@click.group("schema")
def schema_group() -> None:
    """JSON Schema of the platform manifest (for editors and CI)."""


@schema_group.command("export")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE instead of stdout.",
)
def schema_export(out_file: Path | None) -> None:
    """Print (or write) the JSON Schema of manifest.yaml."""
    from floe.platform.manifest import manifest_schema_bytes

    data = manifest_schema_bytes()
    if out_file is None:
        click.echo(data.decode("utf-8"), nl=False)
        return
    from floe.files import atomic_write

    atomic_write(out_file, data, fsync=False)
    click.echo(f"Wrote {out_file}", err=True)


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    platform.add_command(compile_cmd)
    cli.add_command(schema_group)
