"""Independent proof of "cosign-compatible": code that shares nothing with floe.

- every bundle floe writes (signature and provenance attestation) verifies with
  sigstore-js (`@sigstore/verify`, `@sigstore/bundle`) and the public key alone,
  and its in-toto subject is the artifact's digest;
- every `.sig` simple-signing payload verifies with `openssl dgst` (Ed25519ph, which
  OpenSSL 3.0 lacks, with `@noble/curves`);
- a P-384 signature by node's crypto and an Ed25519ph signature by `@noble/curves`
  verify in floe, over a `.sig` manifest built by hand.

The node packages come from tests/js (pinned by its lockfile; `make js-deps`).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from signing_helpers import publish_artifact, push, read_json

from floe.oci.layout import LayoutTarget
from floe.oci.target import COSIGN_SIMPLESIGNING, SIGSTORE_BUNDLE, Descriptor
from floe.signing import bundle, simplesigning
from floe.signing.keys import PrivateKey, Signer, public_key_pem
from floe.signing.provenance import attach_provenance
from floe.signing.sign import sign_artifact
from floe.signing.trust_policy import TrustPolicy
from floe.trust.decision import FIRST_USE, PINNED, TrustRequest, decide

JS = Path(__file__).parent / "js"
REFERENCE = "registry.example/platform/floe"


@pytest.fixture(scope="module", autouse=True)
def _node_packages() -> None:
    missing = [p for p in ("@sigstore/verify", "@sigstore/bundle", "@noble/curves")
               if not (JS / "node_modules" / p / "package.json").exists()]  # fmt: skip
    assert not missing, f"{missing} not installed: run `make js-deps`"


def node(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", *args], capture_output=True, text=True, cwd=JS, timeout=60, check=False
    )


KEYS = {
    "p256": (lambda: ec.generate_private_key(ec.SECP256R1()), None, "-sha256"),
    "p384": (lambda: ec.generate_private_key(ec.SECP384R1()), "sha384", "-sha384"),
    "p521": (lambda: ec.generate_private_key(ec.SECP521R1()), "sha512", "-sha512"),
    "rsa2048": (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), None,
                "-sha256"),
    "ed25519": (ed25519.Ed25519PrivateKey.generate, None, None),
}  # fmt: skip


def _bundles(target: LayoutTarget, manifest: Descriptor) -> list[bytes]:
    out = []
    for referrer in target.referrers(manifest, SIGSTORE_BUNDLE):
        layer, _ = bundle.bundle_layer_of(target.fetch_bytes(referrer), manifest)
        out.append(target.fetch_bytes(layer))
    return out


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_sigstore_js_and_openssl_verify_what_floe_writes(kind: str, tmp_path: Path) -> None:
    make, js_hash, openssl_hash = KEYS[kind]
    signer = Signer(make())
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    sign_artifact(target, manifest, signer, REFERENCE)
    statement = json.dumps(
        {"_type": "https://in-toto.io/Statement/v1", "predicateType": "https://slsa.dev/provenance/v1",
         "subject": [{"name": REFERENCE, "digest": {"sha256": manifest.hex}}], "predicate": {}},
        sort_keys=True, separators=(",", ":"),
    ).encode()  # fmt: skip
    attach_provenance(target, manifest, signer, statement)
    pub = tmp_path / "cosign.pub"
    pub.write_bytes(public_key_pem(signer.public_key))

    found = _bundles(target, manifest)
    assert len(found) == 2  # the signature and the provenance attestation
    predicates = set()
    for number, raw in enumerate(found):
        path = tmp_path / f"bundle-{number}.json"
        path.write_bytes(raw)
        extra = [js_hash] if js_hash else []
        proc = node("verify_bundle.js", str(path), str(pub), manifest.digest, *extra)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = json.loads(proc.stdout)
        assert result["ok"] and manifest.digest in result["subjects"]
        predicates.add(result["predicateType"])
        # A bundle about another digest is refused by the same script.
        other = node("verify_bundle.js", str(path), str(pub), "sha256:" + "0" * 64, *extra)
        assert other.returncode == 1
    assert predicates == {"https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v1"}
    _check_sig_payloads(target, manifest, pub, openssl_hash, tmp_path)


def _check_sig_payloads(
    target: LayoutTarget, manifest: Descriptor, pub: Path, digest: str | None, tmp_path: Path
) -> None:
    doc = read_json(target, target.resolve(simplesigning.signature_tag(manifest.digest)))
    layers = [Descriptor.from_json(item) for item in doc["layers"]]
    assert layers and all(layer.media_type == COSIGN_SIMPLESIGNING for layer in layers)
    for layer in layers:
        payload = tmp_path / "payload.json"
        payload.write_bytes(target.fetch_bytes(layer))
        assert simplesigning.payload_claims(payload.read_bytes()) == (REFERENCE, manifest.digest)
        signature_b64 = layer.annotations["dev.cosignproject.cosign/signature"]
        if digest is None:  # Ed25519: cosign's Ed25519ph, checked with @noble/curves
            proc = node("ed25519ph_verify.mjs", str(pub), str(payload), signature_b64)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            continue
        sig = tmp_path / "payload.sig"
        sig.write_bytes(base64.b64decode(signature_b64))
        run = subprocess.run(
            ["openssl", "dgst", digest, "-verify", str(pub), "-signature", str(sig), str(payload)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0 and "Verified OK" in run.stdout, run.stdout + run.stderr


def _hand_made_sig(
    target: LayoutTarget, manifest: Descriptor, payload: bytes, signature_b64: str
) -> None:
    """A `.sig` manifest built from cosign's documented format, not floe's signer."""
    layer = Descriptor.for_bytes(
        COSIGN_SIMPLESIGNING, payload, {"dev.cosignproject.cosign/signature": signature_b64}
    )
    push(target, layer, payload)
    config = simplesigning.image_config([layer])
    config_desc = Descriptor.for_bytes(simplesigning.OCI_IMAGE_CONFIG, config)
    push(target, config_desc, config)
    data = simplesigning.manifest(config_desc, [layer])
    desc = Descriptor.for_bytes("application/vnd.oci.image.manifest.v1+json", data)
    push(target, desc, data)
    target.tag(desc, simplesigning.signature_tag(manifest.digest))


@pytest.mark.parametrize("kind", ["p384", "ed25519ph"])
def test_signatures_by_independent_code_verify_in_floe(kind: str, tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.0.0")
    payload = simplesigning.payload(REFERENCE, manifest.digest)
    (tmp_path / "payload").write_bytes(payload)
    proc = node("sign_independent.mjs", str(tmp_path / "payload"))
    assert proc.returncode == 0, proc.stderr
    made = json.loads(proc.stdout)[kind]
    _hand_made_sig(target, manifest, payload, made["signature"])

    anchors = TrustPolicy(require_signed_artifacts=True, trusted_keys=[made["publicKey"]])
    decision = decide(target, manifest, TrustRequest(project=anchors))
    assert decision.origin == PINNED and decision.report.ok
    assert decision.signers[0].public_key is not None
    # First use (the platform declares the key) reaches the same verdict.
    first = decide(target, manifest, TrustRequest(platform=anchors))
    assert first.origin == FIRST_USE and first.report.ok


def test_a_wrong_key_is_not_an_algorithm_mismatch(tmp_path: Path) -> None:
    """Sanity for the test above: another P-384 key is untrusted, not 'mismatch'."""
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.0.0")
    payload = simplesigning.payload(REFERENCE, manifest.digest)
    (tmp_path / "payload").write_bytes(payload)
    made = json.loads(node("sign_independent.mjs", str(tmp_path / "payload")).stdout)["p384"]
    _hand_made_sig(target, manifest, payload, made["signature"])
    other: PrivateKey = ec.generate_private_key(ec.SECP384R1())
    anchors = TrustPolicy(trusted_keys=[public_key_pem(other.public_key()).decode()])
    from floe.errors import GateError

    with pytest.raises(GateError) as info:
        decide(target, manifest, TrustRequest(project=anchors))
    assert info.value.slug == "signature_untrusted"
