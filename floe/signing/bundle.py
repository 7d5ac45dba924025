"""Sigstore bundle v0.3 JSON, and the OCI referrer manifest that carries one.

Layout follows cosign's BUNDLE_SPEC: an image manifest with `artifactType` = the
bundle media type, the empty config, one layer = the bundle JSON, `subject` = the
signed manifest, and `dev.sigstore.bundle.*` annotations.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from floe.errors import GateError
from floe.oci.target import (
    ANNOTATION_TITLE,
    EMPTY_DIGEST,
    OCI_EMPTY,
    OCI_MANIFEST,
    SIGSTORE_BUNDLE,
    Descriptor,
    canonical_json,
)
from floe.signing import wire
from floe.signing.dsse import Envelope

ANNOTATION_BUNDLE_CONTENT = "dev.sigstore.bundle.content"
ANNOTATION_BUNDLE_PREDICATE = "dev.sigstore.bundle.predicateType"
EMPTY_CONFIG = Descriptor(OCI_EMPTY, EMPTY_DIGEST, 2)


def key_bundle(envelope: Envelope, hint: str) -> bytes:
    """A key-signed bundle: public key hint, no transparency log entries."""
    doc = {
        "mediaType": SIGSTORE_BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": envelope.to_json(),
    }
    return canonical_json(doc)


@dataclass(frozen=True)
class ParsedBundle:
    """What floe needs from a bundle. `certificate` is set for keyless (Fulcio) bundles."""

    raw: bytes
    envelope: Envelope | None
    hint: str | None
    certificate: bytes | None  # DER of the leaf certificate

    @property
    def keyless(self) -> bool:
        return self.certificate is not None


def parse_bundle(raw: bytes) -> ParsedBundle:
    what = "sigstore bundle"
    doc = wire.load_object(raw, what)
    media_type = wire.string(doc, "mediaType", what, required=False)
    if not media_type.startswith("application/vnd.dev.sigstore.bundle"):
        raise GateError("signature_invalid", f"not a sigstore bundle ({media_type[:80]!r})")
    material = wire.obj(doc, "verificationMaterial", what)
    envelope = Envelope.from_json(doc["dsseEnvelope"]) if "dsseEnvelope" in doc else None
    public_key = wire.obj(material, "publicKey", what, required=False)
    hint = wire.string(public_key, "hint", what, required=False) or None
    return ParsedBundle(raw, envelope, hint, _leaf_certificate(material))


def _leaf_certificate(material: dict[str, Any]) -> bytes | None:
    what = "bundle certificate"
    cert: Any = material.get("certificate")
    if cert is None:
        chain = wire.obj(material, "x509CertificateChain", what, required=False)
        certificates = wire.objects(wire.array(chain, "certificates", what, required=False), what)
        cert = certificates[0] if certificates else None
    if cert is None:
        return None
    if not isinstance(cert, dict):
        raise wire.invalid(what, "'certificate' must be an object")
    try:
        return base64.b64decode(wire.string(cert, "rawBytes", what), validate=True)
    except ValueError as exc:
        raise wire.invalid(what, f"rawBytes is not base64 ({exc})") from None


@dataclass(frozen=True)
class ReferrerManifest:
    """What floe reads of a referrer manifest (typed, from hostile bytes)."""

    artifact_type: str | None
    layers: tuple[Descriptor, ...]
    subject_digest: str | None
    annotations: dict[str, str]


def parse_referrer(manifest_bytes: bytes) -> ReferrerManifest:
    """A referrer manifest: `artifactType` (else the config's media type, as OCI says)."""
    what = "bundle manifest"
    doc = wire.load_object(manifest_bytes, what)
    layers = tuple(wire.descriptors(doc, "layers", what))
    subject = wire.obj(doc, "subject", what, required=False)
    config = wire.obj(doc, "config", what, required=False)
    artifact_type = wire.string(doc, "artifactType", what, required=False) or (
        wire.string(config, "mediaType", what, required=False) or None
    )
    if artifact_type == OCI_EMPTY:
        artifact_type = None
    return ReferrerManifest(
        artifact_type,
        layers,
        wire.string(subject, "digest", what, required=False) or None,
        wire.annotation_map(doc, what),
    )


def referrer_manifest(
    subject: Descriptor, bundle_layer: Descriptor, predicate_type: str | None
) -> bytes:
    annotations = {ANNOTATION_BUNDLE_CONTENT: "dsse-envelope"}
    if predicate_type:
        annotations[ANNOTATION_BUNDLE_PREDICATE] = predicate_type
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SIGSTORE_BUNDLE,
        "config": EMPTY_CONFIG.to_json(),
        "layers": [bundle_layer.to_json()],
        "subject": Descriptor(subject.media_type, subject.digest, subject.size).to_json(),
        "annotations": annotations,
    }
    return canonical_json(doc)


def bundle_layer(raw: bytes) -> Descriptor:
    desc = Descriptor.for_bytes(SIGSTORE_BUNDLE, raw)
    title = f"{desc.digest.replace(':', '-')}.sigstore.json"
    return Descriptor.for_bytes(SIGSTORE_BUNDLE, raw, {ANNOTATION_TITLE: title})


def bundle_layer_of(manifest_bytes: bytes, subject: Descriptor) -> tuple[Descriptor, str | None]:
    """The bundle layer of a referrer manifest and its subject digest."""
    parsed = parse_referrer(manifest_bytes)
    bundles = [layer for layer in parsed.layers if layer.media_type == SIGSTORE_BUNDLE]
    if not bundles:
        raise GateError("signature_invalid", f"referrer of {subject.digest} carries no bundle")
    return bundles[0], parsed.subject_digest
