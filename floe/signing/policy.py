"""Trust policy: which signers floe accepts, and how floe.yaml may tighten the platform's.

Merge rule (`merge_policies`), chosen so the data team can only ever narrow trust:
- `require_signed_artifacts` is true if either side says so (false -> true only).
- Trust anchors are keys (compared by fingerprint of the PEM) and identities
  (compared by issuer + subject + subject_regex). If floe.yaml lists no anchors the
  platform's stay. If the platform lists none, floe.yaml's are used (they restrict
  "anyone" to someone). If both list anchors, the result is the platform's anchors
  that floe.yaml also lists, per kind: a kind floe.yaml does not list is dropped
  (listing only keys means "only these keys", not "these keys or any identity").
  An empty result means nobody could ever pass: `trust_policy_conflict` (exit 1, a
  gate: the platform's policy comes from the artifact, so a conflict is a rejection).
"""

from __future__ import annotations

from floe.errors import GateError
from floe.platform.tree import TrustedIdentity, TrustPolicy
from floe.signing.keys import PublicKey, fingerprint, load_public_key


def trusted_keys(policy: TrustPolicy) -> dict[str, PublicKey]:
    """fingerprint -> public key for every PEM in `policy.trusted_keys`."""
    keys: dict[str, PublicKey] = {}
    for number, pem in enumerate(policy.trusted_keys, start=1):
        key = load_public_key(pem.encode(), source=f"trusted_keys[{number}]")
        keys[fingerprint(key)] = key
    return keys


def _identity_key(identity: TrustedIdentity) -> tuple[str, str | None, str | None]:
    return (identity.issuer, identity.subject, identity.subject_regex)


def has_anchors(policy: TrustPolicy) -> bool:
    return bool(policy.trusted_keys or policy.trusted_identities)


def merge_policies(platform: TrustPolicy, project: TrustPolicy) -> TrustPolicy:
    """The effective policy: the platform's, tightened (never loosened) by the project's."""
    require = platform.require_signed_artifacts or project.require_signed_artifacts
    if not has_anchors(project):
        keys, identities = list(platform.trusted_keys), list(platform.trusted_identities)
    elif not has_anchors(platform):
        keys, identities = list(project.trusted_keys), list(project.trusted_identities)
    else:
        wanted_keys = set(trusted_keys(project))
        keys = [
            pem
            for pem, fp in zip(platform.trusted_keys, trusted_keys_in_order(platform), strict=True)
            if fp in wanted_keys
        ]
        wanted_ids = {_identity_key(i) for i in project.trusted_identities}
        identities = [i for i in platform.trusted_identities if _identity_key(i) in wanted_ids]
        if not keys and not identities:
            raise GateError(
                "trust_policy_conflict",
                "floe.yaml trusts none of the signers the platform trusts",
                hint="list in floe.yaml a subset of the platform's trusted_keys/identities",
            )
    return TrustPolicy(
        require_signed_artifacts=require,
        trusted_keys=_dedupe_keys(keys),
        trusted_identities=identities,
    )


def trusted_keys_in_order(policy: TrustPolicy) -> list[str]:
    return [
        fingerprint(load_public_key(pem.encode(), source=f"trusted_keys[{n}]"))
        for n, pem in enumerate(policy.trusted_keys, start=1)
    ]


def _dedupe_keys(pems: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for pem in pems:
        fp = fingerprint(load_public_key(pem.encode()))
        if fp not in seen:
            seen.add(fp)
            out.append(pem)
    return out
