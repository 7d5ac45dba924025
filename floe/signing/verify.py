"""Verify that a trusted, valid signature covers a manifest digest.

Every signature found is checked and reported: the legacy `.sig` layers and the
bundle referrers. A signature passes only when (1) it verifies over the exact
signed bytes (the payload blob, or the DSSE PAE), (2) the key or identity is
trusted, and (3) the digest it claims is the manifest's digest. Claims are read
only after the signature verified, so an unsigned claim never decides anything.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError, GateError
from floe.oci.target import (
    ANNOTATION_COSIGN_SIGNATURE,
    SIGSTORE_BUNDLE,
    Descriptor,
    Target,
)
from floe.signing import bundle as bundle_format
from floe.signing import cosign_layout, dsse, lookup, simplesigning
from floe.signing.policy import has_anchors, trusted_keys
from floe.signing.trust_policy import TrustPolicy

if TYPE_CHECKING:  # cryptography loads only when a signature is actually checked
    from floe.signing.keys import PublicKey

MAX_REFERRERS = 64
LEGACY = "legacy"
BUNDLE = "bundle"
ATTESTATION = "attestation"

# When nothing passes, the most telling failure names the error.
_SEVERITY = (
    "signature_subject_mismatch",
    "signature_algorithm_mismatch",
    "signature_invalid",
    "signature_untrusted",
)
_HINTS = {
    "signature_missing": "sign it: floe platform sign REF --key cosign.key",
    "signature_subject_mismatch": (
        "the signature was made for another artifact (copied?); re-sign this digest"
    ),
    "signature_algorithm_mismatch": (
        "sign with cosign's hash for the key: P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, "
        "RSA PKCS#1 v1.5/SHA-256 (floe platform sign does)"
    ),
    "signature_invalid": "the signature or its payload was altered; re-sign the artifact",
    "signature_untrusted": (
        "add the signer's public key to trusted_keys (or pass --key cosign.pub)"
    ),
}


class SignatureRejected(GateError):
    """No trusted signature covers the artifact; `report` says what each one was."""

    def __init__(
        self, slug: str, message: str, report: VerificationReport, hint: str | None = None
    ) -> None:
        super().__init__(slug, message, hint=hint, details=report.to_json())
        self.report = report


@dataclass
class SignatureCheck:
    """One signature found on the artifact and what verification made of it."""

    format: str  # legacy | bundle | attestation
    source: str  # digest of the .sig manifest or of the referrer manifest
    signer: str | None = None  # key fingerprint (sha256:...) or ISSUER=SUBJECT
    claimed_digest: str | None = None
    predicate_type: str | None = None
    valid: bool = False
    trusted: bool = False
    error: str | None = None  # failure slug
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.valid and self.trusted and self.error is None

    def fail(self, slug: str, reason: str) -> SignatureCheck:
        self.error, self.reason = slug, reason
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "signer": self.signer,
            "claimed_digest": self.claimed_digest,
            "predicate_type": self.predicate_type,
            "valid": self.valid,
            "trusted": self.trusted,
            "passed": self.passed,
            "error": self.error,
            "reason": self.reason,
        }


@dataclass
class VerificationReport:
    manifest_digest: str
    signatures: list[SignatureCheck] = field(default_factory=list)

    @property
    def passed_by(self) -> SignatureCheck | None:
        return next((s for s in self.signatures if s.passed and s.format != ATTESTATION), None)

    @property
    def ok(self) -> bool:
        return self.passed_by is not None

    @property
    def signer(self) -> str | None:
        passed = self.passed_by
        return passed.signer if passed else None

    def failure(self) -> SignatureRejected:
        """The error to raise when no signature passed."""
        candidates = [s for s in self.signatures if s.format != ATTESTATION]
        if not candidates:
            slug = "signature_missing"
            message = f"no signature found for {self.manifest_digest}"
        else:
            slug = min(
                (s.error or "signature_untrusted" for s in candidates),
                key=lambda e: _SEVERITY.index(e) if e in _SEVERITY else len(_SEVERITY),
            )
            worst = next((s for s in candidates if s.error == slug), candidates[0])
            message = (
                f"no trusted signature covers {self.manifest_digest} "
                f"({len(candidates)} found; {worst.format}: {worst.reason})"
            )
        return SignatureRejected(slug, message, self, hint=_HINTS.get(slug))

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_digest": self.manifest_digest,
            "verified": self.ok,
            "signer": self.signer,
            "signatures": [s.to_json() for s in self.signatures],
        }


def verify_artifact(
    target: Target,
    manifest: Descriptor,
    policy: TrustPolicy,
    *,
    sigstore_network: bool = True,
) -> VerificationReport:
    """Check every signature on `manifest`; raise unless one trusted valid signature covers it.

    Raises only when the policy asks for signatures (`require_signed_artifacts`, or any
    trusted key or identity); otherwise returns the report for the caller to show.
    `sigstore_network`: keyless checks may refresh sigstore's trusted root online.
    """
    report = check_artifact(target, manifest, policy, sigstore_network=sigstore_network)
    if not report.ok and (policy.require_signed_artifacts or has_anchors(policy)):
        raise report.failure()
    return report


def check_artifact(
    target: Target, manifest: Descriptor, policy: TrustPolicy, *, sigstore_network: bool = True
) -> VerificationReport:
    """Check every signature on `manifest` against `policy`; never raises for a bad one."""
    keys = trusted_keys(policy)
    report = VerificationReport(manifest.digest)
    report.signatures += _legacy_checks(target, manifest, keys)
    report.signatures += _bundle_checks(target, manifest, keys, policy, sigstore_network)
    return report


# ---- legacy .sig ------------------------------------------------------------------


def _legacy_checks(
    target: Target, manifest: Descriptor, keys: dict[str, PublicKey]
) -> list[SignatureCheck]:
    tag = simplesigning.signature_tag(manifest.digest)
    sig_manifest = lookup.resolve_if_present(target, tag) or cosign_layout.cosign_sigs(
        target, manifest
    )
    if sig_manifest is None:
        return []
    source = sig_manifest.digest
    try:
        layers = simplesigning.parse_layers(target.fetch_bytes(sig_manifest))
    except FloeError as exc:
        return [SignatureCheck(LEGACY, source).fail("signature_invalid", exc.message)]
    return [_check_legacy_layer(target, source, layer, manifest, keys) for layer in layers]


def _check_legacy_layer(
    target: Target,
    source: str,
    layer: Descriptor,
    manifest: Descriptor,
    keys: dict[str, PublicKey],
) -> SignatureCheck:
    claimed_key = layer.annotations.get(simplesigning.ANNOTATION_KEY_FINGERPRINT)
    check = SignatureCheck(LEGACY, source, signer=claimed_key)
    try:
        payload = target.fetch_bytes(layer)
        signature = base64.b64decode(layer.annotations[ANNOTATION_COSIGN_SIGNATURE], validate=True)
    except KeyError:
        return check.fail("signature_invalid", "layer has no signature annotation")
    except (ValueError, binascii.Error):
        return check.fail("signature_invalid", "signature annotation is not base64")
    except FloeError as exc:
        return check.fail("signature_invalid", f"payload: {exc.message}")
    signer, mismatch = _find_key(keys, signature, payload)
    if signer is None:
        return _unverified(check, claimed_key, keys, mismatch)
    check.signer, check.valid, check.trusted = signer, True, True
    try:
        _, claimed = simplesigning.payload_claims(payload)
    except FloeError as exc:
        return check.fail("signature_invalid", exc.message)
    return _check_subject(check, claimed, manifest)


# ---- bundles ----------------------------------------------------------------------


def _bundle_checks(
    target: Target,
    manifest: Descriptor,
    keys: dict[str, PublicKey],
    policy: TrustPolicy,
    sigstore_network: bool,
) -> list[SignatureCheck]:
    checks = []
    for referrer in bundle_referrers(target, manifest):
        predicate = referrer.annotations.get(bundle_format.ANNOTATION_BUNDLE_PREDICATE)
        # An attestation (e.g. provenance) is listed but never counts as a signature.
        kind = BUNDLE if predicate in (None, dsse.COSIGN_SIGN_PREDICATE) else ATTESTATION
        check = SignatureCheck(kind, referrer.digest, predicate_type=predicate)
        try:
            raw = _fetch_bundle(target, referrer, manifest)
            checks.append(_check_bundle(check, raw, manifest, keys, policy, sigstore_network))
        except GateError as exc:
            checks.append(check.fail("signature_invalid", exc.message))
    return checks


def bundle_referrers(target: Target, manifest: Descriptor) -> list[Descriptor]:
    """Every sigstore-bundle referrer of `manifest`.

    An index entry without `artifactType` (skopeo 1.9 rewrites referrer indexes that
    way when mirroring) is resolved by reading the referrer manifest, as cosign does;
    its annotations then come from the manifest too.
    """
    found = []
    # Bounded: a registry may list endless referrers; the first MAX_REFERRERS are read.
    for referrer in target.referrers(manifest, None)[:MAX_REFERRERS]:
        if referrer.artifact_type == SIGSTORE_BUNDLE:
            found.append(referrer)
        elif referrer.artifact_type is None:
            resolved = _resolve_untyped(target, referrer)
            if resolved is not None:
                found.append(resolved)
    return found


def _resolve_untyped(target: Target, referrer: Descriptor) -> Descriptor | None:
    try:
        doc = bundle_format.parse_referrer(target.fetch_bytes(referrer))
    except FloeError:
        return None  # unreadable: not shown as a bundle (nothing claims it is one)
    if doc.artifact_type != SIGSTORE_BUNDLE:
        return None
    return Descriptor(
        referrer.media_type,
        referrer.digest,
        referrer.size,
        annotations=dict(doc.annotations),
        artifact_type=SIGSTORE_BUNDLE,
    )


def _fetch_bundle(target: Target, referrer: Descriptor, manifest: Descriptor) -> bytes:
    layer, subject = bundle_format.bundle_layer_of(target.fetch_bytes(referrer), manifest)
    if subject != manifest.digest:
        raise GateError("signature_invalid", f"referrer's subject is {subject}")
    return target.fetch_bytes(layer)


def _check_bundle(
    check: SignatureCheck,
    raw: bytes,
    manifest: Descriptor,
    keys: dict[str, PublicKey],
    policy: TrustPolicy,
    sigstore_network: bool,
) -> SignatureCheck:
    from floe.signing.keys import key_hint

    parsed = bundle_format.parse_bundle(raw)
    if parsed.certificate is not None:
        return _check_keyless(check, parsed, manifest, policy, sigstore_network)
    envelope = parsed.envelope
    if envelope is None:
        return check.fail("signature_invalid", "bundle has no DSSE envelope")
    hinted = next((fp for fp, key in keys.items() if key_hint(key) == parsed.hint), None)
    check.signer = hinted
    message = dsse.pae(envelope.payload_type, envelope.payload)
    signer, mismatch = None, None
    for signature in envelope.signatures:
        found, why = _find_key(keys, signature, message)
        signer, mismatch = signer or found, mismatch or why
    if signer is None:
        if hinted is None:
            check.signer = f"hint:{parsed.hint}" if parsed.hint else None
        return _unverified(check, hinted, keys, mismatch)
    check.signer, check.valid, check.trusted = signer, True, True
    return _check_statement(check, envelope, manifest)


def _check_keyless(
    check: SignatureCheck,
    parsed: bundle_format.ParsedBundle,
    manifest: Descriptor,
    policy: TrustPolicy,
    sigstore_network: bool,
) -> SignatureCheck:
    from floe.signing import keyless

    assert parsed.certificate is not None
    check.signer = str(keyless.certificate_identity(parsed.certificate))
    if not policy.trusted_identities:
        return check.fail("signature_untrusted", "keyless signature; no trusted identities")
    try:
        payload_type, payload = keyless.verify_bundle(
            parsed.raw, list(policy.trusted_identities), sigstore_network=sigstore_network
        )
    except GateError as exc:
        return check.fail(exc.slug, exc.message)
    check.valid = check.trusted = True
    envelope = dsse.Envelope(payload_type, payload, ())
    return _check_statement(check, envelope, manifest)


def _check_statement(
    check: SignatureCheck, envelope: dsse.Envelope, manifest: Descriptor
) -> SignatureCheck:
    if envelope.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        return check.fail("signature_invalid", f"unexpected payload type {envelope.payload_type}")
    try:
        predicate_type, digests = dsse.statement_digests(envelope.payload)
    except GateError as exc:
        return check.fail("signature_invalid", exc.message)
    check.predicate_type = predicate_type
    if predicate_type != dsse.COSIGN_SIGN_PREDICATE:
        check.format = ATTESTATION
    if manifest.digest not in digests:
        check.claimed_digest = digests[0] if digests else None
        return check.fail(
            "signature_subject_mismatch",
            f"signed statement is about {', '.join(digests) or 'nothing'}, not {manifest.digest}",
        )
    check.claimed_digest = manifest.digest
    return check


# ---- shared -----------------------------------------------------------------------


def _find_key(
    keys: dict[str, PublicKey], signature: bytes, message: bytes
) -> tuple[str | None, str | None]:
    """(fingerprint of the trusted key that verifies, None) or (None, why a trusted key
    verifies it only with another hash than cosign's for that key type)."""
    from floe.signing import algorithms

    mismatch = None
    for fp, key in keys.items():
        verdict = algorithms.check(key, signature, message)
        if verdict.valid:
            return fp, None
        if verdict.mismatch and mismatch is None:
            mismatch = f"{verdict.mismatch} (key {fp})"
    return None, mismatch


def _unverified(
    check: SignatureCheck,
    claimed_key: str | None,
    keys: dict[str, PublicKey],
    mismatch: str | None = None,
) -> SignatureCheck:
    if mismatch is not None:
        return check.fail("signature_algorithm_mismatch", mismatch)
    if claimed_key is not None and claimed_key in keys:
        return check.fail(
            "signature_invalid", f"signature does not verify with trusted key {claimed_key}"
        )
    return check.fail("signature_untrusted", "not signed by any trusted key")


def _check_subject(check: SignatureCheck, claimed: str, manifest: Descriptor) -> SignatureCheck:
    check.claimed_digest = claimed
    if claimed != manifest.digest:
        return check.fail(
            "signature_subject_mismatch", f"signed digest is {claimed}, not {manifest.digest}"
        )
    return check
