"""`floe platform publish | pull | inspect | list | copy`: moving artifacts between Targets.

Every command here is one graph copy or one read between Targets (a registry
repository or an OCI image layout). Heavy modules are imported inside the
command bodies so `floe --help` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from floe.cli import common
from floe.errors import FloeError

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import Reference
    from floe.oci.target import Descriptor, Target

F = TypeVar("F", bound=Callable[..., Any])

FOLDER_ORDER = ("manifest.json", "policies/", "catalog/", "architecture/")


def registry_flags(func: F) -> F:
    """`--plain-http/--insecure/--ca-file`, handed to the command as `options`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any, plain_http: bool, insecure: bool, ca_file: Path | None, **kwargs: Any
    ) -> Any:
        from floe.oci.options import RegistryOptions

        kwargs["options"] = RegistryOptions(
            plain_http=True if plain_http else None, insecure=insecure, ca_file=ca_file
        )
        return func(*args, **kwargs)

    decorated: Any = wrapper
    for option in (
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="CA bundle to verify the registry's TLS certificate.",
        ),
        click.option("--insecure", is_flag=True, help="Skip TLS certificate verification."),
        click.option(
            "--plain-http", is_flag=True, help="Use HTTP, not HTTPS (automatic for loopback)."
        ),
    ):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


class TrustFlags(NamedTuple):
    """`--key/--identity/--require-signed` of a download (pull REF, copy)."""

    keys: tuple[Path, ...]
    identities: tuple[str, ...]
    require_signed: bool | None  # None: required when keys or identities are given

    @property
    def given(self) -> bool:
        return bool(self.keys or self.identities or self.require_signed is not None)

    @property
    def required(self) -> bool:
        if self.require_signed is None:
            return bool(self.keys or self.identities)
        return self.require_signed


def trust_flags(func: F) -> F:
    """`--key PUB` (repeatable), `--identity ISSUER=SUBJECT`, `--require-signed/--no-...`,
    handed to the command as `trust`."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        trusted_keys: tuple[Path, ...],
        identities: tuple[str, ...],
        require_signed: bool | None,
        **kwargs: Any,
    ) -> Any:
        kwargs["trust"] = TrustFlags(trusted_keys, identities, require_signed)
        return func(*args, **kwargs)

    decorated: Any = wrapper
    for option in (
        click.option(
            "--require-signed/--no-require-signed",
            default=None,
            help="Refuse (or accept, with a warning) an artifact with no signature. "
            "Default: required with --key/--identity, else the artifact's own policy.",
        ),
        click.option(
            "--identity",
            "identities",
            multiple=True,
            metavar="ISSUER=SUBJECT",
            help="A trusted keyless signer; repeat for several.",
        ),
        click.option(
            "--key",
            "trusted_keys",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="A trusted public key (cosign.pub); repeat for several.",
        ),
    ):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="Print only the result.")(func)


def human_size(size: int) -> str:
    """`300 B`, `4.5 KB`, `2.1 MB` (decimal units)."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("KB", "MB"):
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def lookup(target: Target, reference: str) -> Descriptor | None:
    """Resolve a tag or digest; None when the registry or layout does not have it."""
    try:
        return target.resolve(reference)
    except FloeError as exc:
        if exc.slug.endswith("_not_found") or exc.slug in ("manifest_unknown", "name_unknown"):
            return None
        raise


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    for command in (publish, pull, inspect, list_versions, copy):
        platform.add_command(command)


# ---- publish -----------------------------------------------------------------------


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
@common.signer_options(" after pushing")
@click.option(
    "--attest",
    is_flag=True,
    help="Also attach signed SLSA provenance (needs --key or --keyless).",
)
@click.option(
    "--source",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --attest: the manifest the tree was compiled from (default: as compile finds it).",
)
@registry_flags
@quiet_option
@common.format_option()
def publish(
    version: str,
    registry: str | None,
    artifacts: Path,
    force: bool,
    key_path: Path | None,
    keyless: bool,
    identity_token: str | None,
    attest: bool,
    source: Path | None,
    options: RegistryOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Push the compiled platform as VERSION (e.g. v1.2.3) to an OCI registry."""
    from floe.artifact.pack import normalize_version, pack_tree, read_tree_dir, tree_metadata
    from floe.oci.copy import StaticTarget
    from floe.oci.resolve import configured_registry, parse_repository, target_for

    normalize_version(version)  # a bad VERSION is reported before any file is read
    files = read_tree_dir(artifacts)
    metadata = tree_metadata(files, str(artifacts))
    packed = pack_tree(files, version, metadata=metadata)
    repo = parse_repository(configured_registry(registry, metadata["registry"]))
    provenance = _provenance_source(attest, source, key_path, keyless, files)
    signer = _load_signer(key_path, keyless)  # before pushing: a bad password publishes nothing
    ref = repo.with_tag(version)
    dst = target_for(ref, options)
    root = packed.descriptor
    common.step(f"Publishing to {ref}", quiet)
    _check_tag_free(dst, ref, root.digest, force)
    total = sum(blob.desc.size for blob in packed.layers) + len(packed.config)
    stats = _copy_with_progress(
        StaticTarget(packed.blobs()),
        dst,
        root,
        version,
        options,
        quiet,
        label="Uploading",
        total=total,
    )
    for line in _upload_lines(files, stats.blobs_copied == 0):
        common.step(line, quiet)
    signed = _sign(dst, ref, root, signer, keyless, identity_token, quiet)
    attestation = None
    if provenance is not None:
        statement = _provenance_statement(ref, root, provenance, version, metadata["digest"])
        attestation = _attest(dst, root, statement, signer, identity_token)
        count = len(provenance.inputs)
        common.step(f"  ✓ Attested SLSA provenance ({count} materials) {attestation}", quiet)
    if fmt == "json":
        common.emit_json(
            {
                "event": "published",
                "reference": str(ref),
                "digest": root.digest,
                "version": version,
                "content_digest": metadata["digest"],
                "signatures": signed,
                "attestation": attestation,
                **stats.to_json(),
            }
        )
        return
    click.echo(f"Published: {ref}")
    click.echo(f"Digest: {root.digest}")


def _provenance_source(
    attest: bool,
    source: Path | None,
    key_path: Path | None,
    keyless: bool,
    files: dict[str, bytes],
) -> Any:
    """With --attest: the source manifest, checked to compile to `files` (before any push)."""
    from floe.errors import UsageError

    if not attest:
        if source is not None:
            raise UsageError("attest_source_unused", "--source is only used with --attest")
        return None
    if key_path is None and not keyless:
        raise UsageError(
            "attest_requires_signing",
            "--attest signs the provenance statement, so it needs a signer",
            hint="add --key cosign.key (or --keyless)",
        )
    from floe.platform.attest import check_source
    from floe.platform.compile import default_manifest

    if source is None:
        try:
            source = default_manifest(Path.cwd())
        except UsageError as exc:
            raise UsageError(
                exc.slug, exc.message, hint="pass the manifest the tree was compiled from: --source"
            ) from None
    return check_source(source, files)


def _provenance_statement(
    ref: Reference, root: Descriptor, source: Any, version: str, content_digest: str
) -> bytes:
    from floe.platform.attest import statement_for
    from floe.signing.sign import docker_reference_for

    return statement_for(docker_reference_for(ref), root.digest, source, version, content_digest)


def _attest(
    dst: Target, root: Descriptor, statement: bytes, signer: Any, identity_token: str | None
) -> str:
    """Sign the provenance statement (DSSE) and push it as a bundle referrer of `root`."""
    from floe.signing.provenance import SLSA_PREDICATE, attach_provenance

    if signer is not None:
        return attach_provenance(dst, root, signer, statement).digest
    from floe.signing import keyless
    from floe.signing.sign import push_bundle

    raw = keyless.sign_statement(statement, identity_token)
    return push_bundle(dst, root, raw, SLSA_PREDICATE).digest


def _check_tag_free(dst: Target, ref: Reference, digest: str, force: bool) -> None:
    existing = lookup(dst, ref.tag or "")
    if existing is None or existing.digest == digest or force:
        return
    from floe.errors import GateError

    raise GateError(
        "publish_tag_exists",
        f"{ref} already exists with a different digest ({existing.digest})",
        hint="versions are immutable: publish a new version, or pass --force to move the tag",
    )


def _upload_lines(files: dict[str, bytes], all_present: bool) -> list[str]:
    sizes: dict[str, int] = {}
    for path, data in files.items():
        group = path.split("/", 1)[0] + "/" if "/" in path else path
        sizes[group] = sizes.get(group, 0) + len(data)

    def order(group: str) -> tuple[int, str]:
        rank = FOLDER_ORDER.index(group) if group in FOLDER_ORDER else len(FOLDER_ORDER)
        return (rank, group)

    suffix = ", already present" if all_present else ""
    return [f"  ✓ Uploading {g} ({human_size(sizes[g])}{suffix})" for g in sorted(sizes, key=order)]


def _load_signer(key_path: Path | None, keyless: bool) -> Any:
    if key_path is not None and keyless:
        from floe.errors import UsageError

        raise UsageError("sign_key_required", "pass either --key or --keyless, not both")
    if key_path is None:
        return None
    from floe.signing import load_signer

    return load_signer(key_path)


def _sign(
    dst: Target,
    ref: Reference,
    root: Descriptor,
    signer: Any,
    keyless: bool,
    identity_token: str | None,
    quiet: bool,
) -> list[str]:
    """Signing hook: both cosign formats with --key, a Sigstore bundle with --keyless."""
    if signer is None and not keyless:
        return []
    from floe.signing.sign import docker_reference_for, sign_artifact, sign_keyless

    docker_ref = docker_reference_for(ref)
    if signer is not None:
        pushed = sign_artifact(dst, root, signer, docker_ref)
        who = signer.fingerprint
    else:
        pushed = [sign_keyless(dst, root, docker_ref, identity_token)]
        who = "keyless"
    common.step(f"  ✓ Signed with {who} ({len(pushed)} signatures)", quiet)
    return [desc.digest for desc in pushed]


def _copy_with_progress(
    src: Target,
    dst: Target,
    root: Descriptor,
    tag: str | None,
    options: RegistryOptions,
    quiet: bool,
    *,
    label: str,
    with_referrers: bool = False,
    total: int | None = None,
) -> Any:
    from floe.oci.copy import copy_graph
    from floe.oci.progress import transfer_progress, wanted

    size = total if total is not None else _graph_size(src, root)
    enabled = wanted(size, quiet=quiet, fmt=common.output_format())
    with transfer_progress(size, enabled=enabled, label=label) as on_progress:
        return copy_graph(
            src,
            dst,
            root,
            tag=tag,
            with_referrers=with_referrers,
            concurrency=options.concurrency,
            on_progress=on_progress,
        )


def _graph_size(src: Target, root: Descriptor) -> int:
    """Bytes of an image manifest's blobs (for the progress bar; indexes count as 0)."""
    import json

    manifest = json.loads(src.fetch_bytes(root))
    blobs = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
    return sum(int(b.get("size", 0)) for b in blobs if isinstance(b, dict))


# ---- pull --------------------------------------------------------------------------


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
@click.option(
    "--dir",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Project mode: the dbt project with floe.yaml.",
)
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
    trust: TrustFlags,
    options: RegistryOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Fetch REF to --out; without REF, pull the project's locked platform (floe.yaml + lock).

    REF is verified before anything is written: against --key/--identity when given
    (a signature is then required), else against the artifact's own policy (first use).
    """
    from floe.artifact.pack import check_destination, unpack_artifact
    from floe.oci.progress import transfer_progress, wanted
    from floe.oci.resolve import open_target

    if ref is None:
        from floe.cli.lifecycle_cmds import pull_project_command

        if out_dir is not None:
            raise FloeError(
                "pull_ref_missing", "--out needs a REF", hint="floe platform pull REF --out DIR"
            )
        if trust.given:
            from floe.errors import UsageError

            raise UsageError(
                "pull_trust_options",
                "--key, --identity and --require-signed apply to `pull REF --out DIR`",
                hint="a project pins its signers in floe.yaml: floe init --platform=... --key "
                "cosign.pub",
            )
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
    check_destination(out_dir, force)  # before any network or verification work
    target, parsed = open_target(ref, options)
    desc = _resolve(target, parsed)
    verified = _verify_download(target, parsed, desc, trust, offline, quiet)
    size = _graph_size(target, desc)
    enabled = wanted(size, quiet=quiet, fmt=common.output_format())
    with transfer_progress(size, enabled=enabled, label="Downloading") as on_progress:
        result = unpack_artifact(
            target, desc, out_dir, require_floe=False, force=force, on_progress=on_progress
        )
    _report_pull(parsed, desc, out_dir, result, verified, quiet, fmt)


def _verify_download(
    target: Target,
    ref: Reference,
    desc: Descriptor,
    trust: TrustFlags,
    offline: bool,
    quiet: bool,
) -> Any:
    """Verify `desc` as every pull path does, before anything is written.

    Returns the trust Decision, or None when `--no-require-signed` let an artifact with
    no signature at all through. Raises the GateError of a rejected artifact.
    """
    from floe.errors import GateError
    from floe.project.lifecycle import verify_reference
    from floe.signing.policy import parse_identity

    def warn(line: str) -> None:
        click.echo(line.strip(), err=True)

    identities = tuple(parse_identity(text) for text in trust.identities)
    try:
        decision = verify_reference(
            target,
            desc,
            keys=trust.keys,
            identities=identities,
            offline=offline,
            say=lambda line: common.step(line, quiet),
            warn=warn,
        )
    except GateError as exc:
        if trust.require_signed is not False or exc.slug != "signature_missing":
            raise
        warn(f"! {ref} is not signed; accepted because of --no-require-signed")
        return None
    if not decision.report.ok:
        if trust.required:
            raise decision.report.failure()
        signed = any(s.format != "attestation" for s in decision.report.signatures)
        warn(
            "! Signature not checked: no trusted key; pass --key cosign.pub to verify it"
            if signed
            else f"! {ref} is not signed; pass --require-signed to refuse unsigned artifacts"
        )
    return decision


def _resolve(target: Target, ref: Reference) -> Descriptor:
    from floe.errors import UsageError

    if ref.reference is None:
        raise UsageError(
            "reference_invalid",
            f"{ref} names no version",
            hint=f"add a tag or digest, e.g. {ref}:v1.2.3",
        )
    desc = target.resolve(ref.reference)
    if ref.digest and desc.digest != ref.digest:
        from floe.errors import GateError

        raise GateError("pull_digest_mismatch", f"{ref} resolved to {desc.digest}")
    return desc


def _trust_origin(decision: Any) -> str:
    """How a download was trusted: pinned (--key/--identity), first-use, unverified, or
    not-required (--no-require-signed let an unsigned artifact through)."""
    if decision is None:
        return "not-required"
    from floe.trust.decision import PINNED

    return "pinned" if decision.origin == PINNED else str(decision.origin)


def _report_pull(
    ref: Reference,
    desc: Descriptor,
    out_dir: Path,
    result: Any,
    verified: Any,
    quiet: bool,
    fmt: str,
) -> None:
    if fmt == "json":
        common.emit_json(
            {
                "event": "pulled",
                "reference": str(ref),
                "digest": desc.digest,
                "out": str(out_dir),
                "floe_platform": result.is_floe,
                "artifact_type": result.artifact_type,
                "content_digest": result.content_digest,
                "files": sorted(result.files),
                "verified": verified is not None and verified.report.ok,
                "signer": verified.signer if verified is not None else None,
                "trust": _trust_origin(verified),
            }
        )
        return
    common.step(f"Pulled {ref}", quiet)
    for path in sorted(result.files):
        common.step(f"  ✓ {path} ({human_size(result.files[path].size)}, verified)", quiet)
    if not result.is_floe:
        count = len(result.files)
        tree = (
            f"its files form a valid platform tree (content digest {result.content_digest})"
            if result.content_digest
            else "its files are not a platform tree"
        )
        click.echo(
            f"note: {desc.digest} was not published by floe (artifactType "
            f"{result.artifact_type}); wrote {count} file{'' if count == 1 else 's'}; {tree}",
            err=True,
        )
    else:
        common.step(f"Content digest: {result.content_digest}", quiet)
    click.echo(f"Digest: {desc.digest}")
    click.echo(f"Written to: {out_dir}")


# ---- inspect -----------------------------------------------------------------------


@click.command("inspect")
@click.argument("ref")
@registry_flags
@common.format_option()
def inspect(ref: str, options: RegistryOptions, fmt: str) -> None:
    """Show an artifact's manifest, annotations, files, signatures and other referrers."""
    from floe.oci.resolve import open_target

    target, parsed = open_target(ref, options)
    desc = _resolve(target, parsed)
    info = _inspect_info(target, parsed, desc)
    if fmt == "json":
        common.emit_json(info)
        return
    _print_inspect(info)


def _inspect_info(target: Target, ref: Reference, desc: Descriptor) -> dict[str, Any]:
    from floe.artifact.pack import read_manifest
    from floe.oci.copy import LEGACY_SUFFIXES
    from floe.oci.target import ANNOTATION_TITLE, Descriptor

    manifest = read_manifest(target, desc)
    layers = [Descriptor.from_json(layer) for layer in manifest["layers"]]
    legacy_prefix = "sha256-" + desc.hex
    return {
        "reference": str(ref),
        "digest": desc.digest,
        "media_type": desc.media_type,
        "size": desc.size,
        "artifact_type": manifest.get("artifactType") or manifest["config"].get("mediaType"),
        "annotations": manifest.get("annotations") or {},
        "files": [
            {
                "title": layer.annotations.get(ANNOTATION_TITLE),
                "size": layer.size,
                "digest": layer.digest,
                "media_type": layer.media_type,
            }
            for layer in layers
        ],
        "referrers": [_referrer_info(target, desc, r) for r in target.referrers(desc)],
        "legacy_signature_tags": [
            t for t in target.tags() if t.endswith(LEGACY_SUFFIXES) and t.startswith(legacy_prefix)
        ],
    }


def _referrer_info(target: Target, subject: Descriptor, referrer: Descriptor) -> dict[str, Any]:
    """A referrer; for an attestation (a bundle with a predicate other than cosign's
    signature), also what its statement claims."""
    from floe.signing.bundle import ANNOTATION_BUNDLE_PREDICATE
    from floe.signing.dsse import COSIGN_SIGN_PREDICATE

    info: dict[str, Any] = {
        "digest": referrer.digest,
        "artifact_type": referrer.artifact_type,
        "media_type": referrer.media_type,
        "annotations": referrer.annotations,
    }
    predicate = referrer.annotations.get(ANNOTATION_BUNDLE_PREDICATE)
    if predicate not in (None, COSIGN_SIGN_PREDICATE):
        info["attestation"] = _attestation_claims(target, subject, referrer)
    return info


def _attestation_claims(
    target: Target, subject: Descriptor, referrer: Descriptor
) -> dict[str, Any]:
    from floe.platform.attest import describe_statement
    from floe.signing.bundle import bundle_layer_of, parse_bundle

    try:
        layer, _ = bundle_layer_of(target.fetch_bytes(referrer), subject)
        envelope = parse_bundle(target.fetch_bytes(layer)).envelope
    except FloeError as exc:
        return {"error": exc.message}
    if envelope is None:
        return {"error": "bundle has no DSSE envelope"}
    return describe_statement(envelope.payload)


def _print_inspect(info: dict[str, Any]) -> None:
    click.echo(f"Reference:     {info['reference']}")
    click.echo(f"Digest:        {info['digest']}")
    click.echo(f"Artifact type: {info['artifact_type']}")
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


# ---- list --------------------------------------------------------------------------


@click.command("list")
@click.argument("registry", required=False)
@click.option("--all", "show_all", is_flag=True, help="Also list non-semver and sha256-* tags.")
@registry_flags
@common.format_option()
def list_versions(registry: str | None, show_all: bool, options: RegistryOptions, fmt: str) -> None:
    """List published versions (newest first) with their digests."""
    from floe.oci.resolve import configured_registry, parse_repository, target_for

    repo = parse_repository(configured_registry(registry))
    target = target_for(repo, options)
    versions, others = _split_tags(target.tags())
    rows = [_row(target, tag) for tag in versions]
    extra = [_row(target, tag) for tag in others] if show_all else []
    if fmt == "json":
        common.emit_json(
            {"registry": str(repo), "versions": rows, "other_tags": extra, "hidden": len(others)}
        )
        return
    click.echo(f"Versions in {repo}:")
    for row in rows:
        click.echo(f"  {row['tag']:<20} {row['digest']}")
    if not rows:
        click.echo("  none")
    for row in extra:
        click.echo(f"  {row['tag']:<20} {row['digest']}  (not a version)")
    if others and not show_all:
        click.echo(f"({len(others)} other tags hidden; --all shows them)")


def _split_tags(tags: list[str]) -> tuple[list[str], list[str]]:
    import semver

    versions: list[tuple[semver.Version, str]] = []
    others: list[str] = []
    for tag in tags:
        bare = tag[1:] if tag.startswith("v") else tag
        if semver.Version.is_valid(bare):
            versions.append((semver.Version.parse(bare), tag))
        else:
            others.append(tag)
    versions.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [tag for _, tag in versions], sorted(others)


def _row(target: Target, tag: str) -> dict[str, Any]:
    desc = target.resolve(tag)
    return {"tag": tag, "digest": desc.digest, "size": desc.size}


# ---- copy --------------------------------------------------------------------------


@click.command("copy")
@click.argument("src")
@click.argument("dst")
@click.option("--with-referrers", is_flag=True, help="Copy signatures and attestations too.")
@click.option("--force", is_flag=True, help="Move an existing version tag at the destination.")
@click.option("--offline", is_flag=True, help="Keyless verification: cached trusted root.")
@trust_flags
@registry_flags
@quiet_option
@common.format_option()
def copy(
    src: str,
    dst: str,
    with_referrers: bool,
    force: bool,
    offline: bool,
    trust: TrustFlags,
    options: RegistryOptions,
    quiet: bool,
    fmt: str,
) -> None:
    """Mirror SRC to DST between registries and layouts (e.g. into an air-gapped layout).

    With --key/--identity/--require-signed, SRC is verified first and a rejected
    artifact is not copied.
    """
    from floe.oci.reference import DEFAULT_REPOSITORY, parse_reference
    from floe.oci.resolve import open_target, target_for

    source, src_ref = open_target(src, options)
    desc = _resolve(source, src_ref)
    if trust.given:
        _verify_download(source, src_ref, desc, trust, offline, quiet)
    dst_ref = parse_reference(dst, default_repository=DEFAULT_REPOSITORY)
    tag = dst_ref.tag or src_ref.tag
    dst_ref = dst_ref.with_tag(tag) if tag else dst_ref.with_digest(desc.digest)
    target = target_for(dst_ref, options)
    if tag:
        _check_tag_free(target, dst_ref, desc.digest, force)
    common.step(f"Copying {src_ref} -> {dst_ref}", quiet)
    stats = _copy_with_progress(
        source, target, desc, tag, options, quiet, label="Copying", with_referrers=with_referrers
    )
    if fmt == "json":
        common.emit_json(
            {"event": "copied", "source": str(src_ref), "destination": str(dst_ref),
             "digest": desc.digest, **stats.to_json()}
        )  # fmt: skip
        return
    common.step(
        f"  ✓ {stats.blobs_copied} blobs copied ({human_size(stats.bytes_copied)}), "
        f"{stats.blobs_mounted} mounted, {stats.blobs_skipped} already present, "
        f"{len(stats.referrers)} referrers",
        quiet,
    )
    click.echo(f"Copied: {dst_ref}")
    click.echo(f"Digest: {desc.digest}")
