"""DSSE envelopes (secure-systems-lab/dsse v1) and in-toto v1 statements."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from floe.errors import GateError

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
        try:
            payload = _b64decode(data["payload"])
            payload_type = str(data["payloadType"])
            signatures = tuple(_b64decode(item["sig"]) for item in data["signatures"])
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise GateError("signature_invalid", f"malformed DSSE envelope ({exc})") from None
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
    try:
        doc = json.loads(payload)
        if doc.get("_type") not in (STATEMENT_TYPE, "https://in-toto.io/Statement/v0.1"):
            raise ValueError(f"unexpected statement type {doc.get('_type')!r}")
        digests = [
            f"{algo}:{value}"
            for subject in doc["subject"]
            for algo, value in dict(subject["digest"]).items()
        ]
        return str(doc["predicateType"]), digests
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GateError("signature_invalid", f"malformed in-toto statement ({exc})") from None
