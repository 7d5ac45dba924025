"""DSSE envelopes (secure-systems-lab/dsse v1) and in-toto v1 statements."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from floe.signing import wire

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: `DSSEv1 <len> <type> <len> <payload>` (lengths in bytes)."""
    type_bytes = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [
                {"sig": base64.b64encode(sig).decode(), "keyid": ""} for sig in self.signatures
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        what = "DSSE envelope"
        if not isinstance(data, dict):
            raise wire.invalid(what, "not an object")
        try:
            payload = _b64decode(wire.string(data, "payload", what))
            payload_type = wire.string(data, "payloadType", what)
            items = wire.objects(wire.array(data, "signatures", what), what)
            signatures = tuple(_b64decode(wire.string(item, "sig", what)) for item in items)
        except (ValueError, binascii.Error) as exc:
            raise wire.invalid(what, f"bad base64 ({exc})") from None
        return cls(payload_type, payload, signatures)


def _b64decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    # protobuf JSON may use URL-safe base64; accept both, with or without padding.
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def statement(subject_name: str, digest: str, predicate_type: str, predicate: Any) -> bytes:
    """An in-toto v1 statement about one OCI manifest, as compact sorted JSON."""
    algo, _, hexpart = digest.partition(":")
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {algo: hexpart}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def statement_digests(payload: bytes) -> tuple[str, list[str]]:
    """(predicateType, ["sha256:<hex>", ...]) of an in-toto statement; raises on bad JSON."""
    what = "in-toto statement"
    doc = wire.load_object(payload, what)
    kind = doc.get("_type")
    if kind not in (STATEMENT_TYPE, "https://in-toto.io/Statement/v0.1"):
        raise wire.invalid(what, f"unexpected statement type {str(kind)[:80]!r}")
    digests = []
    for subject in wire.objects(wire.array(doc, "subject", what), what):
        for algo, value in wire.obj(subject, "digest", what).items():
            if not isinstance(value, str):
                raise wire.invalid(what, "subject digests must be strings")
            digests.append(f"{algo}:{value}")
    return wire.string(doc, "predicateType", what), digests
