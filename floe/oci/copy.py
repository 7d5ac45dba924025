"""Graph copy between any two Targets: publish, pull into a cache and mirror are all this.

Order matters for registries and readers: blobs first (concurrently, skipping what
the destination has), then each manifest after everything it points to, the tag
last, and referrers (signatures) after their subject. Blobs stream from source to
destination; a big blob never sits in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, cast, runtime_checkable

from floe.errors import GateError, UsageError
from floe.oci.manifest import Index, Manifest, parse_document
from floe.oci.target import (
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    SIGSTORE_BUNDLE,
    Descriptor,
    ManifestGate,
    Mounter,
    ReferencePusher,
    Repository,
    Target,
    VerifyingReader,
)

# on_progress(event, descriptor, nbytes): event is "start", "advance", "skip" or "done".
ProgressFn = Callable[[str, Descriptor, int], None]
LEGACY_SUFFIXES = (".sig", ".att", ".sbom")  # cosign tag-schema signatures and attestations
CHUNK = 1 << 20
MAX_GRAPH_DEPTH = 8  # index -> index -> ... nesting, and referrers of referrers
MAX_REFERRERS = 1_000  # referrers copied for one root, all levels together
BLOBS_PER_WORKER = 16  # a copy thread per this many blobs ...
BYTES_PER_WORKER = 8 << 20  # ... or per this many bytes, whichever gives more
REFETCHES = 3  # an unseekable source whose upload failed is fetched again this often


@dataclass
class CopyStats:
    blobs_copied: int = 0
    blobs_skipped: int = 0
    bytes_copied: int = 0
    bytes_skipped: int = 0
    blobs_mounted: int = 0  # cross-repository mounts on the same registry: no bytes sent
    manifests_copied: int = 0
    manifests_skipped: int = 0
    referrers: list[str] = field(default_factory=list)  # digests of referrers copied
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, desc: Descriptor, copied: bool) -> None:
        with self._lock:
            if copied:
                self.blobs_copied += 1
                self.bytes_copied += desc.size
            else:
                self.blobs_skipped += 1
                self.bytes_skipped += desc.size

    def to_json(self) -> dict[str, Any]:
        return {
            "blobs_copied": self.blobs_copied,
            "blobs_skipped": self.blobs_skipped,
            "bytes_copied": self.bytes_copied,
            "bytes_skipped": self.bytes_skipped,
            "blobs_mounted": self.blobs_mounted,
            "manifests_copied": self.manifests_copied,
            "manifests_skipped": self.manifests_skipped,
            "referrers_copied": len(self.referrers),
        }


@runtime_checkable
class _KnowsAbsent(Protocol):
    """A destination that can tell, without a request, that it lacks a digest."""

    def known_absent(self, desc: Descriptor) -> bool: ...


def _ask(dst: Target, desc: Descriptor) -> bool:
    """Whether dst holds desc, with no HEAD when dst already knows it does not."""
    if isinstance(dst, _KnowsAbsent) and dst.known_absent(desc):
        return False
    return dst.exists(desc)


def copy_graph(
    src: Target,
    dst: Target,
    root: Descriptor,
    *,
    tag: str | None,
    with_referrers: bool = False,
    concurrency: int = 8,
    on_progress: ProgressFn | None = None,
) -> CopyStats:
    """Copy `root` and everything it references from src to dst, then tag it."""
    stats = CopyStats()
    copier = _Copier(src, dst, max(1, concurrency), stats, on_progress)
    copier.copy_manifest(root, tag)
    if with_referrers:
        copier.copy_referrers(root, set())
    return stats


class _Copier:
    def __init__(
        self,
        src: Target,
        dst: Target,
        concurrency: int,
        stats: CopyStats,
        on_progress: ProgressFn | None,
    ) -> None:
        self.src, self.dst, self.concurrency, self.stats = src, dst, concurrency, stats
        self.on_progress = on_progress
        self._legacy_tags: list[str] | None = None

    def copy_manifest(self, desc: Descriptor, tag: str | None = None, depth: int = 0) -> None:
        """Children before parents: blobs or child manifests, then this manifest."""
        if desc.media_type not in MANIFEST_MEDIA_TYPES and depth > 0:
            raise GateError(  # an index names it: the artifact is bad (exit 1)
                "artifact_manifest_invalid",
                f"{desc.digest}: an index lists media type {desc.media_type[:80]!r} as a manifest",
                hint="the artifact is malformed or hostile; nothing was written",
            )
        if desc.media_type not in MANIFEST_MEDIA_TYPES:
            raise UsageError(
                "manifest_unsupported", f"{desc.digest} has media type {desc.media_type[:80]}"
            )
        if depth > MAX_GRAPH_DEPTH:
            raise GateError(
                "artifact_manifest_invalid",
                f"{desc.digest}: indexes nested deeper than {MAX_GRAPH_DEPTH} levels",
                hint="the artifact is malformed or hostile; nothing was written",
            )
        data = self.src.fetch_bytes(desc, MAX_MANIFEST_BYTES)
        doc = parse_document(data, desc)
        if _ask(self.dst, desc):
            # A stored manifest implies its whole graph is stored (registries refuse
            # manifests with missing blobs; layouts write manifests last): one HEAD, done.
            self._skip_graph(doc)
            if tag:
                self._tag(desc, data, tag)
            return
        if isinstance(doc, Index):
            for child in doc.manifests:
                self.copy_manifest(child, depth=depth + 1)
        elif isinstance(self.dst, ManifestGate):
            self.copy_blobs(self.dst.admit(desc, doc))  # checked before any blob moves
        else:
            self.copy_blobs(doc.blobs())
        if tag and isinstance(self.dst, ReferencePusher):
            self.dst.push_manifest(desc, data, tag)  # a registry stores and tags in one PUT
        else:
            self.dst.push(desc, io.BytesIO(data))
            if tag:
                self.dst.tag(desc, tag)
        self.stats.manifests_copied += 1

    def _tag(self, desc: Descriptor, data: bytes, tag: str) -> None:
        if isinstance(self.dst, ReferencePusher):
            self.dst.push_manifest(desc, data, tag)  # no GET of bytes we already hold
        else:
            self.dst.tag(desc, tag)

    def _skip_graph(self, doc: Manifest | Index) -> None:
        self.stats.manifests_skipped += 1
        if isinstance(doc, Index):
            return
        for blob in doc.blobs():
            self.stats.count(blob, copied=False)
            self._notify("skip", blob, blob.size)

    def workers(self, blobs: list[Descriptor]) -> int:
        """Threads worth starting: one per BLOBS_PER_WORKER blobs or BYTES_PER_WORKER bytes.

        Each thread holds its own connection; a few small blobs go faster one after the
        other on one kept-alive connection than over new connections in parallel.
        """
        by_count = len(blobs) // BLOBS_PER_WORKER
        by_size = sum(blob.size for blob in blobs) // BYTES_PER_WORKER
        return max(1, min(self.concurrency, len(blobs), max(by_count, by_size)))

    def copy_blobs(self, blobs: list[Descriptor]) -> None:
        workers = self.workers(blobs)
        if workers == 1:
            for blob in blobs:  # no threads to start (a small artifact or a signature)
                self._copy_blob(blob)
            return
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(self._copy_blob, blob) for blob in blobs]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in futures:
                if future in done:
                    future.result()  # re-raise the first failure

    def _copy_blob(self, desc: Descriptor) -> None:
        if _ask(self.dst, desc):
            self.stats.count(desc, copied=False)
            self._notify("skip", desc, desc.size)
            return
        if self._mounted(desc):
            with self.stats._lock:
                self.stats.blobs_mounted += 1
            self._notify("skip", desc, desc.size)
            return
        self._notify("start", desc, desc.size)
        for attempt in range(1, REFETCHES + 1):
            with self.src.fetch(desc) as stream:
                counting = _Counting(stream, desc, self._notify)
                try:
                    self.dst.push(desc, cast(IO[bytes], counting))
                    break
                except UsageError as exc:
                    # A seekable source was rewound and retried by the destination
                    # already; an unseekable one (a registry's stream) is fetched again.
                    from floe.oci.registry_errors import TransientError

                    transient = isinstance(exc, TransientError)
                    if not transient or counting.seekable() or attempt == REFETCHES:
                        raise
        self.stats.count(desc, copied=True)
        self._notify("done", desc, desc.size)

    def _mounted(self, desc: Descriptor) -> bool:
        """Same registry, other repository: ask the registry to link the blob (no bytes)."""
        if not isinstance(self.dst, Mounter) or not isinstance(self.src, Repository):
            return False
        if self.src.host != self.dst.host or self.src.repository == self.dst.repository:
            return False
        return bool(self.dst.mount(desc, self.src.repository))

    def _notify(self, event: str, desc: Descriptor, nbytes: int) -> None:
        if self.on_progress is not None:
            self.on_progress(event, desc, nbytes)

    def copy_referrers(self, subject: Descriptor, seen: set[str], depth: int = 0) -> None:
        """Referrers (signatures, attestations) of subject, recursively, after their subject."""
        if subject.digest in seen or depth > MAX_GRAPH_DEPTH:
            return
        seen.add(subject.digest)
        for referrer in self.src.referrers(subject):
            if len(self.stats.referrers) >= MAX_REFERRERS:
                raise GateError(
                    "artifact_manifest_invalid",
                    f"{subject.digest} has more than {MAX_REFERRERS} referrers",
                    hint="the source is malformed or hostile; copy without referrers",
                )
            self.copy_manifest(referrer)
            self.stats.referrers.append(referrer.digest)
            if referrer.artifact_type != SIGSTORE_BUNDLE:  # a signature bundle is a leaf
                self.copy_referrers(referrer, seen, depth + 1)
        for legacy in self._legacy_for(subject):
            desc = self.src.resolve(legacy)
            self.copy_manifest(desc, legacy)
            self.stats.referrers.append(desc.digest)

    def _legacy_for(self, subject: Descriptor) -> list[str]:
        """cosign's `sha256-<hex>.sig` style tags that belong to subject."""
        if self._legacy_tags is None:
            self._legacy_tags = [t for t in self.src.tags() if t.endswith(LEGACY_SUFFIXES)]
        prefix = "sha256-" + subject.hex
        return [t for t in self._legacy_tags if t.rsplit(".", 1)[0] == prefix]


class _Counting:
    """Passes reads through and reports progress per chunk.

    Seekable when the source is (a local file), so an upload streams it and rewinds it
    for a retry instead of spooling it; bytes sent again after a rewind are not counted
    twice.
    """

    def __init__(
        self, raw: IO[bytes], desc: Descriptor, notify: Callable[[str, Descriptor, int], None]
    ) -> None:
        self.raw, self.desc, self.notify = raw, desc, notify
        self.checks = getattr(raw, "checks", None)  # the source checks itself (target.verified)
        self._seekable = _is_seekable(raw)
        self._start = raw.tell() if self._seekable else 0
        self._pos = self._reported = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if data:
            self._pos += len(data)
            if self._pos > self._reported:
                self.notify("advance", self.desc, self._pos - self._reported)
                self._reported = self._pos
        return data

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        if not self._seekable:
            raise OSError("not seekable")
        return self.raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        if not self._seekable:
            raise OSError("not seekable")
        position = self.raw.seek(offset, whence)
        self._pos = position - self._start
        return position


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


class CheckedFile:
    """A local file checked against its descriptor while a destination reads it.

    The read that completes `desc.size` bytes returns only when the digest matches, so
    a file changed since it was hashed never reaches a destination whole (an upload
    breaks off before its last byte); more or fewer bytes fail too. Seekable: a seek
    elsewhere than where the check stands re-reads up to there (an upload's retry).
    """

    def __init__(self, handle: IO[bytes], desc: Descriptor) -> None:
        self._handle, self._desc = handle, desc
        self.checks = (desc.digest, desc.size)  # see target.verified
        self._hash = hashlib.sha256()
        self._checked = 0  # bytes hashed so far: always the handle's position

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._checked

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._handle.seek(offset, whence)
        if position != self._checked:
            self._handle.seek(0)
            self._hash, self._checked = hashlib.sha256(), 0
            while self._checked < position and self.read(min(CHUNK, position - self._checked)):
                pass
        return self._checked

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # to the end, which must come where promised
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        left = self._desc.size - self._checked
        if size > left:
            size = left + 1  # one byte more than promised shows a file that grew
        data = self._handle.read(size)
        if len(data) > left or (not data and left):
            self._fail(f"it has {'more' if data else 'fewer'} than {self._desc.size} bytes")
        self._hash.update(data)
        self._checked += len(data)
        if data and self._checked == self._desc.size:
            got = "sha256:" + self._hash.hexdigest()
            if got != self._desc.digest:
                self._fail(f"its content hashes to {got}")
        return data

    def _fail(self, why: str) -> None:
        raise GateError(
            "pull_digest_mismatch",
            f"{self._desc.digest}: the local file changed since it was packed ({why})",
            hint="the source is corrupt or tampered with; nothing was stored",
        )


class StaticTarget:
    """A read-only Target over blobs held in memory or on disk (the source of a publish)."""

    def __init__(self, blobs: dict[str, bytes | Path], name: str = "local files") -> None:
        self._blobs = blobs
        self._name = name

    def describe(self) -> str:
        return self._name

    def resolve(self, reference: str) -> Descriptor:
        raise UsageError("reference_not_found", f"{self._name} has no tags")

    @contextlib.contextmanager
    def fetch(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        data = self._blobs.get(desc.digest)
        if data is None:
            raise GateError("blob_not_found", f"{self._name} lacks {desc.digest}")
        if isinstance(data, Path):
            # A local file, read once: checked as it is read and handed over seekable,
            # so a registry upload streams it (and rewinds it for a retry) unspooled.
            with data.open("rb") as handle:
                yield cast(IO[bytes], CheckedFile(handle, desc))
        else:
            # Bytes in memory: checked once here, then handed over seekable (no spooling).
            VerifyingReader(iter([data]), desc).read()
            yield io.BytesIO(data)

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        if desc.size > max_size:
            raise GateError("pull_too_large", f"{desc.digest} is over {max_size} bytes")
        with self.fetch(desc) as stream:
            return stream.read()

    def exists(self, desc: Descriptor) -> bool:
        return desc.digest in self._blobs

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        raise UsageError("target_read_only", f"{self._name} is read-only")

    def tag(self, desc: Descriptor, tag: str) -> None:
        raise UsageError("target_read_only", f"{self._name} is read-only")

    def tags(self) -> list[str]:
        return []

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        return []
