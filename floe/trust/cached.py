"""compile's cache check: the cached platform is still signed by a signer the lock recorded.

`floe compile` reads the platform from the project's caches without the network. The
tree is checked file by file against the lock elsewhere; this re-runs the one trust
decision over the locked manifest and its signatures in the project's OCI cache
(`.floe/cache/oci`, filled with the referrers at pull time), so a cache whose
signature was swapped or removed is refused before any rule runs.
"""

from __future__ import annotations

from pathlib import Path

from floe.errors import GateError
from floe.oci.layout import LayoutTarget
from floe.signing import lookup
from floe.signing.trust_policy import TrustPolicy
from floe.trust.decision import Decision, TrustRequest, decide
from floe.trust.signers import LockedTrust

FORCE_HINT = "run `floe platform pull --force` to download and verify it again"


def check_cached(
    layout_dir: Path, manifest_digest: str, locked: LockedTrust, platform: TrustPolicy
) -> Decision | None:
    """Decide trust for the locked manifest from the cache alone; None when the lock
    recorded no signer (an unsigned platform accepted as such: nothing to re-check)."""
    if locked.signer is None and not locked.signers:
        return None
    target = LayoutTarget(layout_dir)
    desc = lookup.resolve_if_present(target, manifest_digest) if layout_dir.is_dir() else None
    if desc is None:
        raise GateError(
            "cache_corrupt",
            f"the project's OCI cache {layout_dir} lacks the locked manifest {manifest_digest}, "
            "so its signature cannot be checked",
            hint=FORCE_HINT,
        )
    request = TrustRequest(platform=platform, locked=locked, sigstore_network=False)
    return decide(target, desc, request)
