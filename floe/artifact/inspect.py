"""`platform inspect REF`: an artifact's manifest, annotations, files and referrers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from floe.artifact.pack import read_manifest
from floe.artifact.transfer import resolve
from floe.errors import FloeError
from floe.oci.copy import LEGACY_SUFFIXES
from floe.oci.options import RegistryOptions
from floe.oci.resolve import open_target
from floe.oci.target import ANNOTATION_TITLE, Descriptor, Target

Describe = Callable[[bytes], dict[str, Any]]  # an in-toto statement -> its claims


@dataclass(frozen=True)
class Inspection:
    """What inspect shows; `to_json()` is the `--format json` document."""

    reference: str
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, str]
    files: list[dict[str, Any]]
    referrers: list[dict[str, Any]]
    legacy_signature_tags: list[str]
    extends: list[dict[str, str]] | None = None  # manifest.json's parents; None: not readable

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def inspect_artifact(
    ref: str, *, options: RegistryOptions | None = None, describe: Describe | None = None
) -> Inspection:
    """Read REF's manifest and referrers (nothing is verified beyond digests).

    `describe` turns an attestation's statement into its claims (shown, not trusted).
    """
    target, parsed = open_target(ref, options)
    desc = resolve(target, parsed)
    manifest = read_manifest(target, desc)
    layers = [Descriptor.from_json(layer) for layer in manifest["layers"]]
    legacy_prefix = "sha256-" + desc.hex
    return Inspection(
        reference=str(parsed),
        digest=desc.digest,
        media_type=desc.media_type,
        size=desc.size,
        artifact_type=manifest.get("artifactType") or manifest["config"].get("mediaType"),
        annotations=manifest.get("annotations") or {},
        files=[
            {
                "title": layer.annotations.get(ANNOTATION_TITLE),
                "size": layer.size,
                "digest": layer.digest,
                "media_type": layer.media_type,
            }
            for layer in layers
        ],
        referrers=[_referrer(target, desc, r, describe) for r in target.referrers(desc)],
        legacy_signature_tags=[
            t for t in target.tags() if t.endswith(LEGACY_SUFFIXES) and t.startswith(legacy_prefix)
        ],
        extends=_extends(target, manifest),
    )


def _extends(target: Target, manifest: dict[str, Any]) -> list[dict[str, str]] | None:
    """The inheritance chain manifest.json records (nearest parent first), as published."""
    from pydantic import ValidationError

    from floe.oci.target import FLOE_CONFIG
    from floe.tree.model import PlatformManifest

    config = Descriptor.from_json(manifest.get("config") or {})
    if config.media_type != FLOE_CONFIG:
        return None
    try:
        platform = PlatformManifest.model_validate_json(target.fetch_bytes(config))
    except (FloeError, ValidationError):
        return None
    chain = platform.inheritance.parents if platform.inheritance is not None else []
    return [parent.model_dump(mode="json") for parent in chain]


def _referrer(
    target: Target, subject: Descriptor, referrer: Descriptor, describe: Describe | None
) -> dict[str, Any]:
    """A referrer; for an attestation (a bundle whose predicate is not cosign's
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
    if predicate not in (None, COSIGN_SIGN_PREDICATE) and describe is not None:
        info["attestation"] = _claims(target, subject, referrer, describe)
    return info


def _claims(
    target: Target, subject: Descriptor, referrer: Descriptor, describe: Describe
) -> dict[str, Any]:
    from floe.signing.bundle import bundle_layer_of, parse_bundle

    try:
        layer, _ = bundle_layer_of(target.fetch_bytes(referrer), subject)
        envelope = parse_bundle(target.fetch_bytes(layer)).envelope
    except FloeError as exc:
        return {"error": exc.message}
    if envelope is None:
        return {"error": "bundle has no DSSE envelope"}
    return describe(envelope.payload)
