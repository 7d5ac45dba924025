"""Sigstore bundle v0.3 JSON, and the OCI referrer manifest that carries one.

Layout follows cosign's BUNDLE_SPEC: an image manifest with `artifactType` = the
bundle media type, the empty config, one layer = the bundle JSON, `subject` = the
signed manifest, and `dev.sigstore.bundle.*` annotations.
"""

from __future__ import annotations

import base64
import json
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
    try:
        doc = json.loads(raw)
        media_type = doc.get("mediaType", "")
        material = doc["verificationMaterial"]
    except (ValueError, KeyError, AttributeError) as exc:
        raise GateError("signature_invalid", f"malformed sigstore bundle ({exc})") from None
    if not str(media_type).startswith("application/vnd.dev.sigstore.bundle"):
        raise GateError("signature_invalid", f"not a sigstore bundle ({media_type!r})")
    envelope = Envelope.from_json(doc["dsseEnvelope"]) if "dsseEnvelope" in doc else None
    hint = (material.get("publicKey") or {}).get("hint")
    return ParsedBundle(raw, envelope, hint, _leaf_certificate(material))


def _leaf_certificate(material: dict[str, Any]) -> bytes | None:
    cert = material.get("certificate")
    if cert is None:
        chain = (material.get("x509CertificateChain") or {}).get("certificates") or []
        cert = chain[0] if chain else None
    if cert is None:
        return None
    try:
        return base64.b64decode(cert["rawBytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise GateError("signature_invalid", f"malformed bundle certificate ({exc})") from None


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
    try:
        doc = json.loads(manifest_bytes)
        layers = [Descriptor.from_json(item) for item in doc.get("layers") or []]
        subject_digest = (doc.get("subject") or {}).get("digest")
    except (ValueError, AttributeError) as exc:
        raise GateError("signature_invalid", f"malformed bundle manifest ({exc})") from None
    bundles = [layer for layer in layers if layer.media_type == SIGSTORE_BUNDLE]
    if not bundles:
        raise GateError("signature_invalid", f"referrer of {subject.digest} carries no bundle")
    return bundles[0], subject_digest
