"""Verification: every way a signature can fail gets its own slug, on a layout and a registry."""

from __future__ import annotations

import base64
import datetime
import io
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signing_helpers import (
    new_signer,
    pem,
    policy,
    publish_artifact,
    read_json,
    signed_artifact,
    tamper_file,
    write_json_manifest,
)

from floe.errors import GateError, UsageError
from floe.oci.layout import LayoutTarget
from floe.oci.target import (
    ANNOTATION_COSIGN_SIGNATURE,
    SIGSTORE_BUNDLE,
    Descriptor,
    Target,
    canonical_json,
)
from floe.signing import merge_policies, sign_artifact, verify_artifact
from floe.signing.keyless import CertIdentity, certificate_identity, identity_matches
from floe.signing.sign import push_bundle
from floe.tree.model import TrustedIdentity, TrustPolicy


class Store:
    """A target plus a way to corrupt a stored blob behind its back."""

    def __init__(self, target: Target, docker_ref: str, blob_file: Any) -> None:
        self.target = target
        self.docker_ref = docker_ref
        self.blob_file = blob_file


@pytest.fixture(params=["layout", "registry"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "layout":
        layout = LayoutTarget(tmp_path / "layout")
        yield Store(layout, str(layout.path), layout.blob_path)
        return
    from floe.oci.remote import RemoteTarget

    registry = request.getfixturevalue("registry")
    repo = request.getfixturevalue("repo_name")
    target = RemoteTarget(registry.host, repo, registry.options())
    yield Store(target, f"{registry.host}/{repo}", registry.blob_path)
    target.close()


def sig_tag(digest: str) -> str:
    return "sha256-" + digest.split(":", 1)[1] + ".sig"


def expect_gate(slug: str, *args: Any, **kwargs: Any) -> GateError:
    with pytest.raises(GateError) as info:
        verify_artifact(*args, **kwargs)
    assert info.value.slug == slug, info.value.message
    assert info.value.exit_code == 1
    return info.value


def test_round_trip_in_both_formats(store: Store) -> None:
    manifest, signer = signed_artifact(store.target, store.docker_ref)
    report = verify_artifact(store.target, manifest, policy(signer))
    assert report.ok
    assert report.signer == signer.fingerprint
    assert sorted(c.format for c in report.signatures) == ["bundle", "legacy"]
    assert all(c.passed and c.signer == signer.fingerprint for c in report.signatures)
    assert all(c.claimed_digest == manifest.digest for c in report.signatures)


def test_each_format_alone_is_enough(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest, signer = signed_artifact(target, "acme")
    # Only the bundle: point the .sig tag at an empty signature manifest.
    legacy = read_json(target, target.resolve(sig_tag(manifest.digest)))
    write_json_manifest(target, legacy | {"layers": []}, sig_tag(manifest.digest))
    report = verify_artifact(target, manifest, policy(signer))
    assert [c.format for c in report.signatures] == ["bundle"]
    assert report.ok


def test_wrong_key_is_untrusted(store: Store) -> None:
    manifest = publish_artifact(store.target, "v1.2.3")
    signer, stranger = new_signer(), new_signer()
    sign_artifact(store.target, manifest, stranger, store.docker_ref)
    error = expect_gate("signature_untrusted", store.target, manifest, policy(signer))
    assert error.details["signatures"][0]["reason"] == "not signed by any trusted key"


def test_payload_tampered_in_storage_is_invalid(store: Store) -> None:
    manifest, signer = signed_artifact(store.target, store.docker_ref)
    legacy = read_json(store.target, store.target.resolve(sig_tag(manifest.digest)))
    payload_digest = legacy["layers"][0]["digest"]
    tamper_file(store.blob_file(payload_digest), b"cosign container", b"cosign CONTAINER")
    [referrer] = store.target.referrers(manifest, SIGSTORE_BUNDLE)
    bundle_layer = read_json(store.target, referrer)["layers"][0]
    tamper_file(store.blob_file(bundle_layer["digest"]), b'"tlogEntries"', b'"tlogEntriez"')
    error = expect_gate("signature_invalid", store.target, manifest, policy(signer))
    reasons = [s["reason"] for s in error.details["signatures"]]
    assert all("does not match its digest" in r for r in reasons), reasons


def test_payload_rewritten_with_consistent_digests_is_invalid(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest, signer = signed_artifact(target, "acme")
    sig_doc = read_json(target, target.resolve(sig_tag(manifest.digest)))
    layer = sig_doc["layers"][0]
    payload = target.fetch_bytes(Descriptor.from_json(layer))
    forged = payload.replace(b'"optional":null', b'"optional":{"note":"forged"}')
    forged_layer = Descriptor.for_bytes(layer["mediaType"], forged, dict(layer["annotations"]))
    target.push(forged_layer, io.BytesIO(forged))
    write_json_manifest(
        target, sig_doc | {"layers": [forged_layer.to_json()]}, sig_tag(manifest.digest)
    )
    # Leave only the forged legacy signature to check.
    [referrer] = target.referrers(manifest, SIGSTORE_BUNDLE)
    _drop_referrer(target, referrer)
    error = expect_gate("signature_invalid", target, manifest, policy(signer))
    assert "does not verify with trusted key" in error.details["signatures"][0]["reason"]


def _drop_referrer(target: LayoutTarget, referrer: Descriptor) -> None:
    index_path = target.path / "index.json"
    index = json.loads(index_path.read_bytes())
    index["manifests"] = [m for m in index["manifests"] if m["digest"] != referrer.digest]
    index_path.write_bytes(canonical_json(index))


def test_signature_copied_from_another_version_is_a_subject_mismatch(store: Store) -> None:
    """The v1.2.2 signatures copied onto v1.2.3 (both formats)."""
    old = publish_artifact(store.target, "v1.2.2")
    new = publish_artifact(store.target, "v1.2.3")
    signer = new_signer()
    sign_artifact(store.target, old, signer, store.docker_ref)
    # Legacy: point v1.2.3's .sig tag at v1.2.2's signature manifest.
    store.target.tag(store.target.resolve(sig_tag(old.digest)), sig_tag(new.digest))
    # Bundle: the same bundle blob, re-attached with v1.2.3 as the subject.
    [referrer] = store.target.referrers(old, SIGSTORE_BUNDLE)
    bundle_layer = read_json(store.target, referrer)["layers"][0]
    raw = store.target.fetch_bytes(Descriptor.from_json(bundle_layer))
    push_bundle(store.target, new, raw, "https://sigstore.dev/cosign/sign/v1")

    error = expect_gate("signature_subject_mismatch", store.target, new, policy(signer))
    checks = error.details["signatures"]
    assert sorted(c["format"] for c in checks) == ["bundle", "legacy"]
    assert all(c["valid"] and c["claimed_digest"] == old.digest for c in checks)
    assert verify_artifact(store.target, old, policy(signer)).ok


def test_missing_signature_with_require_signed(store: Store) -> None:
    manifest = publish_artifact(store.target, "v1.2.3")
    expect_gate(
        "signature_missing", store.target, manifest, TrustPolicy(require_signed_artifacts=True)
    )
    report = verify_artifact(store.target, manifest, TrustPolicy())
    assert not report.ok and report.signatures == []


def test_trusted_keys_alone_require_a_signature(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    expect_gate("signature_missing", target, manifest, policy(new_signer(), require=False))


def test_key_rotation_two_trusted_keys(store: Store) -> None:
    manifest = publish_artifact(store.target, "v1.2.3")
    old, new = new_signer(), new_signer()
    sign_artifact(store.target, manifest, old, store.docker_ref)
    sign_artifact(store.target, manifest, new, store.docker_ref)
    both = verify_artifact(store.target, manifest, policy(old, new))
    assert len(both.signatures) == 4
    assert all(c.passed for c in both.signatures)
    assert {c.signer for c in both.signatures} == {old.fingerprint, new.fingerprint}
    for only in (old, new):
        report = verify_artifact(store.target, manifest, policy(only))
        assert report.signer == only.fingerprint
        assert sum(c.passed for c in report.signatures) == 2


def test_verification_writes_nothing(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    sign_artifact(target, manifest, new_signer(), "acme")
    before = {p: p.read_bytes() for p in target.path.rglob("*") if p.is_file()}
    expect_gate("signature_untrusted", target, manifest, policy(new_signer()))
    after = {p: p.read_bytes() for p in target.path.rglob("*") if p.is_file()}
    assert after == before


# ---- CLI ------------------------------------------------------------------------------


def test_verify_cli(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    signer, stranger = new_signer(), new_signer()
    sign_artifact(target, manifest, signer, str(target.path))
    (tmp_path / "good.pub").write_text(pem(signer))
    (tmp_path / "bad.pub").write_text(pem(stranger))
    ref = f"oci-layout://{target.path}:v1.2.3"

    ok = run_floe("platform", "verify", ref, "--key", str(tmp_path / "good.pub"))
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.count("✓") == 2
    assert f"signed by {signer.fingerprint}" in ok.stdout

    bad = run_floe("platform", "verify", ref, "--key", str(tmp_path / "bad.pub"))
    assert bad.exit_code == 1
    assert "signature_untrusted" in bad.stderr
    assert bad.stdout.count("✗") == 2

    as_json = run_floe(
        "platform", "verify", ref, "--key", str(tmp_path / "bad.pub"), "--format", "json"
    )
    assert as_json.exit_code == 1
    doc = json.loads(as_json.stdout)
    assert doc["event"] == "signature_untrusted"
    assert len(doc["signatures"]) == 2

    rotated = run_floe(
        "platform", "verify", ref, "--key", str(tmp_path / "bad.pub"),
        "--key", str(tmp_path / "good.pub"), "--format", "json",
    )  # fmt: skip
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["signer"] == signer.fingerprint

    no_trust = run_floe("platform", "verify", ref)
    assert no_trust.exit_code == 1
    assert "signature_untrusted" in no_trust.stderr


def test_verify_cli_on_registry_missing_signature(registry: Any, repo_name: str) -> None:
    from floe.oci.remote import RemoteTarget

    target = RemoteTarget(registry.host, repo_name, registry.options())
    publish_artifact(target, "v2.0.0")
    target.close()
    result = run_floe("platform", "verify", registry.ref(repo_name, "v2.0.0"))
    assert result.exit_code == 1
    assert "error[signature_missing]" in result.stderr


# ---- trust policy merge ---------------------------------------------------------------


def test_merge_require_signed_only_tightens() -> None:
    on, off = TrustPolicy(require_signed_artifacts=True), TrustPolicy()
    assert merge_policies(on, off).require_signed_artifacts
    assert merge_policies(off, on).require_signed_artifacts
    assert not merge_policies(off, off).require_signed_artifacts


def test_merge_keys_intersect() -> None:
    a, b, c = new_signer(), new_signer(), new_signer()
    platform = policy(a, b, require=False)
    # The platform's own list is read from the artifact under check: never a trust anchor.
    assert merge_policies(platform, TrustPolicy()).trusted_keys == []
    assert merge_policies(platform, policy(b, c)).trusted_keys == [pem(b)]
    assert merge_policies(TrustPolicy(), policy(c)).trusted_keys == [pem(c)]
    with pytest.raises(GateError) as info:
        merge_policies(platform, policy(c))
    assert info.value.slug == "trust_policy_conflict"


def test_merge_listing_only_keys_drops_identities() -> None:
    a = new_signer()
    ci = TrustedIdentity(issuer="https://token.actions.githubusercontent.com", subject="x")
    platform = policy(a, identities=[ci])
    merged = merge_policies(platform, policy(a))
    assert merged.trusted_keys == [pem(a)] and merged.trusted_identities == []
    only_ci = merge_policies(platform, TrustPolicy(trusted_identities=[ci]))
    assert only_ci.trusted_keys == [] and only_ci.trusted_identities == [ci]


# ---- keyless bundles (no network) ------------------------------------------------------

ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/platform/.github/workflows/release.yml@refs/heads/main"


def fulcio_like_certificate() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.dev")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(minutes=10))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(SUBJECT)]), False
        )
        .add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1"), ISSUER.encode()
            ),
            False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def keyless_bundle(digest: str) -> bytes:
    statement = canonical_json(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "acme", "digest": {"sha256": digest.split(":", 1)[1]}}],
            "predicateType": "https://sigstore.dev/cosign/sign/v1",
            "predicate": {},
        }
    )
    cert = base64.b64encode(fulcio_like_certificate()).decode()
    return canonical_json(
        {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"certificate": {"rawBytes": cert}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": "application/vnd.in-toto+json",
                "signatures": [{"sig": base64.b64encode(b"x" * 64).decode()}],
            },
        }
    )


def test_keyless_identity_is_read_from_the_certificate() -> None:
    identity = certificate_identity(fulcio_like_certificate())
    assert identity == CertIdentity(ISSUER, (SUBJECT,))
    assert identity_matches(identity, TrustedIdentity(issuer=ISSUER, subject=SUBJECT))
    regex = TrustedIdentity(issuer=ISSUER, subject_regex=r"https://github\.com/acme/.*")
    assert identity_matches(identity, regex)
    assert not identity_matches(identity, TrustedIdentity(issuer="https://x", subject=SUBJECT))
    assert not identity_matches(
        identity, TrustedIdentity(issuer=ISSUER, subject_regex=r"https://github\.com/evil/.*")
    )


def test_keyless_bundle_without_trusted_identities_is_untrusted(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    push_bundle(target, manifest, keyless_bundle(manifest.digest), None)
    error = expect_gate("signature_untrusted", target, manifest, policy(new_signer()))
    [check] = error.details["signatures"]
    assert check["format"] == "bundle"
    assert check["signer"] == f"{ISSUER}={SUBJECT}"


def test_keyless_needs_sigstore_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    push_bundle(target, manifest, keyless_bundle(manifest.digest), None)
    monkeypatch.setitem(sys.modules, "sigstore", None)  # import sigstore -> ImportError
    trust = TrustPolicy(trusted_identities=[TrustedIdentity(issuer=ISSUER, subject=SUBJECT)])
    with pytest.raises(UsageError) as info:
        verify_artifact(target, manifest, trust, sigstore_network=False)
    assert info.value.slug == "sigstore_missing"
    assert "floe[sigstore]" in (info.value.hint or "")


def test_forged_keyless_bundle_is_rejected_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    push_bundle(target, manifest, keyless_bundle(manifest.digest), None)
    trust = TrustPolicy(trusted_identities=[TrustedIdentity(issuer=ISSUER, subject=SUBJECT)])
    error = expect_gate("signature_invalid", target, manifest, trust, sigstore_network=False)
    assert error.details["signatures"][0]["signer"] == f"{ISSUER}={SUBJECT}"


def test_legacy_layer_without_signature_annotation_is_invalid(tmp_path: Path) -> None:
    target = LayoutTarget(tmp_path / "layout")
    manifest, signer = signed_artifact(target, "acme")
    doc = read_json(target, target.resolve(sig_tag(manifest.digest)))
    doc["layers"][0]["annotations"].pop(ANNOTATION_COSIGN_SIGNATURE)
    write_json_manifest(target, doc, sig_tag(manifest.digest))
    report = verify_artifact(target, manifest, policy(signer))  # the bundle still passes
    legacy = next(c for c in report.signatures if c.format == "legacy")
    assert legacy.error == "signature_invalid"
    assert report.ok and report.passed_by is not None and report.passed_by.format == "bundle"


def test_keyless_sign_stores_the_bundle_as_a_referrer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.signing import keyless
    from floe.signing.sign import sign_keyless

    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    seen: list[bytes] = []

    def fake_sign(statement: bytes, identity_token: str | None = None) -> bytes:
        seen.append(statement)
        return keyless_bundle(manifest.digest)

    monkeypatch.setattr(keyless, "sign_statement", fake_sign)
    desc = sign_keyless(target, manifest, "acme")
    assert json.loads(seen[0])["subject"][0]["digest"]["sha256"] == manifest.hex
    [referrer] = target.referrers(manifest, SIGSTORE_BUNDLE)
    assert referrer.digest == desc.digest
    report = verify_artifact(target, manifest, TrustPolicy())
    assert report.signatures[0].signer == f"{ISSUER}={SUBJECT}"


def test_keyless_cli_without_sigstore(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = LayoutTarget(tmp_path / "layout")
    publish_artifact(target, "v1.2.3")
    monkeypatch.setitem(sys.modules, "sigstore", None)
    result = run_floe("platform", "sign", f"oci-layout://{target.path}:v1.2.3", "--keyless")
    assert result.exit_code == 2
    assert "error[sigstore_missing]" in result.stderr
    assert target.referrers(publish_artifact(target, "v1.2.3"), SIGSTORE_BUNDLE) == []


@pytest.mark.parametrize("flag", ["--identity", "--identity-regex"])
def test_verify_cli_rejects_malformed_identities(tmp_path: Path, flag: str) -> None:
    result = run_floe("platform", "verify", f"oci-layout://{tmp_path}:v1", flag, "no-separator")
    assert result.exit_code == 2
    assert "identity_invalid" in result.stderr


def test_provenance_alone_is_not_a_signature(tmp_path: Path) -> None:
    from floe.signing import attach_provenance, build_statement

    target = LayoutTarget(tmp_path / "layout")
    manifest = publish_artifact(target, "v1.2.3")
    signer = new_signer()
    statement = build_statement(
        "acme", manifest.digest, source_manifest="m.yaml", version="1.2.3", inputs={}
    )
    attach_provenance(target, manifest, signer, statement)
    error = expect_gate("signature_missing", target, manifest, policy(signer))
    [check] = error.details["signatures"]
    assert check["format"] == "attestation" and check["valid"]
    assert check["predicate_type"] == "https://slsa.dev/provenance/v1"
    sign_artifact(target, manifest, signer, "acme")
    assert verify_artifact(target, manifest, policy(signer)).passed_by is not None
