"""`floe platform publish | pull | copy`: parse flags, call one floe.artifact (or
floe.platform.release) function, render its result. `inspect` and `list` live in
view_cmds.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli import common, copy_cmds, view_cmds
from floe.cli.options import quiet_option, registry_flags, trust_flags
from floe.cli.render import cli_events
from floe.errors import FloeError, UsageError
from floe.events import human_size

if TYPE_CHECKING:
    from floe.artifact.pull import PullResult
    from floe.artifact.verify import DownloadTrust
    from floe.oci.options import RegistryOptions

__all__ = ["register", "registry_flags"]


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    for command in (publish, pull, view_cmds.inspect, view_cmds.list_versions, copy_cmds.copy):
        platform.add_command(command)


@click.command("publish")
@click.argument("version")
@click.option("--registry", help="oci://HOST[:PORT][/REPO] or oci-layout://PATH.")
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".floe/artifacts"),
    show_default=True,
    help="The compiled platform tree.",
)
@click.option("--force", is_flag=True, help="Move an existing version tag to this build.")
@common.signer_options(" after pushing (default: the manifest's security.signing.key)")
@common.signing_identity_option
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Publish unsigned although the tree says require_signed_artifacts: true.",
)
@click.option(
    "--attest", is_flag=True, help="Also attach signed SLSA provenance (needs --key or --keyless)."
)
@click.option(
    "--source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --attest: the manifest the tree was compiled from (default: as compile finds it).",
)
@click.option("--check-semver", is_flag=True, help="Refuse a VERSION below the bump needed.")
@registry_flags
@quiet_option
@common.format_option()
def publish(version: str, registry: str | None, artifacts: Path, force: bool,
            key_path: Path | None, keyless: bool, identity_token: str | None,
            signing_identity: str | None, allow_unsigned: bool, attest: bool, source: Path | None,
            check_semver: bool,
            options: RegistryOptions, quiet: bool, fmt: str) -> None:  # fmt: skip
    """Push the compiled platform as VERSION (e.g. v1.2.3) to an OCI registry (default:
    artifacts.registry, else the embedded registry's repository named after the platform).
    A VERSION below the bump the changes since the previous release need is a warning."""
    from floe.platform.release import ReleaseRequest, publish_platform

    request = ReleaseRequest(
        version, artifacts, registry, force, key_path, keyless, identity_token,
        allow_unsigned, attest, source, options, check_semver,
        signing_identity=signing_identity,
    )  # fmt: skip
    with cli_events(quiet) as events:
        release = publish_platform(request, events)
    result = release.published
    if fmt == "json":
        semver = release.semver.as_json() if release.semver else None
        common.emit_json(
            {"event": "published", "reference": str(result.reference), "digest": result.digest,
             "version": result.version, "content_digest": result.content_digest,
             "signatures": result.signatures, "attestation": result.attestation,
             "semver": semver, **result.stats.to_json()}
        )  # fmt: skip
        return
    click.echo(f"Published: {result.reference}")
    click.echo(f"Digest: {result.digest}")


@click.command("pull")
@click.argument("ref", required=False)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Where to write REF.")
@click.option(
    "--force",
    is_flag=True,
    help="With REF: replace a non-empty --out folder. Without: download and verify everything.",
)
@click.option("--upgrade", is_flag=True, help="Project mode: resolve floe.yaml again.")
@click.option(
    "--accept-drift",
    is_flag=True,
    help="Project mode: take the locked tag's new digest, verified against the lock's signers.",
)
@click.option("--allow-downgrade", is_flag=True, help="Project mode: accept an older version.")
@click.option(
    "--offline",
    is_flag=True,
    help="Project mode: never use the network. With REF: keyless checks use the cached root.",
)
@common.dir_option("Project mode: the dbt project with floe.yaml.")
@trust_flags
@registry_flags
@quiet_option
@common.format_option()
def pull(
    ref: str | None,
    out_dir: Path | None,
    force: bool,
    upgrade: bool,
    accept_drift: bool,
    allow_downgrade: bool,
    offline: bool,
    project_dir: Path,
    trust: DownloadTrust,
    options: RegistryOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Fetch REF to --out; without REF, pull the project's locked platform (floe.yaml + lock).

    REF is verified before anything is written: against --key/--identity when given
    (a signature is then required), else against the artifact's own policy (first use).
    """
    if ref is None:
        _check_project_mode(out_dir, trust)
        from floe.cli.lifecycle_cmds import pull_project_command

        pull_project_command(
            project_dir,
            force=force,
            upgrade=upgrade,
            allow_downgrade=allow_downgrade,
            offline=offline,
            options=options,
            fmt=fmt,
            quiet=quiet,
            accept_drift=accept_drift,
        )
        return
    if out_dir is None:
        raise FloeError(
            "pull_out_missing",
            "pulling REF needs --out DIR",
            hint="floe platform pull REF --out DIR",
        )
    from floe.artifact.pull import PullRequest, pull_to_dir

    request = PullRequest(ref, out_dir, force, replace(trust, offline=offline), options)
    with cli_events(quiet) as events:
        result = pull_to_dir(request, events)
    _report_pull(result, quiet, fmt)


def _check_project_mode(out_dir: Path | None, trust: DownloadTrust) -> None:
    if out_dir is not None:
        raise FloeError(
            "pull_ref_missing", "--out needs a REF", hint="floe platform pull REF --out DIR"
        )
    if trust.given:
        raise UsageError(
            "pull_trust_options",
            "--key, --identity and --require-signed apply to `pull REF --out DIR`",
            hint="a project pins its signers in floe.yaml: floe init --platform=... --key "
            "cosign.pub",
        )


def _report_pull(result: PullResult, quiet: bool, fmt: str) -> None:
    unpacked = result.unpacked
    if fmt == "json":
        common.emit_json(
            {"event": "pulled", "reference": str(result.reference), "digest": result.digest,
             "out": str(result.out_dir), "floe_platform": unpacked.is_floe,
             "artifact_type": unpacked.artifact_type, "content_digest": unpacked.content_digest,
             "files": sorted(unpacked.files), "verified": result.verified,
             "signer": result.signer, "trust": result.trust}
        )  # fmt: skip
        return
    common.step(f"Pulled {result.reference}", quiet)
    for path in sorted(unpacked.files):
        common.step(f"  ✓ {path} ({human_size(unpacked.files[path].size)}, verified)", quiet)
    if not unpacked.is_floe:
        count = len(unpacked.files)
        tree = (
            f"its files form a valid platform tree (content digest {unpacked.content_digest})"
            if unpacked.content_digest
            else "its files are not a platform tree"
        )
        click.echo(
            f"note: {result.digest} was not published by floe (artifactType "
            f"{unpacked.artifact_type}); wrote {count} file{'' if count == 1 else 's'}; {tree}",
            err=True,
        )
    else:
        common.step(f"Content digest: {unpacked.content_digest}", quiet)
    click.echo(f"Digest: {result.digest}")
    click.echo(f"Written to: {result.out_dir}")
