"""What every artifact verb shares: resolving a reference, looking a tag up, and one
graph copy that reports its bytes through floe.events."""

from __future__ import annotations

import json
import threading

from floe.errors import GateError, NotFound, UsageError
from floe.events import NULL_EVENTS, Events
from floe.oci.copy import CopyStats, copy_graph
from floe.oci.reference import Reference
from floe.oci.target import Descriptor, Target


def lookup(target: Target, reference: str) -> Descriptor | None:
    """Resolve a tag or digest; None when the registry or layout does not have it."""
    try:
        return target.resolve(reference)
    except NotFound:
        return None


def resolve(target: Target, ref: Reference) -> Descriptor:
    """The descriptor REF names; a digest reference must resolve to that digest."""
    if ref.reference is None:
        raise UsageError(
            "reference_invalid",
            f"{ref} names no version",
            hint=f"add a tag or digest, e.g. {ref}:v1.2.3",
        )
    desc = target.resolve(ref.reference)
    if ref.digest and desc.digest != ref.digest:
        raise GateError("pull_digest_mismatch", f"{ref} resolved to {desc.digest}")
    return desc


def graph_size(src: Target, root: Descriptor) -> int:
    """Bytes of an image manifest's blobs (for progress; an index counts as 0)."""
    manifest = json.loads(src.fetch_bytes(root))
    blobs = [manifest.get("config") or {}, *(manifest.get("layers") or [])]
    return sum(int(b.get("size", 0)) for b in blobs if isinstance(b, dict))


class ByteProgress:
    """copy_graph's on_progress callback -> `events.progress(done, total)`."""

    def __init__(self, events: Events, total: int) -> None:
        self.events = events
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, event: str, desc: Descriptor, nbytes: int) -> None:
        if event not in ("advance", "skip"):
            return
        with self._lock:
            self.done += nbytes
            done = self.done
        self.events.progress(done, self.total)


def copy_with_events(
    src: Target,
    dst: Target,
    root: Descriptor,
    tag: str | None,
    *,
    concurrency: int = 8,
    with_referrers: bool = False,
    total: int | None = None,
    events: Events = NULL_EVENTS,
) -> CopyStats:
    """One graph copy from src to dst (then tag), its bytes reported as progress events."""
    size = total if total is not None else graph_size(src, root)
    return copy_graph(
        src,
        dst,
        root,
        tag=tag,
        with_referrers=with_referrers,
        concurrency=concurrency,
        on_progress=ByteProgress(events, size),
    )
