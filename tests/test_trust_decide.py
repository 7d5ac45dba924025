"""`floe.trust.decide`: the one trust decision, and what `floe platform verify` makes of it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import run_floe
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from signing_helpers import new_signer, pem, publish_artifact

from floe.errors import GateError
from floe.oci.layout import LayoutTarget
from floe.oci.target import COSIGN_SIMPLESIGNING, OCI_MANIFEST, Descriptor, Target
from floe.signing import simplesigning
from floe.signing.keys import Signer, public_key_pem
from floe.signing.sign import sign_artifact
from floe.signing.trust_policy import TrustPolicy
from floe.signing.verify import SignatureRejected
from floe.trust import TrustRequest, decide
from floe.trust.decision import FIRST_USE, PINNED, UNVERIFIED

REFERENCE = "registry.example/team/platform"


def _raw_sig(target: Target, manifest: Descriptor, signature: bytes) -> None:
    """A `.sig` manifest carrying `signature` over floe's payload for `manifest`."""
    from signing_helpers import push

    payload = simplesigning.payload(REFERENCE, manifest.digest)
    layer = Descriptor.for_bytes(
        COSIGN_SIMPLESIGNING,
        payload,
        {"dev.cosignproject.cosign/signature": base64.b64encode(signature).decode()},
    )
    push(target, layer, payload)
    config = simplesigning.image_config([layer])
    config_desc = Descriptor.for_bytes(simplesigning.OCI_IMAGE_CONFIG, config)
    push(target, config_desc, config)
    data = simplesigning.manifest(config_desc, [layer])
    desc = Descriptor.for_bytes(OCI_MANIFEST, data)
    push(target, desc, data)
    target.tag(desc, simplesigning.signature_tag(manifest.digest))


def test_unsigned_is_unverified_unless_a_signature_is_required(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "l")
    manifest = publish_artifact(target, "v1.0.0")
    assert decide(target, manifest, TrustRequest()).origin == UNVERIFIED
    with pytest.raises(SignatureRejected) as info:
        decide(target, manifest, TrustRequest(require_signature=True))
    assert info.value.slug == "signature_missing" and info.value.exit_code == 1
    assert info.value.report.manifest_digest == manifest.digest


def test_pinned_and_first_use(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "l")
    manifest = publish_artifact(target, "v1.0.0")
    signer = new_signer()
    sign_artifact(target, manifest, signer, REFERENCE)
    pinned = decide(target, manifest, TrustRequest(project=TrustPolicy(trusted_keys=[pem(signer)])))
    assert pinned.origin == PINNED and pinned.signer == signer.fingerprint
    first = decide(target, manifest, TrustRequest(platform=TrustPolicy(trusted_keys=[pem(signer)])))
    assert first.origin == FIRST_USE and first.warning() is not None
    stranger = TrustPolicy(trusted_keys=[pem(new_signer())])
    with pytest.raises(GateError) as info:
        decide(target, manifest, TrustRequest(project=stranger))
    assert info.value.slug == "signature_untrusted"


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP521R1()], ids=["p384", "p521"])
def test_p384_and_p521_sign_and_verify_end_to_end(curve: ec.EllipticCurve, tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "l")
    manifest = publish_artifact(target, "v1.0.0")
    signer = Signer(ec.generate_private_key(curve))
    sign_artifact(target, manifest, signer, REFERENCE)
    decision = decide(
        target, manifest, TrustRequest(project=TrustPolicy(trusted_keys=[pem(signer)]))
    )
    assert {s.format for s in decision.report.signatures if s.passed} == {"legacy", "bundle"}


def test_ed25519_signs_ph_in_sig_and_verifies(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "l")
    manifest = publish_artifact(target, "v1.0.0")
    key = ed25519.Ed25519PrivateKey.generate()
    signer = Signer(key)
    sign_artifact(target, manifest, signer, REFERENCE)
    sig_doc = json.loads(
        target.fetch_bytes(target.resolve(simplesigning.signature_tag(manifest.digest)))
    )
    signature = base64.b64decode(
        sig_doc["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
    )
    payload = simplesigning.payload(REFERENCE, manifest.digest)
    assert signature != key.sign(payload)  # not pure Ed25519: cosign's Ed25519ph
    decision = decide(
        target, manifest, TrustRequest(project=TrustPolicy(trusted_keys=[pem(signer)]))
    )
    assert {s.format for s in decision.report.signatures if s.passed} == {"legacy", "bundle"}


def test_cli_verify_reports_a_hash_mismatch_not_an_alteration(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    target = LayoutTarget(layout)
    manifest = publish_artifact(target, "v1.0.0")
    key = ec.generate_private_key(ec.SECP384R1())
    payload = simplesigning.payload(REFERENCE, manifest.digest)
    _raw_sig(target, manifest, key.sign(payload, ec.ECDSA(hashes.SHA256())))  # cosign: SHA-384
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(public_key_pem(key.public_key()))
    result = run_floe("platform", "verify", f"oci-layout://{layout}:v1.0.0", "--key", str(pub))
    assert result.exit_code == 1, result.output
    assert "signature_algorithm_mismatch" in result.output
    assert "SHA-384" in result.output and "altered" not in result.output
    assert "Traceback" not in result.output
    as_json = run_floe(
        "platform", "verify", f"oci-layout://{layout}:v1.0.0", "--key", str(pub), "--format", "json"
    )
    assert as_json.exit_code == 1
    assert "signature_algorithm_mismatch" in as_json.output


def test_cli_verify_passes_with_the_right_hash(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    target = LayoutTarget(layout)
    manifest = publish_artifact(target, "v1.0.0")
    key = ec.generate_private_key(ec.SECP384R1())
    payload = simplesigning.payload(REFERENCE, manifest.digest)
    _raw_sig(target, manifest, key.sign(payload, ec.ECDSA(hashes.SHA384())))
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(public_key_pem(key.public_key()))
    result = run_floe("platform", "verify", f"oci-layout://{layout}:v1.0.0", "--key", str(pub))
    assert result.exit_code == 0, result.output
    assert f"Verified: {manifest.digest}" in result.output


@pytest.mark.parametrize("kind", ["p224", "not-pem"])
def test_a_bad_key_in_the_platforms_own_policy_is_exit_1(kind: str, tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "l")
    manifest = publish_artifact(target, "v1.0.0")
    key = ec.generate_private_key(ec.SECP224R1())
    listed = public_key_pem(key.public_key()).decode() if kind == "p224" else "garbage"
    with pytest.raises(GateError) as info:
        decide(target, manifest, TrustRequest(platform=TrustPolicy(trusted_keys=[listed])))
    assert info.value.slug == "tree_invalid" and info.value.exit_code == 1
