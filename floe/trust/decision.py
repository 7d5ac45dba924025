"""Whom a data-team project trusts: floe.yaml, else the lock's signers, else first use.

The platform's own `security:` block is read from the artifact under check, so it can
never make floe trust a key: an attacker who can push could list their own key there
and sign with it. Trust comes from outside the artifact, in this order:

1. floe.yaml `security.trusted_keys` / `trusted_identities` (written by `floe init
   --key` / `--identity`): only these count; the platform's list may narrow them.
2. else the signers artifacts.lock recorded: once a project accepted a signed
   platform, every later pull (`--force`, `--upgrade`, another version, re-init)
   needs a valid signature by one of them; an unsigned artifact is then
   `signature_missing` whatever the platform now says (no downgrade to unsigned).
3. else trust on first use: the artifact is checked against the keys it declares
   (so it is at least consistently signed), floe warns loudly that this is not
   trust, and the signer goes into the lock, where rule 2 takes over.

`decide` is the one trust decision every path calls (init, pull, pull --out, copy,
verify), before anything is written; floe.signing only supplies the mechanisms
(keys, envelopes, signature checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from floe.signing.trust_policy import TrustedIdentity, TrustPolicy
from floe.trust.signers import LockedSigner, LockedTrust

if TYPE_CHECKING:
    from floe.oci.target import Descriptor, Target
    from floe.signing.verify import SignatureRejected, VerificationReport

PINNED = "floe.yaml"  # anchors listed in floe.yaml (or --key / --identity)
LOCKED = "lock"  # the signers artifacts.lock recorded
FIRST_USE = "first-use"  # a fresh project: the artifact's own keys, with a warning
UNVERIFIED = "unverified"  # nothing required a signature and none could be checked

PIN_HINT = (
    "if the platform team rotated keys, pin the new key: floe init --platform=... "
    "--key NEW.pub (security.trusted_keys in floe.yaml)"
)


@dataclass(frozen=True)
class Decision:
    """The outcome of a verification that passed (a failed one raises)."""

    origin: str  # PINNED | LOCKED | FIRST_USE | UNVERIFIED
    report: VerificationReport
    signers: tuple[LockedSigner, ...]  # every signer whose valid signature was accepted

    @property
    def signer(self) -> str | None:
        return self.report.signer

    @property
    def first_use(self) -> bool:
        return self.origin == FIRST_USE and bool(self.signers)

    def warning(self) -> str | None:
        """The loud line for trust on first use, naming what to pin."""
        if not self.first_use:
            return None
        signer = self.signers[0]
        pin = "--key cosign.pub" if signer.fingerprint else f"--identity {signer.name}"
        names = ", ".join(s.name for s in self.signers)
        return f"! Trusting signer {names} on first use; pin it: floe init {pin}"


def lock_anchors(locked: LockedTrust | None, platform: TrustPolicy) -> TrustPolicy | None:
    """The signers the lock recorded, as anchors; None when the lock recorded no signer.

    A lock written before `signers` existed names only a fingerprint: the artifact's
    declared key with that fingerprint is the same key (the fingerprint is its hash).
    """
    if locked is None or (locked.signer is None and not locked.signers):
        return None
    recorded = [s.public_key for s in locked.signers if s.public_key]
    keys = _pems_by_fingerprint(TrustPolicy(trusted_keys=recorded))
    named = {s.fingerprint for s in locked.signers if s.fingerprint} | {locked.signer}
    for fp, pem in _pems_by_fingerprint(platform).items():
        if fp in named:
            keys.setdefault(fp, pem)
    identities = [
        TrustedIdentity(issuer=s.issuer, subject=s.subject)
        for s in locked.signers
        if s.issuer and s.subject
    ]
    if locked.signer and not locked.signer.startswith("sha256:") and not locked.signers:
        issuer, _, subject = locked.signer.partition("=")
        identities.append(TrustedIdentity(issuer=issuer, subject=subject))
    return TrustPolicy(
        require_signed_artifacts=True,
        trusted_keys=list(keys.values()),
        trusted_identities=identities,
    )


def _fps(pems: list[str]) -> list[str]:
    from floe.signing.policy import trusted_keys_in_order

    return trusted_keys_in_order(TrustPolicy(trusted_keys=pems))


def _pems_by_fingerprint(policy: TrustPolicy) -> dict[str, str]:
    return dict(zip(_fps(policy.trusted_keys), policy.trusted_keys, strict=True))


@dataclass(frozen=True)
class TrustRequest:
    """Everything the trust decision reads besides the artifact itself.

    `project`: the anchors from outside the artifact (floe.yaml's security block,
    `--key`, `--identity`). `platform`: the artifact's own `security:` block, which may
    only narrow. `locked`: the lock's entry (its recorded signers). `docker_reference`:
    informational (cosign binds neither it nor a tag). `sigstore_network`: keyless
    checks may fetch sigstore's trusted root over the network (False: the cached root
    only). `require_signature`: refuse an artifact no trusted signature covers even
    when neither side's policy asks for one (`--require-signed`).
    """

    project: TrustPolicy = field(default_factory=TrustPolicy)
    platform: TrustPolicy = field(default_factory=TrustPolicy)
    locked: LockedTrust | None = None
    docker_reference: str | None = None
    sigstore_network: bool = True
    require_signature: bool = False


def decide(target: Target, subject: Descriptor, request: TrustRequest) -> Decision:
    """THE trust decision of every path (init, pull, pull --out, copy, verify).

    Returns the Decision (origin and accepted signers) or raises the GateError of a
    rejected artifact. Reads only `target`; writes nothing.
    """
    from floe.signing.policy import has_anchors
    from floe.signing.verify import verify_artifact

    network = request.sigstore_network
    _check_platform_keys(request.platform)
    project = request.project
    if request.require_signature:
        project = project.model_copy(update={"require_signed_artifacts": True})
    if has_anchors(project):
        return _verify_anchored(PINNED, project, request.platform, target, subject, network)
    from_lock = lock_anchors(request.locked, request.platform)
    if from_lock is not None:
        return _verify_anchored(
            LOCKED, from_lock, request.platform, target, subject, network, request.locked
        )
    # First use: the artifact's own keys are all there is; not trust, only consistency.
    declared = request.platform.model_copy(
        update={
            "require_signed_artifacts": request.platform.require_signed_artifacts
            or project.require_signed_artifacts
        }
    )
    report = verify_artifact(target, subject, declared, sigstore_network=network)
    if not report.ok:
        if project.require_signed_artifacts:
            raise report.failure()
        return Decision(UNVERIFIED, report, ())
    return Decision(FIRST_USE, report, accepted_signers(report, declared))


def _check_platform_keys(platform: TrustPolicy) -> None:
    """The artifact's own key list is artifact content: a bad key there is `tree_invalid`
    (exit 1, the artifact is bad), not a usage error of the person pulling it."""
    from floe.errors import GateError, UsageError
    from floe.signing.policy import trusted_keys

    try:
        trusted_keys(platform)
    except UsageError as exc:
        raise GateError(
            "tree_invalid",
            f"the platform's security.trusted_keys: {exc.message}",
            hint="the platform team must list keys cosign accepts and republish",
        ) from None


def _verify_anchored(
    origin: str,
    anchors: TrustPolicy,
    platform: TrustPolicy,
    target: Target,
    desc: Descriptor,
    sigstore_network: bool,
    locked: LockedTrust | None = None,
) -> Decision:
    from floe.signing.policy import narrow
    from floe.signing.verify import SignatureRejected, check_artifact

    anchors = anchors.model_copy(update={"require_signed_artifacts": True})
    effective = narrow(anchors, platform)
    report = check_artifact(target, desc, effective, sigstore_network=sigstore_network)
    if report.ok:
        return Decision(origin, report, accepted_signers(report, effective))
    wide = (
        report
        if effective == anchors
        else check_artifact(target, desc, anchors, sigstore_network=sigstore_network)
    )
    if wide.ok:
        raise SignatureRejected(
            "trust_policy_conflict",
            f"{desc.digest} is signed by {wide.signer}, which this project trusts, "
            "but the platform's own policy no longer lists that signer",
            wide,
            hint="ask the platform team which key signs now, and pin it: floe init --key NEW.pub",
        )
    raise _rejection(origin, wide, locked)


def _rejection(
    origin: str, report: VerificationReport, locked: LockedTrust | None
) -> SignatureRejected:
    from floe.signing.verify import SignatureRejected

    error = report.failure()
    if origin != LOCKED or locked is None:
        return error
    trusted = ", ".join(s.name for s in locked.signers) or (locked.signer or "?")
    if error.slug == "signature_missing":
        message = (
            f"no signature found for {report.manifest_digest}, but artifacts.lock recorded "
            f"{locked.version} signed by {trusted}; an unsigned platform after a signed one "
            "is refused (a downgrade attack looks exactly like this)"
        )
        hint = "ask the platform team to sign it: floe platform sign REF --key cosign.key"
    elif error.slug == "signature_untrusted":
        message = (
            f"{report.manifest_digest} is not signed by the signer artifacts.lock recorded "
            f"({trusted}); a platform signed by a new key is not trusted silently"
        )
        hint = PIN_HINT
    else:
        return error
    return SignatureRejected(error.slug, message, report, hint=hint)


def accepted_signers(report: VerificationReport, policy: TrustPolicy) -> tuple[LockedSigner, ...]:
    """Every signer whose signature passed, as the lock records it (key PEM or identity)."""
    from floe.signing.verify import ATTESTATION

    pems = _pems_by_fingerprint(policy)
    found: dict[str, LockedSigner] = {}
    for check in report.signatures:
        if not check.passed or check.format == ATTESTATION or check.signer is None:
            continue
        if check.signer in pems:
            found[check.signer] = LockedSigner(
                fingerprint=check.signer, public_key=_normalized_pem(pems[check.signer])
            )
        else:
            issuer, _, subject = check.signer.partition("=")
            found[check.signer] = LockedSigner(issuer=issuer, subject=subject)
    return tuple(found[name] for name in sorted(found))


def _normalized_pem(pem: str) -> str:
    from floe.signing.keys import load_public_key, public_key_pem

    return public_key_pem(load_public_key(pem.encode())).decode("ascii")
