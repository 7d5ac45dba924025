"""`platform publish` for a compiled tree on disk: the platform team's release step.

Reads the tree, runs the built-in platform checks, takes the signing key from the
source manifest's `security.signing.key` when no signer is given, checks provenance
sources for `--attest`, picks the registry (flag > FLOE_REGISTRY > artifacts.registry >
the embedded registry's repository named after the platform), compares the tree with
the previous release there (floe.platform.semver_check), then calls
floe.artifact.publish (which refuses, pushes, signs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from floe.artifact.pack import normalize_version, read_tree_dir
from floe.artifact.publish import PublishRequest, PublishResult, Statement, publish
from floe.errors import UsageError
from floe.events import NULL_EVENTS, Events
from floe.oci.options import RegistryOptions
from floe.oci.reference import Reference
from floe.oci.resolve import configured_registry
from floe.oci.target import Descriptor
from floe.platform.semver_check import SemverOutcome


@dataclass(frozen=True)
class ReleaseRequest:
    version: str
    artifacts: Path = Path(".floe/artifacts")
    registry: str | None = None
    force: bool = False
    key_path: Path | None = None
    keyless: bool = False
    identity_token: str | None = None
    signing_identity: str | None = field(default=None, kw_only=True)  # --signing-identity
    allow_unsigned: bool = False
    attest: bool = False
    source: Path | None = None  # the manifest the tree was compiled from
    options: RegistryOptions | None = None
    check_semver: bool = False  # refuse a version smaller than the change needs


@dataclass(frozen=True)
class Release:
    published: PublishResult
    semver: SemverOutcome | None  # None: not compared (the same build was already there)


def publish_platform(request: ReleaseRequest, events: Events = NULL_EVENTS) -> Release:
    """Publish the compiled tree at `request.artifacts` (see the module doc)."""
    from floe.platform.policy_test import BUILTIN_CHECKS
    from floe.platform.semver_check import SemverCheck
    from floe.tree.model import parse_tree

    normalize_version(request.version)  # a bad VERSION is reported before any file is read
    files = read_tree_dir(request.artifacts)
    tree = parse_tree(files, origin=str(request.artifacts))
    registry = configured_registry(
        request.registry, tree.manifest.artifacts.get("registry"),
        repository=tree.manifest.metadata.name,
        for_write=True,
    )  # fmt: skip
    check = SemverCheck(tree, request.version, request.check_semver, events)
    statement = _provenance(request, files)
    key_path = request.key_path
    if key_path is None and not request.keyless:
        key_path = _manifest_key(request.source, files)
        if key_path is not None:
            events.step(f"Signing key from the manifest's security.signing.key: {key_path}")
    signer = None
    if key_path is not None:  # decrypted before any push, and only when something is signed
        from floe.signing.sign import key_signer

        signer = key_signer(key_path)
    published = publish(
        PublishRequest(
            files=files, version=request.version, origin=str(request.artifacts),
            registry=registry, force=request.force, signer=signer,
            key_path=key_path, keyless=request.keyless,
            identity_token=request.identity_token, signing_identity=request.signing_identity,
            allow_unsigned=request.allow_unsigned,
            checks=BUILTIN_CHECKS, statement=statement, options=request.options,
            against_target=check,
        ),
        events,
    )  # fmt: skip
    return Release(published, check.outcome)


def _manifest_key(source: Path | None, files: dict[str, bytes]) -> Path | None:
    """`security.signing.key` of the manifest this tree was compiled from (same name),
    relative to that manifest; None when there is none."""
    from floe.platform.compile import default_manifest
    from floe.platform.manifest import load_manifest

    if source is None:
        try:
            source = default_manifest(Path.cwd())
        except UsageError:
            return None  # no (single) manifest here: nothing to take a default from
    loaded = load_manifest(source)
    name = json.loads(files["manifest.json"])["metadata"]["name"]
    key = loaded.model.security.signing.key
    if key is None or loaded.model.metadata.name != name:
        return None
    return loaded.base_dir / key


def _provenance(request: ReleaseRequest, files: dict[str, bytes]) -> Statement | None:
    """With --attest: the statement builder, its source checked to compile to `files`."""
    if not request.attest:
        if request.source is not None:
            raise UsageError("attest_source_unused", "--source is only used with --attest")
        return None
    if request.key_path is None and not request.keyless:
        raise UsageError(
            "attest_requires_signing",
            "--attest signs the provenance statement, so it needs a signer",
            hint="add --key cosign.key (or --keyless)",
        )
    from floe.platform.attest import check_source, statement_for
    from floe.platform.compile import default_manifest
    from floe.signing.sign import docker_reference_for

    source = request.source
    if source is None:
        try:
            source = default_manifest(Path.cwd())
        except UsageError as exc:
            raise UsageError(
                exc.slug, exc.message, hint="pass the manifest the tree was compiled from: --source"
            ) from None
    checked = check_source(source, files)
    version = request.version
    digest = json.loads(files["manifest.json"])["metadata"]["digest"]

    def build(ref: Reference, root: Descriptor) -> bytes:
        identity = docker_reference_for(ref, request.signing_identity)
        return statement_for(identity, root.digest, checked, version, digest)

    return build
