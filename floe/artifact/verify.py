"""Trust for a download outside a project (`pull REF --out`, `copy`): the one small place
where the artifact verbs call the trust decision (floe.trust.decision.decide).

`--key` / `--identity` are the anchors; without them a floe platform's own policy
applies as on first use (with the warning). Called before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from floe.artifact.pack import read_manifest
from floe.errors import GateError
from floe.events import NULL_EVENTS, Events
from floe.files import read_text
from floe.oci.reference import Reference
from floe.oci.target import FLOE_CONFIG, Descriptor, Target
from floe.signing.trust_policy import TrustedIdentity, TrustPolicy
from floe.trust.decision import PINNED, Decision, TrustRequest, decide


@dataclass(frozen=True)
class DownloadTrust:
    """`--key/--identity/--require-signed` of a download."""

    keys: tuple[Path, ...] = ()
    identities: tuple[TrustedIdentity, ...] = ()
    require_signed: bool | None = None  # None: required when keys or identities are given
    offline: bool = False  # keyless checks use the cached trusted root

    @property
    def given(self) -> bool:
        return bool(self.keys or self.identities or self.require_signed is not None)

    @property
    def required(self) -> bool:
        if self.require_signed is None:
            return bool(self.keys or self.identities)
        return self.require_signed


def trust_origin(decision: Decision | None) -> str:
    """pinned (--key/--identity), first-use, unverified, or not-required."""
    if decision is None:
        return "not-required"
    return "pinned" if decision.origin == PINNED else str(decision.origin)


def _anchors(trust: DownloadTrust) -> TrustPolicy:
    pems = []
    for path in trust.keys:
        from floe.signing.keys import load_public_key  # cryptography only when keys are given

        pem = read_text(
            path, slug="trusted_key_unreadable", what="trusted key", hint="pass a cosign.pub"
        )
        load_public_key(pem.encode(), source=str(path))
        pems.append(pem)
    return TrustPolicy(
        require_signed_artifacts=bool(pems or trust.identities),
        trusted_keys=pems,
        trusted_identities=list(trust.identities),
    )


def _declared_policy(target: Target, desc: Descriptor) -> TrustPolicy:
    """The artifact's own `security:` (a floe platform's manifest.json), else empty."""
    config = read_manifest(target, desc).get("config") or {}
    if config.get("mediaType") != FLOE_CONFIG:
        return TrustPolicy()
    from floe.tree.download import plain_security
    from floe.tree.model import PlatformManifest

    try:
        data = json.loads(target.fetch_bytes(Descriptor.from_json(config)))
        security = plain_security(data)  # valid as written: no PlatformManifest schema build
        if security is not None:
            return TrustPolicy.model_validate(security)
        return PlatformManifest.model_validate(data).security
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise GateError("tree_invalid", f"{desc.digest}: manifest.json: {exc}") from None


def verify_download(
    target: Target,
    ref: Reference,
    desc: Descriptor,
    trust: DownloadTrust,
    events: Events = NULL_EVENTS,
) -> Decision | None:
    """The trust Decision, or None when `--no-require-signed` let an artifact with no
    signature at all through. Raises the GateError of a rejected artifact."""
    from floe.signing.verify import SignatureRejected

    request = TrustRequest(
        project=_anchors(trust),
        platform=_declared_policy(target, desc),
        docker_reference=str(ref),
        sigstore_network=not trust.offline,
    )
    try:
        decision = decide(target, desc, request)
    except SignatureRejected as exc:
        unsigned = not [s for s in exc.report.signatures if s.format != "attestation"]
        if trust.require_signed is not False or not unsigned:
            raise
        events.warn(f"! {ref} is not signed; accepted because of --no-require-signed")
        return None
    if decision.report.ok:
        events.step("  ✓ Verifying signature")
        warning = decision.warning()
        if warning is not None:
            events.warn(warning)
        return decision
    if trust.required:
        raise decision.report.failure()
    signed = any(s.format != "attestation" for s in decision.report.signatures)
    events.warn(
        "! Signature not checked: no trusted key; pass --key cosign.pub to verify it"
        if signed
        else f"! {ref} is not signed; pass --require-signed to refuse unsigned artifacts"
    )
    return decision
