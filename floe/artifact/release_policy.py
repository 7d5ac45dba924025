"""What publish refuses before pushing: an unsigned release of a tree that requires
signatures, a signer the tree's own trust policy does not list, a tree that fails the
platform's built-in checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import GateError
from floe.signing.trust_policy import TrustPolicy
from floe.tree.model import PlatformTree

if TYPE_CHECKING:
    from floe.signing.keys import Signer

Check = tuple[str, Callable[[PlatformTree], list[str]]]


def run_checks(tree: PlatformTree, checks: Sequence[Check]) -> None:
    """`publish_checks_failed` naming the first problems of every failing check."""
    problems = [f"{name}: {p}" for name, check in checks for p in check(tree)]
    if problems:
        shown = "; ".join(problems[:3]) + (
            f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        )
        raise GateError(
            "publish_checks_failed",
            f"the compiled tree fails the built-in platform checks: {shown}",
            hint="run `floe platform test`, fix the manifest and recompile; nothing was pushed",
        )


def check_signing(
    security: TrustPolicy,
    signer: Signer | None,
    *,
    keyless: bool,
    key_path: Path | None,
    allow_unsigned: bool,
) -> None:
    """Refuse a release the tree's own `security:` would reject at `floe init`."""
    if signer is None and not keyless:
        if security.require_signed_artifacts and not allow_unsigned:
            raise GateError(
                "publish_unsigned",
                "the tree says require_signed_artifacts: true, but no signer was given",
                hint="pass --key cosign.key (or --keyless, or set security.signing.key in the "
                "manifest); --allow-unsigned publishes it unsigned anyway",
            )
        return
    if signer is not None:
        _check_key_listed(security, signer, key_path)
    elif security.trusted_keys and not security.trusted_identities:
        raise GateError(
            "publish_signer_untrusted",
            "the tree trusts only keys (security.trusted_keys), so a keyless signature "
            "would be rejected by every data team",
            hint="add your identity under security.trusted_identities in the manifest: "
            "- {issuer: ISSUER, subject: SUBJECT}, recompile, or sign with --key",
        )


def _check_key_listed(security: TrustPolicy, signer: Signer, key_path: Path | None) -> None:
    from floe.signing.keys import fingerprint, load_public_key

    if not (security.trusted_keys or security.trusted_identities):
        return  # the tree names no signer: data teams pin one (first use warns)
    listed = {fingerprint(load_public_key(pem.encode())) for pem in security.trusted_keys}
    if signer.fingerprint in listed:
        return
    pub = key_path.with_suffix(".pub").name if key_path is not None else "cosign.pub"
    raise GateError(
        "publish_signer_untrusted",
        f"the signing key {signer.fingerprint} is not in the tree's security.trusted_keys, "
        "so `floe init` would reject this release",
        hint=f'add the line `  trusted_keys: ["{pub}"]` (the public half of the key, path '
        "relative to the manifest) under `security:` in the manifest, then recompile",
    )
