"""cosign's OCI conventions: `cosign save`-shaped layouts, identities, untyped referrers.

The cosign-shaped layout is written here file by file from the documented format
(an OCI image layout whose index.json marks entries with `kind` annotations:
`dev.cosignproject.cosign/image` and `dev.cosignproject.cosign/sigs`), not with
floe's layout writer, and must verify in floe.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from signing_helpers import new_signer, pem, publish_artifact, read_json

from floe.errors import GateError, UsageError
from floe.oci.layout import LayoutTarget
from floe.oci.reference import parse_reference
from floe.oci.target import SIGSTORE_BUNDLE, Descriptor
from floe.signing import cosign_layout, simplesigning
from floe.signing.keys import public_key_pem
from floe.signing.sign import docker_reference_for, sign_artifact
from floe.signing.trust_policy import TrustPolicy
from floe.signing.verify import bundle_referrers
from floe.trust.decision import PINNED, TrustRequest, decide

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _blob(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = root / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def cosign_saved_layout(root: Path, key: ec.EllipticCurvePrivateKey) -> str:
    """What `cosign save` writes for a signed image: returns the image digest."""
    (root / "oci-layout").parent.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(root, b"{}")}
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar", **_blob(root, b"x" * 10)}
    image = _json({"schemaVersion": 2, "mediaType": MANIFEST, "config": config,
                   "layers": [layer]})  # fmt: skip
    image_desc = {"mediaType": MANIFEST, **_blob(root, image)}
    payload = _json({
        "critical": {"identity": {"docker-reference": "registry.example/team/app"},
                     "image": {"docker-manifest-digest": image_desc["digest"]},
                     "type": "cosign container image signature"},
        "optional": None,
    })  # fmt: skip
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    sig_layer = {
        "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
        **_blob(root, payload),
        "annotations": {"dev.cosignproject.cosign/signature": signature},
    }
    sig_config = {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(root, b"{}")}
    sigs = _json({"schemaVersion": 2, "mediaType": MANIFEST, "config": sig_config,
                  "layers": [sig_layer]})  # fmt: skip
    sigs_desc = {"mediaType": MANIFEST, **_blob(root, sigs)}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {**image_desc, "annotations": {"kind": "dev.cosignproject.cosign/image"}},
            {**sigs_desc, "annotations": {"kind": "dev.cosignproject.cosign/sigs"}},
        ],
    }
    (root / "index.json").write_bytes(_json(index))
    return str(image_desc["digest"])


def test_a_cosign_saved_layout_verifies_in_floe(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    digest = cosign_saved_layout(tmp_path / "saved", key)
    target = LayoutTarget(tmp_path / "saved")
    image = target.resolve(digest)
    anchors = TrustPolicy(trusted_keys=[public_key_pem(key.public_key()).decode()])
    decision = decide(target, image, TrustRequest(project=anchors))
    assert decision.origin == PINNED and decision.report.ok
    assert decision.report.signatures[0].claimed_digest == digest
    # Another key: refused, so the kind-found signature really is what was checked.
    other = TrustPolicy(trusted_keys=[pem(new_signer())])
    with pytest.raises(GateError) as info:
        decide(target, image, TrustRequest(project=other))
    assert info.value.slug == "signature_untrusted"


def test_floe_writes_cosign_kind_annotations_and_a_registry_identity(tmp_path: Path) -> None:
    layout = tmp_path / "My Platform"
    target = LayoutTarget(layout)
    manifest = publish_artifact(target, "v1.2.3")
    ref = parse_reference(f"oci-layout://{layout}:v1.2.3")
    identity = docker_reference_for(ref)
    assert identity == "localhost/my-platform" and str(tmp_path) not in identity
    signer = new_signer()
    sign_artifact(target, manifest, signer, identity)

    index = json.loads((layout / "index.json").read_bytes())
    kinds = {m["digest"]: (m.get("annotations") or {}).get("kind") for m in index["manifests"]}
    sig_desc = target.resolve(simplesigning.signature_tag(manifest.digest))
    assert kinds[manifest.digest] == cosign_layout.KIND_IMAGE
    assert kinds[sig_desc.digest] == cosign_layout.KIND_SIGS
    layer = Descriptor.from_json(read_json(target, sig_desc)["layers"][0])
    claims = simplesigning.payload_claims(target.fetch_bytes(layer))
    assert claims == ("localhost/my-platform", manifest.digest)
    # The tag still resolves, and verification passes either way.
    assert target.resolve("v1.2.3").digest == manifest.digest
    anchors = TrustPolicy(trusted_keys=[pem(signer)])
    assert decide(target, manifest, TrustRequest(project=anchors)).report.ok


@pytest.mark.parametrize(
    ("given", "ref_name", "expected"),
    [
        ("registry.example.com:5000/team/x:v1", None, "registry.example.com:5000/team/x"),
        ("oci://ghcr.io/acme/floe", None, "ghcr.io/acme/floe"),
        (None, "ghcr.io/acme/floe:v2", "ghcr.io/acme/floe"),
        (None, "v2", "localhost/layout"),
    ],
)  # fmt: skip
def test_signing_identity(given: str | None, ref_name: str | None, expected: str) -> None:
    ref = parse_reference("oci-layout:///tmp/x/layout:v1")
    assert docker_reference_for(ref, given, ref_name) == expected


@pytest.mark.parametrize("bad", ["/abs/path", "Upper/Case", "host/"])
def test_a_bad_signing_identity_is_refused(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        docker_reference_for(parse_reference("oci-layout:///tmp/l:v1"), bad)
    assert info.value.slug == "signing_identity_invalid"


class UntypedReferrers:
    """A layout seen through a mirror that dropped `artifactType` and annotations from
    the referrers index (skopeo 1.9 does this)."""

    def __init__(self, inner: LayoutTarget) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        if artifact_type is not None:  # a filter on a type the entries no longer carry
            return []
        return [Descriptor(d.media_type, d.digest, d.size) for d in self.inner.referrers(subject)]


def test_a_referrer_without_artifact_type_is_read_from_its_manifest(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.0.0")
    signer = new_signer()
    sign_artifact(target, manifest, signer, "registry.example/team/platform")
    # Only the bundle counts: drop the .sig tag so the referrer must carry the decision.
    index_path = tmp_path / "layout" / "index.json"
    index = json.loads(index_path.read_bytes())
    sig_digest = target.resolve(simplesigning.signature_tag(manifest.digest)).digest
    index["manifests"] = [m for m in index["manifests"] if m["digest"] != sig_digest]
    index_path.write_bytes(json.dumps(index).encode())
    mirrored: Any = UntypedReferrers(target)
    assert all(d.artifact_type is None for d in mirrored.referrers(manifest))
    found = bundle_referrers(mirrored, manifest)
    assert [d.artifact_type for d in found] == [SIGSTORE_BUNDLE]
    anchors = TrustPolicy(trusted_keys=[pem(signer)])
    decision = decide(mirrored, manifest, TrustRequest(project=anchors))
    assert decision.report.ok and decision.report.passed_by is not None
    assert decision.report.passed_by.format == "bundle"
