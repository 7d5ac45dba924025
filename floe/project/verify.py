"""Everything checked before a byte is written: the artifact's shape, its version, its trust.

    check_manifest      every layer is a titled file of the tree, under the size cap
    check_versions      the tag, `org.opencontainers.image.version` and the tree's
                        `metadata.version` agree (`artifact_version_mismatch`): a copy of
                        v1.0.0 retagged v9.9.9 is refused, not served as an upgrade
    decide              the ONE trust call of the data-team lifecycle (floe.trust)

Trust comes from floe.yaml's anchors, else the signers the lock recorded, else trust on
first use (loudly warned and recorded); never the artifact's own list of keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import GateError, UsageError
from floe.files import read_text
from floe.project.constraints import parse_tag
from floe.tree.model import PlatformManifest, TrustedIdentity, TrustPolicy
from floe.trust.decision import Decision

if TYPE_CHECKING:
    from floe.oci.target import Descriptor, Target
    from floe.project.events import Events
    from floe.project.floe_yaml import FloeYaml
    from floe.project.lockfile import LockedPlatform

MAX_LAYERS = 4096  # a tree has eight files plus rule families; far below this


# ---- the trust policy -------------------------------------------------------------------


def _read_key(entry: str, base: Path) -> str:
    """A trusted key from floe.yaml: inline PEM, or a path relative to floe.yaml."""
    if entry.lstrip().startswith("-----BEGIN "):
        return entry
    return read_text(
        base / entry,
        slug="trusted_key_unreadable",
        what="trusted key",
        hint="list PEM public keys (cosign.pub) relative to floe.yaml",
    )


def project_policy(
    config: FloeYaml | None,
    keys: tuple[Path, ...],
    project: Path,
    identities: tuple[TrustedIdentity, ...] = (),
) -> TrustPolicy:
    """floe.yaml's `security:` plus `--key` / `--identity` (which imply signing is required)."""
    security = config.security if config is not None else None
    pems = [_read_key(entry, project) for entry in (security.trusted_keys if security else [])]
    pems += [_read_key(str(path.absolute()), project) for path in keys]
    for number, pem in enumerate(pems, start=1):
        from floe.signing.keys import load_public_key  # cryptography only for listed keys

        load_public_key(pem.encode(), source=f"floe.yaml trusted_keys[{number}]")
    require = bool(keys or identities) or bool(security and security.require_signed_artifacts)
    listed = list(security.trusted_identities) if security else []
    listed += [i for i in identities if i not in listed]
    return TrustPolicy(
        require_signed_artifacts=require, trusted_keys=pems, trusted_identities=listed
    )


def decide(
    src: Target,
    desc: Descriptor,
    platform: TrustPolicy,
    policy: TrustPolicy,
    locked: LockedPlatform | None,
    *,
    reference: str | None,
    offline: bool,
) -> Decision:
    """The data-team paths' call of the one trust decision (floe.trust.decide)."""
    from floe.trust.decision import TrustRequest
    from floe.trust.decision import decide as trust_decide

    request = TrustRequest(policy, platform, locked, reference, sigstore_network=not offline)
    return trust_decide(src, desc, request)


# ---- the artifact's shape -----------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """An artifact whose manifest, config and versions passed; nothing written yet."""

    desc: Descriptor
    manifest: dict[str, Any]
    platform: PlatformManifest
    size: int  # config + every layer


def _not_floe(desc: Descriptor, media_type: str) -> UsageError:
    return UsageError(
        "artifact_not_floe",
        f"{desc.digest} is not a floe platform (config {media_type})",
        hint="point at an artifact published with `floe platform publish`",
    )


def check_layers(desc: Descriptor, layers: list[Descriptor]) -> None:
    """Every layer must be a titled, size-capped file of the tree: nothing else is stored."""
    from floe.artifact.pack import DEFAULT_MAX_BLOB, check_title
    from floe.oci.target import ANNOTATION_TITLE

    if len(layers) > MAX_LAYERS:
        raise GateError(
            "artifact_manifest_invalid",
            f"{desc.digest} has {len(layers)} layers (limit {MAX_LAYERS})",
        )
    seen: set[str] = set()
    for layer in layers:
        title = layer.annotations.get(ANNOTATION_TITLE)
        if title is None:
            raise GateError(
                "artifact_layer_untitled",
                f"{desc.digest} has a layer ({layer.digest}) that is not a file of the tree",
                hint="the artifact is malformed or hostile; nothing was written",
            )
        check_title(title)
        if title in seen:
            raise GateError("pull_unsafe_path", f"refusing {title!r}: the artifact names it twice")
        seen.add(title)
        if layer.size > DEFAULT_MAX_BLOB:
            raise GateError(
                "pull_too_large",
                f"{title} is {layer.size} bytes, over the {DEFAULT_MAX_BLOB}-byte limit",
                hint="nothing was downloaded or written",
            )


def check_manifest(src: Target, desc: Descriptor) -> Checked:
    """Read the image manifest and manifest.json (the config blob); check their shape."""
    from floe.artifact.pack import read_manifest
    from floe.oci.target import Descriptor

    manifest = read_manifest(src, desc)
    layers = [Descriptor.from_json(layer) for layer in manifest["layers"]]
    check_layers(desc, layers)
    config, platform = read_config(src, desc, manifest)
    size = config.size + sum(layer.size for layer in layers)
    return Checked(desc, manifest, platform, size)


def read_config(
    src: Target, desc: Descriptor, manifest: dict[str, Any]
) -> tuple[Descriptor, PlatformManifest]:
    """The artifact's manifest.json (its config blob), parsed; `artifact_not_floe` else."""
    from pydantic import ValidationError

    from floe.oci.target import FLOE_CONFIG, Descriptor

    config = Descriptor.from_json(manifest.get("config") or {})
    if config.media_type != FLOE_CONFIG:
        raise _not_floe(desc, config.media_type)
    try:
        return config, PlatformManifest.model_validate_json(src.fetch_bytes(config))
    except ValidationError as exc:
        raise GateError(
            "tree_invalid", f"{desc.digest}: manifest.json: {exc.errors()[0]['msg']}"
        ) from None


def check_versions(checked: Checked, tag: str) -> None:
    """Tag, version annotation and metadata.version name one release, or nothing lands."""
    from floe.oci.target import ANNOTATION_VERSION

    annotations = checked.manifest.get("annotations")
    annotated = annotations.get(ANNOTATION_VERSION) if isinstance(annotations, dict) else None
    named = {
        "tag": parse_tag(tag),
        ANNOTATION_VERSION: parse_tag(annotated) if isinstance(annotated, str) else None,
        "metadata.version": parse_tag(checked.platform.metadata.version),
    }
    shown = {
        "tag": tag,
        ANNOTATION_VERSION: annotated if isinstance(annotated, str) else "(missing)",
        "metadata.version": checked.platform.metadata.version,
    }
    if None in named.values() or len(set(named.values())) != 1:
        raise GateError(
            "artifact_version_mismatch",
            f"{checked.desc.digest} is tagged {tag}, but its {ANNOTATION_VERSION} says "
            f"{shown[ANNOTATION_VERSION]} and its manifest.json says "
            f"{shown['metadata.version']}; a retagged release is refused",
            hint="ask the platform team to publish the version it means "
            "(`floe platform publish VERSION`); nothing was written",
            details={"versions": shown},
        )


# ---- verification: shape, versions, trust --------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """An artifact that passed every pre-download check and the trust policy."""

    checked: Checked
    decision: Decision

    @property
    def desc(self) -> Descriptor:
        return self.checked.desc

    @property
    def signer(self) -> str | None:
        return self.decision.signer

    @property
    def signed(self) -> bool:
        return self.decision.report.ok


def report_decision(decision: Decision, events: Events) -> None:
    from floe.signing.verify import ATTESTATION

    report = decision.report
    if report.ok:
        events.step("Verifying signature")
        warning = decision.warning()
        if warning is not None:
            events.warn(f"  {warning}")
    elif any(s.format != ATTESTATION for s in report.signatures):
        events.info("  ! Signature not checked: no trusted key (require_signed_artifacts: false)")
    else:
        events.info("  ! Unsigned artifact (require_signed_artifacts: false)")


def verify(
    src: Target,
    desc: Descriptor,
    tag: str,
    policy: TrustPolicy,
    locked: LockedPlatform | None,
    *,
    reference: str,
    offline: bool,
    events: Events,
) -> Verified:
    """The one verification of every project pull path; reads, never writes."""
    checked = check_manifest(src, desc)
    check_versions(checked, tag)
    security = checked.platform.security
    decision = decide(src, desc, security, policy, locked, reference=reference, offline=offline)
    report_decision(decision, events)
    return Verified(checked, decision)
