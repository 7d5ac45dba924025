"""`platform publish`: pack a compiled tree, check it may be released, push it as one
graph copy, then sign (and attest) it. Returns what was published; never prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from floe.artifact.copy import check_tag_free
from floe.artifact.pack import pack_tree, tree_metadata
from floe.artifact.release_policy import Check, check_signing, run_checks
from floe.artifact.transfer import copy_with_events
from floe.errors import UsageError
from floe.events import NULL_EVENTS, Events, human_size
from floe.oci.copy import CopyStats, StaticTarget
from floe.oci.options import RegistryOptions
from floe.oci.reference import Reference
from floe.oci.resolve import configured_registry, parse_repository, target_for
from floe.oci.target import Descriptor, Target

if TYPE_CHECKING:  # cryptography loads only when a key signs
    from floe.signing.keys import Signer

FOLDER_ORDER = ("manifest.json", "policies/", "catalog/", "architecture/")
# (published reference, manifest descriptor) -> the in-toto statement to sign
Statement = Callable[[Reference, Descriptor], bytes]
# (destination, reference, its tags) -> raises to refuse; called before anything is pushed
# when the version's tag is new there (the semver check against the previous release)
Preflight = Callable[[Target, Reference, list[str]], None]


@dataclass(frozen=True)
class PublishRequest:
    files: dict[str, bytes]  # the compiled tree (read_tree_dir)
    version: str
    origin: str = "platform tree"  # how errors name the tree (its folder)
    registry: str | None = None  # the --registry flag; then FLOE_REGISTRY, the tree's own
    force: bool = False
    signer: Signer | None = None
    key_path: Path | None = None  # where `signer` came from (for hints)
    keyless: bool = False
    identity_token: str | None = None
    # `--signing-identity`: the HOST/REPO the signatures name (default: the registry's own
    # name; for an OCI layout `localhost/<folder>`, never a path); keyword-only
    signing_identity: str | None = field(default=None, kw_only=True)
    allow_unsigned: bool = False
    tag: str | None = None  # default: `version` as given
    checks: Sequence[Check] = ()
    statement: Statement | None = None  # attest: provenance to sign and attach
    options: RegistryOptions | None = None
    against_target: Preflight | None = None


@dataclass(frozen=True)
class PublishResult:
    reference: Reference
    digest: str
    version: str
    content_digest: str
    stats: CopyStats
    signer: str | None = None  # fingerprint, or "keyless"
    signatures: list[str] = field(default_factory=list)
    attestation: str | None = None


def publish(request: PublishRequest, events: Events = NULL_EVENTS) -> PublishResult:
    """Publish `request.files` as `request.version`; refusals push nothing."""
    if request.signer is not None and request.keyless:
        raise UsageError("sign_key_required", "pass either --key or --keyless, not both")
    metadata = tree_metadata(request.files, request.origin)
    packed = pack_tree(request.files, request.version, metadata=metadata)
    _preflight(request)
    repo = parse_repository(configured_registry(request.registry, metadata["registry"]))
    ref = repo.with_tag(request.tag or request.version)
    identity = _identity(ref, request)  # a bad --signing-identity is refused before any push
    dst = target_for(ref, request.options)
    root = packed.descriptor
    events.step(f"Publishing to {ref}")
    tags = check_tag_free(dst, ref, root.digest, request.force, metadata["name"])
    if tags is not None and request.against_target is not None:
        request.against_target(dst, ref, tags)
    signed = _signed_already(dst, root, request)
    concurrency = request.options.concurrency if request.options else 8
    stats = copy_with_events(
        StaticTarget(packed.blobs()), dst, root, ref.tag, concurrency=concurrency,
        total=sum(b.desc.size for b in packed.layers) + len(packed.config), events=events,
    )  # fmt: skip
    for line in upload_lines(request.files, stats.blobs_copied == 0):
        events.step(line)
    signer, signatures = _sign(dst, identity, root, request, events, signed)
    attestation = None
    if request.statement is not None:
        attestation = _attest(dst, root, request.statement(ref, root), request)
        events.step(f"  ✓ Attested SLSA provenance {attestation}")
    return PublishResult(
        ref, root.digest, request.version, str(metadata["digest"]), stats, signer,
        signatures, attestation,
    )  # fmt: skip


def _preflight(request: PublishRequest) -> None:
    from floe.tree.model import parse_tree

    tree = parse_tree(request.files, origin=request.origin)
    run_checks(tree, request.checks)
    check_signing(
        tree.manifest.security, request.signer, keyless=request.keyless,
        key_path=request.key_path, allow_unsigned=request.allow_unsigned,
    )  # fmt: skip


def upload_lines(files: dict[str, bytes], all_present: bool) -> list[str]:
    """`  ✓ Uploading policies/ (4.5 KB)` per top-level folder, in tree order."""
    sizes: dict[str, int] = {}
    for path, data in files.items():
        group = path.split("/", 1)[0] + "/" if "/" in path else path
        sizes[group] = sizes.get(group, 0) + len(data)

    def order(group: str) -> tuple[int, str]:
        rank = FOLDER_ORDER.index(group) if group in FOLDER_ORDER else len(FOLDER_ORDER)
        return (rank, group)

    suffix = ", already present" if all_present else ""
    return [f"  ✓ Uploading {g} ({human_size(sizes[g])}{suffix})" for g in sorted(sizes, key=order)]


def _signed_already(dst: Target, root: Descriptor, request: PublishRequest) -> list[str] | None:
    """The key's signatures when `root` is already on `dst` and both verify with the key's
    public half (then nothing is signed and the key is not decrypted); otherwise the key
    is decrypted here, so a wrong or missing password fails before anything is pushed."""
    if request.signer is None:
        return None
    from floe.signing.sign import signed_by, unlock

    found = None
    if dst.exists(root) and not request.signing_identity:  # a new identity: signed anew
        found = signed_by(dst, root, request.signer)
    if found is None or request.statement is not None:
        unlock(request.signer)
    return found


def _identity(ref: Reference, request: PublishRequest) -> str | None:
    """The `HOST/REPO` the signatures will name; None when nothing is signed."""
    if request.signer is None and not request.keyless:
        if request.signing_identity:
            raise UsageError(
                "usage_invalid",
                "--signing-identity names what the signatures name, but nothing is signed",
                hint="add --key cosign.key or --keyless",
            )
        return None
    from floe.signing.sign import docker_reference_for

    return docker_reference_for(ref, request.signing_identity)


def _sign(
    dst: Target,
    docker_ref: str | None,
    root: Descriptor,
    request: PublishRequest,
    events: Events,
    signed: list[str] | None = None,
) -> tuple[str | None, list[str]]:
    """Both cosign formats with a key, a Sigstore bundle keyless; nothing otherwise.
    `signed`: the key's signatures already there (nothing is pushed)."""
    if docker_ref is None:
        return None, []
    if request.signer is not None and signed is not None:
        who = request.signer.fingerprint
        events.step(f"  ✓ Already signed with {who} ({len(signed)} signatures)")
        return who, signed
    from floe.signing.sign import sign_artifact, sign_keyless

    if request.signer is not None:
        pushed = sign_artifact(dst, root, request.signer, docker_ref)
        who = request.signer.fingerprint
    else:
        pushed = [sign_keyless(dst, root, docker_ref, request.identity_token)]
        who = "keyless"
    events.step(f"  ✓ Signed with {who} ({len(pushed)} signatures)")
    return who, [desc.digest for desc in pushed]


def _attest(dst: Target, root: Descriptor, statement: bytes, request: PublishRequest) -> str:
    """Sign the provenance statement (DSSE) and push it as a bundle referrer of `root`."""
    from floe.signing.provenance import SLSA_PREDICATE, attach_provenance

    if request.signer is not None:
        return attach_provenance(dst, root, request.signer, statement).digest
    from floe.signing import keyless
    from floe.signing.sign import push_bundle

    raw = keyless.sign_statement(statement, request.identity_token)
    return push_bundle(dst, root, raw, SLSA_PREDICATE).digest
