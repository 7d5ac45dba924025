"""`platform sign | verify` as library calls: sign a published artifact, or check every
signature on it against given anchors (a report; the caller decides how to fail)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from floe.artifact.transfer import resolve
from floe.errors import UsageError
from floe.files import read_text
from floe.oci.options import RegistryOptions
from floe.oci.reference import Reference
from floe.oci.resolve import open_target
from floe.signing.keys import Signer
from floe.signing.trust_policy import TrustedIdentity, TrustPolicy
from floe.signing.verify import VerificationReport


@dataclass(frozen=True)
class SignResult:
    reference: Reference
    digest: str
    signer: str  # fingerprint, or "keyless"
    pushed: list[tuple[str, bool]]  # (digest, is a bundle referrer)


def sign_reference(
    ref: str,
    key_path: Path | None,
    *,
    keyless: bool = False,
    identity_token: str | None = None,
    options: RegistryOptions | None = None,
    signing_identity: str | None = None,
) -> SignResult:
    """Sign REF: both cosign formats with the key at `key_path` (its password from
    FLOE_SIGNING_PASSWORD or a prompt), a Sigstore bundle keyless."""
    from floe.signing import load_signer
    from floe.signing.sign import docker_reference_for, sign_artifact, sign_keyless

    if (key_path is None) == (not keyless):
        raise UsageError(
            "sign_key_required",
            "pass exactly one of --key cosign.key or --keyless",
            hint="create a key with `floe platform keygen`",
        )
    if signing_identity:  # refused before the key's password is asked for
        from floe.signing.cosign_layout import signing_identity as check_identity

        check_identity(signing_identity)
    signer: Signer | None = load_signer(key_path) if key_path is not None else None
    target, parsed = open_target(ref, options)
    manifest = resolve(target, parsed)
    docker_ref = docker_reference_for(parsed, signing_identity)
    if signer is not None:
        pushed = sign_artifact(target, manifest, signer, docker_ref)
        who = signer.fingerprint
    else:
        pushed = [sign_keyless(target, manifest, docker_ref, identity_token)]
        who = "keyless"
    return SignResult(
        parsed, manifest.digest, who, [(d.digest, bool(d.artifact_type)) for d in pushed]
    )


def verify_signatures(
    ref: str,
    keys: tuple[Path, ...] = (),
    identities: tuple[TrustedIdentity, ...] = (),
    *,
    offline: bool = False,
    options: RegistryOptions | None = None,
) -> tuple[Reference, VerificationReport]:
    """Every signature on REF, checked against `keys`/`identities` (a signature required).

    Raises `SignatureRejected` (with the report) unless a trusted signature covers it.
    """
    from floe.trust.decision import TrustRequest, decide

    policy = TrustPolicy(
        require_signed_artifacts=True,
        trusted_keys=[_read_public_key(path) for path in keys],
        trusted_identities=list(identities),
    )
    target, parsed = open_target(ref, options)
    request = TrustRequest(project=policy, sigstore_network=not offline)
    return parsed, decide(target, resolve(target, parsed), request).report


def _read_public_key(path: Path) -> str:
    return read_text(
        path,
        slug="trusted_key_unreadable",
        what="public key",
        hint="pass the PEM cosign.pub written by `floe platform keygen`",
    )
