"""Trust policy: which signers floe accepts, and how the platform's policy may narrow them.

The platform's `security:` block travels inside the artifact being checked, so it can
never be a source of trust: an attacker able to push could list their own key in it
and sign with that key. Trust anchors come from outside the artifact (floe.yaml,
`--key`, or the signers a project's lock recorded: see floe.trust.decision). The
platform's block may only narrow them:

- `require_signed_artifacts` is true if either side says so (false -> true only).
- Trust anchors are keys (compared by fingerprint of the PEM) and identities
  (compared by issuer + subject + subject_regex). If the platform lists none, the
  anchors stay as they are. If it lists some, the result is the anchors the platform
  also lists, per kind: a kind the platform does not list is dropped only when the
  platform lists the other kind (listing only keys means "only these keys").
- `merge_policies` keeps no anchor the project did not give: a project without
  anchors gets a policy without anchors (which verifies nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe.errors import GateError, UsageError
from floe.signing.trust_policy import TrustedIdentity, TrustPolicy

if TYPE_CHECKING:  # cryptography loads only when a key is actually parsed
    from floe.signing.keys import PublicKey


def trusted_keys(policy: TrustPolicy) -> dict[str, PublicKey]:
    """fingerprint -> public key for every PEM in `policy.trusted_keys`."""
    keys: dict[str, PublicKey] = {}
    for number, pem in enumerate(policy.trusted_keys, start=1):
        from floe.signing.keys import fingerprint, load_public_key  # only when keys are listed

        key = load_public_key(pem.encode(), source=f"trusted_keys[{number}]")
        keys[fingerprint(key)] = key
    return keys


def _identity_key(identity: TrustedIdentity) -> tuple[str, str | None, str | None]:
    return (identity.issuer, identity.subject, identity.subject_regex)


def has_anchors(policy: TrustPolicy) -> bool:
    return bool(policy.trusted_keys or policy.trusted_identities)


def narrow(anchors: TrustPolicy, platform: TrustPolicy) -> TrustPolicy:
    """`anchors` restricted to the signers the platform also lists (maybe none at all).

    Never adds a signer: the platform's list is read from the artifact under check.
    """
    require = anchors.require_signed_artifacts or platform.require_signed_artifacts
    if not has_anchors(platform):
        return anchors.model_copy(update={"require_signed_artifacts": require})
    listed = set(trusted_keys(platform))
    keys = [
        pem
        for pem, fp in zip(anchors.trusted_keys, trusted_keys_in_order(anchors), strict=True)
        if fp in listed
    ]
    wanted = {_identity_key(i) for i in platform.trusted_identities}
    identities = [i for i in anchors.trusted_identities if _identity_key(i) in wanted]
    return TrustPolicy(
        require_signed_artifacts=require,
        trusted_keys=_dedupe_keys(keys),
        trusted_identities=identities,
    )


def merge_policies(platform: TrustPolicy, project: TrustPolicy) -> TrustPolicy:
    """The project's anchors narrowed by the platform's; never the platform's own anchors.

    Raises `trust_policy_conflict` when the project lists anchors and the platform
    lists none of them (nobody could ever pass).
    """
    merged = narrow(project, platform)
    if has_anchors(project) and not has_anchors(merged):
        raise GateError(
            "trust_policy_conflict",
            "floe.yaml trusts none of the signers the platform trusts",
            hint="list in floe.yaml a signer the platform's trusted_keys/identities also list",
        )
    return merged


def trusted_keys_in_order(policy: TrustPolicy) -> list[str]:
    from floe.signing.keys import fingerprint, load_public_key

    return [
        fingerprint(load_public_key(pem.encode(), source=f"trusted_keys[{n}]"))
        for n, pem in enumerate(policy.trusted_keys, start=1)
    ]


def _dedupe_keys(pems: list[str]) -> list[str]:
    from floe.signing.keys import fingerprint, load_public_key

    seen: set[str] = set()
    out: list[str] = []
    for pem in pems:
        fp = fingerprint(load_public_key(pem.encode()))
        if fp not in seen:
            seen.add(fp)
            out.append(pem)
    return out


def parse_identity(text: str, *, regex: bool = False) -> TrustedIdentity:
    """`ISSUER=SUBJECT` (or `ISSUER=REGEX`) from the command line as a trusted identity."""
    import re

    issuer, sep, subject = text.partition("=")
    if not sep or not issuer or not subject:
        raise UsageError(
            "identity_invalid",
            f"{text!r} is not ISSUER=SUBJECT",
            hint="e.g. --identity https://accounts.google.com=me@example.com",
        )
    if not regex:
        return TrustedIdentity(issuer=issuer, subject=subject)
    try:
        re.compile(subject)
    except re.error as exc:
        raise UsageError("identity_invalid", f"bad regex {subject!r}: {exc}") from None
    return TrustedIdentity(issuer=issuer, subject_regex=subject)
