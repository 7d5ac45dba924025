"""Helpers for the signing tests: artifacts to sign, signers, policies, targets."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from floe.oci.target import (
    FLOE_ARTIFACT_TYPE,
    FLOE_CONFIG,
    FLOE_POLICY,
    OCI_MANIFEST,
    Descriptor,
    Target,
    canonical_json,
)
from floe.signing.keys import Signer, public_key_pem
from floe.tree.model import TrustedIdentity, TrustPolicy

PASSWORD = "correct horse battery staple"


def new_signer() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP256R1()))


def pem(signer: Signer) -> str:
    return public_key_pem(signer.public_key).decode()


def policy(
    *signers: Signer, require: bool = True, identities: list[TrustedIdentity] | None = None
) -> TrustPolicy:
    return TrustPolicy(
        require_signed_artifacts=require,
        trusted_keys=[pem(s) for s in signers],
        trusted_identities=identities or [],
    )


def signed_artifact(target: Target, ref: str, version: str = "v1.2.3") -> tuple[Descriptor, Signer]:
    """A published artifact signed in both formats by a fresh key: (manifest, signer)."""
    from floe.signing.sign import sign_artifact

    manifest = publish_artifact(target, version)
    signer = new_signer()
    sign_artifact(target, manifest, signer, ref)
    return manifest, signer


def push(target: Target, desc: Descriptor, data: bytes) -> None:
    target.push(desc, io.BytesIO(data))


def publish_artifact(target: Target, version: str) -> Descriptor:
    """A small floe-shaped artifact (config + one policy layer) tagged `version`."""
    config = canonical_json({"apiVersion": "floe.dev/v1", "metadata": {"version": version}})
    layer = canonical_json({"levels": ["public", "pii"], "version": version})
    config_desc = Descriptor.for_bytes(FLOE_CONFIG, config)
    layer_desc = Descriptor.for_bytes(
        FLOE_POLICY, layer, {"org.opencontainers.image.title": "policies/classification.json"}
    )
    for desc, data in ((config_desc, config), (layer_desc, layer)):
        push(target, desc, data)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": FLOE_ARTIFACT_TYPE,
            "config": config_desc.to_json(),
            "layers": [layer_desc.to_json()],
            "annotations": {"org.opencontainers.image.version": version},
        }
    )
    desc = Descriptor.for_bytes(OCI_MANIFEST, manifest)
    push(target, desc, manifest)
    target.tag(desc, version)
    return desc


def read_json(target: Target, desc: Descriptor) -> Any:
    return json.loads(target.fetch_bytes(desc))


def write_json_manifest(target: Target, doc: dict[str, Any], tag: str | None = None) -> Descriptor:
    data = canonical_json(doc)
    desc = Descriptor.for_bytes(doc.get("mediaType", OCI_MANIFEST), data)
    push(target, desc, data)
    if tag:
        target.tag(desc, tag)
    return desc


def tamper_file(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data, f"{old!r} not in {path}"
    path.chmod(0o644)
    path.write_bytes(data.replace(old, new, 1))
