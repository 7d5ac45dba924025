"""Keyless signing and verification (Fulcio certificate + Rekor entry) via sigstore-python.

sigstore is an optional dependency (`pip install 'floe[sigstore]'`) and heavy, so it
is imported only inside these functions. Identity extraction for reports uses only
`cryptography`, so listing a keyless signature never needs sigstore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from floe.errors import GateError, UsageError
from floe.signing.trust_policy import TrustedIdentity

OID_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_OTHERNAME_SAN = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


def _require_sigstore() -> None:
    try:
        import sigstore  # noqa: F401
    except ImportError:
        raise UsageError(
            "sigstore_missing",
            "keyless signing needs the sigstore package",
            hint="pip install 'floe[sigstore]'",
        ) from None


@dataclass(frozen=True)
class CertIdentity:
    issuer: str | None
    subjects: tuple[str, ...]

    def __str__(self) -> str:
        subject = self.subjects[0] if self.subjects else "?"
        return f"{self.issuer or '?'}={subject}"


def certificate_identity(der: bytes) -> CertIdentity:
    """Issuer and SANs (email, URI, sigstore other-name) of a Fulcio certificate."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise GateError("signature_invalid", f"bad signing certificate ({exc})") from None
    return CertIdentity(_issuer(cert), tuple(_sans(cert)))


def _issuer(cert: x509.Certificate) -> str | None:
    for oid in (OID_ISSUER_V2, OID_ISSUER_V1):
        try:
            value = cert.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        if oid == OID_ISSUER_V2 and raw[:1] == b"\x0c" and len(raw) > 2:
            return raw[2:].decode(errors="replace")  # DER UTF8String (short form)
        return raw.decode(errors="replace")
    return None


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[str] = list(san.get_values_for_type(x509.RFC822Name))
    out += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == OID_OTHERNAME_SAN:
            out.append(other.value[2:].decode(errors="replace"))
    return out


def identity_matches(identity: CertIdentity, trusted: TrustedIdentity) -> bool:
    if identity.issuer != trusted.issuer:
        return False
    if trusted.subject is not None and trusted.subject in identity.subjects:
        return True
    if trusted.subject_regex is not None:
        pattern = re.compile(trusted.subject_regex)
        return any(pattern.fullmatch(s) for s in identity.subjects)
    return False


class _IdentityPolicy:
    """A sigstore VerificationPolicy accepting any of the trusted identities."""

    def __init__(self, trusted: list[TrustedIdentity]) -> None:
        self._trusted = trusted

    def verify(self, cert: Any) -> None:
        from cryptography.hazmat.primitives import serialization
        from sigstore.errors import VerificationError

        identity = certificate_identity(cert.public_bytes(serialization.Encoding.DER))
        if not any(identity_matches(identity, t) for t in self._trusted):
            raise VerificationError(f"identity {identity} is not a trusted identity")


def verify_bundle(
    raw_bundle: bytes, trusted: list[TrustedIdentity], *, sigstore_network: bool
) -> tuple[str, bytes]:
    """Verify a keyless DSSE bundle (certificate chain, SCT, Rekor inclusion, identity).

    Returns (payload type, payload). Without `sigstore_network`: the cached trusted root and the
    inclusion proof in the bundle; raises GateError `signature_invalid` or
    `signature_untrusted` on failure.
    """
    _require_sigstore()
    from sigstore.errors import Error as SigstoreError
    from sigstore.errors import VerificationError
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

    try:
        bundle = Bundle.from_json(raw_bundle)
        verifier = Verifier.production(offline=not sigstore_network)
    except (SigstoreError, ValueError) as exc:
        raise GateError("signature_invalid", f"cannot verify keyless bundle: {exc}") from None
    try:
        payload_type, payload = verifier.verify_dsse(bundle, _IdentityPolicy(trusted))
    except VerificationError as exc:
        slug = "signature_untrusted" if "trusted identity" in str(exc) else "signature_invalid"
        raise GateError(slug, f"keyless signature rejected: {exc}") from None
    except SigstoreError as exc:
        raise GateError("signature_invalid", f"keyless signature rejected: {exc}") from None
    return str(payload_type), bytes(payload)


def sign_statement(statement: bytes, identity_token: str | None = None) -> bytes:
    """Sign an in-toto statement keylessly; returns the sigstore bundle JSON bytes.

    The OIDC token comes from `identity_token`, else ambient CI credentials
    (`detect_credential`), else the interactive browser flow.
    """
    _require_sigstore()
    from sigstore import dsse, oidc
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    try:
        raw_token = identity_token or oidc.detect_credential()
        if raw_token:
            token = oidc.IdentityToken(raw_token)
        else:
            token = oidc.Issuer("https://oauth2.sigstore.dev/auth").identity_token()
        context = SigningContext.from_trust_config(ClientTrustConfig.production())
        with context.signer(token) as signer:
            bundle = signer.sign_dsse(dsse.Statement(statement))
    except SigstoreError as exc:
        raise UsageError(
            "keyless_signing_failed",
            f"keyless signing failed: {exc}",
            hint="run in CI with an OIDC token (id-token: write) or sign with --key",
        ) from None
    return str(bundle.to_json()).encode()
