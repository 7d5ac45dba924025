"""cosign's legacy signature storage: a `sha256-<hex>.sig` manifest of simple-signing layers.

Each layer is one signed payload (the exact bytes that were signed) with the base64
signature in the `dev.cosignproject.cosign/signature` annotation. Key rotation adds
layers; it never replaces them.
"""

from __future__ import annotations

from typing import Any

from floe.oci.target import (
    ANNOTATION_COSIGN_SIGNATURE,
    COSIGN_SIMPLESIGNING,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
)
from floe.signing import wire

COSIGN_SIGNATURE_TYPE = "cosign container image signature"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
# Not part of cosign's format: an unsigned note of which key made the signature, so a
# failed check can say "invalid" (a trusted key's signature that does not verify)
# rather than "untrusted". It is never used to decide trust.
ANNOTATION_KEY_FINGERPRINT = "dev.floe.signing/key-fingerprint"
MAX_PAYLOAD_BYTES = 64 << 10  # cosign's payloads are a few hundred bytes


def signature_tag(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    return f"{algo}-{hexpart}.sig"


def payload(docker_reference: str, digest: str, optional: dict[str, Any] | None = None) -> bytes:
    """The simple-signing payload, byte-identical to cosign's (Go's field order is sorted)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": COSIGN_SIGNATURE_TYPE,
        },
        "optional": optional or None,
    }
    return canonical_json(doc)


def payload_claims(data: bytes) -> tuple[str, str]:
    """(docker-reference, docker-manifest-digest) of a payload; raises on a bad shape."""
    what = "simple-signing payload"
    critical = wire.obj(wire.load_object(data, what, MAX_PAYLOAD_BYTES), "critical", what)
    kind = wire.string(critical, "type", what)
    if kind != COSIGN_SIGNATURE_TYPE:
        raise wire.invalid(what, f"unexpected type {kind[:80]!r}")
    reference = wire.string(wire.obj(critical, "identity", what), "docker-reference", what)
    digest = wire.string(wire.obj(critical, "image", what), "docker-manifest-digest", what)
    return reference, digest


def image_config(layers: list[Descriptor]) -> bytes:
    """A minimal valid OCI image config (what go-containerregistry writes for cosign)."""
    doc = {
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"} for _ in layers],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
    }
    return canonical_json(doc)


def manifest(config: Descriptor, layers: list[Descriptor]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }
    return canonical_json(doc)


def parse_layers(manifest_bytes: bytes) -> list[Descriptor]:
    """The simple-signing layers of a `.sig` manifest (other layers are ignored)."""
    what = "signature manifest"
    doc = wire.load_object(manifest_bytes, what)
    layers = wire.descriptors(doc, "layers", what)
    return [layer for layer in layers if layer.media_type == COSIGN_SIMPLESIGNING]


def signature_layer(
    payload_bytes: bytes, signature_b64: str, key_fingerprint: str | None
) -> Descriptor:
    annotations = {ANNOTATION_COSIGN_SIGNATURE: signature_b64}
    if key_fingerprint:
        annotations[ANNOTATION_KEY_FINGERPRINT] = key_fingerprint
    return Descriptor.for_bytes(COSIGN_SIMPLESIGNING, payload_bytes, annotations)
