"""Signing: both cosign formats on an OCI layout and on a real registry, checked by hand.

The signature checks here use only `cryptography` and hand-written DSSE PAE, never
floe's verify code, so a bug there cannot hide a bug in signing.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from signing_helpers import PASSWORD, new_signer, publish_artifact, read_json, signed_artifact

from floe.oci.layout import LayoutTarget
from floe.oci.target import (
    ANNOTATION_COSIGN_SIGNATURE,
    COSIGN_SIMPLESIGNING,
    EMPTY_DIGEST,
    OCI_EMPTY,
    SIGSTORE_BUNDLE,
    Descriptor,
    Target,
)
from floe.signing import keys, sign_artifact
from floe.signing.provenance import SLSA_PREDICATE, attach_provenance, build_statement


@pytest.fixture(params=["layout", "registry"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Target, str]]:
    """(target, docker reference) for an OCI layout and for the real registry fixture."""
    if request.param == "layout":
        yield LayoutTarget(tmp_path / "layout"), str(tmp_path / "layout")
        return
    from floe.oci.remote import RemoteTarget

    registry = request.getfixturevalue("registry")
    repo = request.getfixturevalue("repo_name")
    target = RemoteTarget(registry.host, repo, registry.options())
    yield target, f"{registry.host}/{repo}"
    target.close()


def verify_with_cryptography(public_pem: bytes, signature: bytes, data: bytes) -> None:
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature, data, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature


def sig_manifest(target: Target, digest: str) -> dict[str, Any]:
    tag = "sha256-" + digest.split(":", 1)[1] + ".sig"
    doc: dict[str, Any] = read_json(target, target.resolve(tag))
    return doc


def test_legacy_signature_matches_cosign_format(store: tuple[Target, str]) -> None:
    target, docker_ref = store
    manifest, signer = signed_artifact(target, docker_ref)

    doc = sig_manifest(target, manifest.digest)
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert doc["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    config = json.loads(target.fetch_bytes(Descriptor.from_json(doc["config"])))
    assert config["rootfs"] == {"type": "layers", "diff_ids": [doc["layers"][0]["digest"]]}
    [layer] = doc["layers"]
    assert layer["mediaType"] == COSIGN_SIMPLESIGNING
    payload = target.fetch_bytes(Descriptor.from_json(layer))
    assert payload == (
        b'{"critical":{"identity":{"docker-reference":"' + docker_ref.encode() + b'"},'
        b'"image":{"docker-manifest-digest":"' + manifest.digest.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}'
    )
    signature = base64.b64decode(layer["annotations"][ANNOTATION_COSIGN_SIGNATURE])
    verify_with_cryptography(keys.public_key_pem(signer.public_key), signature, payload)


def test_bundle_referrer_matches_the_spec_and_pae_checks_by_hand(
    store: tuple[Target, str],
) -> None:
    target, docker_ref = store
    manifest, signer = signed_artifact(target, docker_ref)

    [referrer] = target.referrers(manifest, SIGSTORE_BUNDLE)
    doc = read_json(target, referrer)
    assert doc["artifactType"] == SIGSTORE_BUNDLE
    assert doc["config"] == {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2}
    assert doc["subject"]["digest"] == manifest.digest
    assert doc["annotations"]["dev.sigstore.bundle.predicateType"] == (
        "https://sigstore.dev/cosign/sign/v1"
    )
    [layer] = doc["layers"]
    assert layer["mediaType"] == SIGSTORE_BUNDLE
    assert target.fetch_bytes(Descriptor(OCI_EMPTY, EMPTY_DIGEST, 2)) == b"{}"
    bundle = json.loads(target.fetch_bytes(Descriptor.from_json(layer)))

    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    der = signer.public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hint = base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert bundle["verificationMaterial"] == {"publicKey": {"hint": hint}, "tlogEntries": []}
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    payload_type = envelope["payloadType"]
    assert payload_type == "application/vnd.in-toto+json"
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [
        {"name": docker_ref, "digest": {"sha256": manifest.digest.split(":", 1)[1]}}
    ]
    assert statement["predicateType"] == "https://sigstore.dev/cosign/sign/v1"
    pae = (
        b"DSSEv1 "
        + str(len(payload_type)).encode()
        + b" "
        + payload_type.encode()
        + b" "
        + str(len(payload)).encode()
        + b" "
        + payload
    )
    [sig] = envelope["signatures"]
    verify_with_cryptography(
        keys.public_key_pem(signer.public_key), base64.b64decode(sig["sig"]), pae
    )


def test_signing_twice_is_idempotent_and_rotation_adds(store: tuple[Target, str]) -> None:
    target, docker_ref = store
    manifest = publish_artifact(target, "v1.2.3")
    old, new = new_signer(), new_signer()
    first = sign_artifact(target, manifest, old, docker_ref)
    assert sign_artifact(target, manifest, old, docker_ref) == first
    assert len(sig_manifest(target, manifest.digest)["layers"]) == 1
    assert len(target.referrers(manifest, SIGSTORE_BUNDLE)) == 1

    sign_artifact(target, manifest, new, docker_ref)
    layers = sig_manifest(target, manifest.digest)["layers"]
    assert len(layers) == 2
    assert len(target.referrers(manifest, SIGSTORE_BUNDLE)) == 2
    for layer, signer in zip(layers, (old, new), strict=True):
        payload = target.fetch_bytes(Descriptor.from_json(layer))
        signature = base64.b64decode(layer["annotations"][ANNOTATION_COSIGN_SIGNATURE])
        verify_with_cryptography(keys.public_key_pem(signer.public_key), signature, payload)


def test_provenance_is_a_signed_slsa_referrer(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    signer = new_signer()
    statement = build_statement(
        "acme/platform",
        manifest.digest,
        source_manifest="manifests/acme/manifest.yaml",
        version="1.2.3",
        inputs={"manifests/acme/manifest.yaml": b"name: acme\n", "policies/a.yaml": b"a: 1\n"},
        builder_version="9.9.9",
    )
    assert statement == build_statement(
        "acme/platform",
        manifest.digest,
        source_manifest="manifests/acme/manifest.yaml",
        version="1.2.3",
        inputs={"policies/a.yaml": b"a: 1\n", "manifests/acme/manifest.yaml": b"name: acme\n"},
        builder_version="9.9.9",
    )
    desc = attach_provenance(target, manifest, signer, statement)
    [found] = [
        r
        for r in target.referrers(manifest, SIGSTORE_BUNDLE)
        if r.annotations.get("dev.sigstore.bundle.predicateType") == SLSA_PREDICATE
    ]
    assert found.digest == desc.digest
    doc = json.loads(statement)
    predicate = doc["predicate"]
    assert doc["predicateType"] == "https://slsa.dev/provenance/v1"
    assert predicate["buildDefinition"]["buildType"] == "https://floe.dev/platform-compile/v1"
    assert predicate["runDetails"]["builder"]["id"] == "https://floe.dev/floe@9.9.9"
    assert predicate["buildDefinition"]["resolvedDependencies"][0] == {
        "uri": "file:manifests/acme/manifest.yaml",
        "digest": {"sha256": hashlib.sha256(b"name: acme\n").hexdigest()},
    }


def test_sign_cli_on_a_registry(registry: Any, repo_name: str, tmp_path: Path) -> None:
    from floe.oci.remote import RemoteTarget

    target = RemoteTarget(registry.host, repo_name, registry.options())
    manifest = publish_artifact(target, "v1.0.0")
    env = {"FLOE_SIGNING_PASSWORD": PASSWORD}
    assert run_floe("platform", "keygen", cwd=tmp_path, env=env).exit_code == 0
    ref = registry.ref(repo_name, "v1.0.0")
    result = run_floe(
        "platform", "sign", ref, "--key", "cosign.key", "--format", "json", cwd=tmp_path, env=env
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["digest"] == manifest.digest
    assert len(out["signatures"]) == 2
    signer = keys.load_signer(tmp_path / "cosign.key", PASSWORD)
    assert out["signer"] == signer.fingerprint
    layer = sig_manifest(target, manifest.digest)["layers"][0]
    payload = target.fetch_bytes(Descriptor.from_json(layer))
    assert json.loads(payload)["critical"]["identity"]["docker-reference"] == (
        f"{registry.host}/{repo_name}"
    )
    target.close()


def test_sign_cli_needs_exactly_one_of_key_or_keyless(tmp_path: Path) -> None:
    result = run_floe("platform", "sign", f"oci-layout://{tmp_path}:v1")
    assert result.exit_code == 2
    assert "sign_key_required" in result.stderr


def test_key_bundle_parses_with_the_protobuf_spec_models(tmp_path: Path) -> None:
    """sigstore-models mirrors sigstore/protobuf-specs: field names and encodings must match."""
    from sigstore_models.bundle.v1 import Bundle

    target = LayoutTarget(tmp_path / "layout")
    manifest, signer = signed_artifact(target, "acme")
    [referrer] = target.referrers(manifest, SIGSTORE_BUNDLE)
    layer = Descriptor.from_json(read_json(target, referrer)["layers"][0])
    parsed = Bundle.from_json(target.fetch_bytes(layer))
    assert parsed.media_type == SIGSTORE_BUNDLE
    assert parsed.verification_material.public_key.hint == signer.hint
    assert parsed.dsse_envelope.payload_type == "application/vnd.in-toto+json"
    assert json.loads(parsed.dsse_envelope.payload)["subject"][0]["digest"]["sha256"] == (
        manifest.hex
    )
