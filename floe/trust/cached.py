"""compile's cache check: the cached platform is still signed by a signer the lock recorded.

`floe compile` reads the platform from the project's caches without the network. The
tree is checked file by file against the lock elsewhere; this re-runs the one trust
decision over the locked manifest and its signatures in the project's OCI cache
(`.floe/cache/oci`, filled with the referrers at pull time), so a cache whose
signature was swapped or removed is refused before any rule runs.

`cache_state` lets a caller skip re-running that decision when nothing it reads has
changed: a sha256 over everything the decision takes in (the request: the platform's
policy, the lock's signers, the manifest digest, floe's version; and the cache: the
layout marker, index.json and the bytes of every blob reachable from them, three
levels down). The decision reads nothing else (it is given `sigstore_network=False`,
and states are only computed for a lock of key signers: a keyless anchor would also
read sigstore's trusted root), so an equal state gives an equal decision. Any edit to a
cached signature, a referrer, a tag or index.json changes the state, and the full check runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe import __version__
from floe.errors import GateError

if TYPE_CHECKING:
    from floe.signing.trust_policy import TrustPolicy
    from floe.trust.decision import Decision
    from floe.trust.signers import LockedTrust

FORCE_HINT = "run `floe platform pull --force` to download and verify it again"
STATE_VERSION = "floe-cache-state-v1"
MAX_STATE_BLOBS = 256  # a larger cache is checked in full every time
MAX_STATE_BLOB_BYTES = 4 << 20  # manifests and signature payloads are small
STATE_DEPTH = 3  # index.json -> manifest or referrers index -> manifest -> layer


def check_cached(
    layout_dir: Path, manifest_digest: str, locked: LockedTrust, platform: TrustPolicy
) -> Decision | None:
    """Decide trust for the locked manifest from the cache alone; None when the lock
    recorded no signer (an unsigned platform accepted as such: nothing to re-check)."""
    if locked.signer is None and not locked.signers:
        return None
    from floe.oci.layout import LayoutTarget
    from floe.signing import lookup
    from floe.trust.decision import TrustRequest, decide

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


def cache_state(
    layout_dir: Path, manifest_digest: str, locked: LockedTrust, platform: TrustPolicy
) -> str | None:
    """The sha256 of all `check_cached` reads for this request, or None when it cannot be
    bound (nothing to check, a keyless signer, an unreadable or too large cache)."""
    if locked.signer is None and not locked.signers:
        return None
    # Keyless anchors come from the lock only (check_cached passes no project anchors),
    # and only a keyless anchor makes the decision read sigstore's trusted root.
    keyless = any(s.issuer or not s.fingerprint for s in locked.signers)
    if keyless or not (locked.signer or "sha256:").startswith("sha256:"):
        return None
    request = {
        "floe": __version__,
        "manifest": manifest_digest,
        "version": locked.version,
        "signer": locked.signer,
        "signers": [s.to_toml() for s in locked.signers],
        "require": platform.require_signed_artifacts,
        "keys": list(platform.trusted_keys),
        "identities": [[i.issuer, i.subject, i.subject_regex] for i in platform.trusted_identities],
    }
    h = hashlib.sha256(STATE_VERSION.encode() + b"\n")
    h.update(json.dumps(request, sort_keys=True).encode() + b"\n")
    try:
        for name in ("oci-layout", "index.json"):
            path = layout_dir / name
            if path.is_symlink() or not path.is_file():
                return None
            data = path.read_bytes()
            h.update(f"{name} {len(data)}\n".encode() + data + b"\n")
        index = json.loads(data)
    except (OSError, ValueError):
        return None
    seen: set[str] = set()
    level = [manifest_digest, *_digests(index, "manifests")]
    for _ in range(STATE_DEPTH + 1):
        below: list[str] = []
        for digest in level:
            if digest in seen:
                continue
            seen.add(digest)
            if len(seen) > MAX_STATE_BLOBS:
                return None
            try:
                blob = _blob(layout_dir, digest)
            except _Unbound:
                return None
            if blob is None:
                h.update(f"{digest} absent\n".encode())
                continue
            h.update(f"{digest} {hashlib.sha256(blob).hexdigest()}\n".encode())
            if digest != manifest_digest:  # the decision never reads the tree's layers
                below += _children(blob)
        level = below
    return h.hexdigest()


class _Unbound(Exception):
    """A blob the state cannot bind (an odd name, a link, too large, unreadable)."""


def _blob(layout_dir: Path, digest: str) -> bytes | None:
    """A blob's bytes; None when absent; _Unbound when the state cannot bind it."""
    algorithm, _, hexpart = digest.partition(":")
    if (
        algorithm != "sha256"
        or len(hexpart) != 64
        or not all(c in "0123456789abcdef" for c in hexpart)
    ):
        raise _Unbound(digest)
    path = layout_dir / "blobs" / "sha256" / hexpart
    try:
        if path.is_symlink():
            raise _Unbound(digest)
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_STATE_BLOB_BYTES:
            raise _Unbound(digest)
        return path.read_bytes()
    except OSError:
        raise _Unbound(digest) from None


def _children(data: bytes) -> list[str]:
    """The digests a manifest or index names (manifests, config, layers, subject)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    found = _digests(doc, "manifests") + _digests(doc, "layers")
    for key in ("config", "subject"):
        entry = doc.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
            found.append(entry["digest"])
    return found


def _digests(doc: Any, key: str) -> list[str]:
    entries = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        e["digest"] for e in entries if isinstance(e, dict) and isinstance(e.get("digest"), str)
    ]
