"""Registry mirrors: a Target that reads content from mirrors first, the origin last.

`registries.toml` lists mirrors per origin host (floe.oci.settings). `MirroredTarget`
wraps the origin's RemoteTarget and:

- resolves tags at the ORIGIN, always: a tag is a mutable name and only the origin
  says which digest it names today (a mirror could serve a stale or forged one);
- reads content addressed by digest (manifests, blobs, referrer manifests) from each
  mirror in order, then from the origin. Every mirror byte is verified against the
  digest the origin (or the signed graph) named before any of it is handed on: a
  streamed blob is spooled to a temp file, verified, then served; a mismatch,
  a missing blob or a mirror that is down is a warning and the next source is tried.
  What a mirror served that failed is discarded, so nothing unverified is stored;
- lists tags and referrers at the origin (both are mutable lists), so the signature
  checks see what the origin holds and run exactly as without mirrors;
- writes (push, tag, mount) go to the origin only; mirrors are never written.

A mirror that failed for any reason but a missing object is not asked again during
the command. Credentials and TLS flags given for the origin never go to a mirror
(see `settings.mirror_options`).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, TypeVar, cast

from floe.errors import FloeError, NotFound
from floe.oci.options import RegistryOptions
from floe.oci.remote import RemoteTarget
from floe.oci.settings import mirror_options
from floe.oci.target import MAX_MANIFEST_BYTES, Descriptor, validate_digest

_SPOOL_IN_MEMORY = 8 << 20
_NO_FALLBACK = frozenset({"registry_timeout", "network_forbidden"})  # the origin would fail too
T = TypeVar("T")


class MirroredTarget:
    """The origin repository, read through `mirrors` (hosts, tried in order)."""

    def __init__(self, origin: RemoteTarget, mirrors: tuple[str, ...]) -> None:
        self.origin = origin
        self.host = origin.host
        self.repository = origin.repository
        self.options: RegistryOptions = origin.options
        self.mirror_hosts = mirrors
        self._mirrors: dict[str, RemoteTarget] = {}
        self._dead: set[str] = set()
        self._lock = threading.Lock()
        self.served: dict[str, str] = {}  # digest -> the host that served it (tests, events)

    # ------------------------------------------------------------------ plumbing

    def describe(self) -> str:
        return self.origin.describe()

    def close(self) -> None:
        self.origin.close()
        for mirror in self._mirrors.values():
            mirror.close()

    def _live(self) -> list[RemoteTarget]:
        with self._lock:
            out = []
            for host in self.mirror_hosts:
                if host in self._dead:
                    continue
                if host not in self._mirrors:
                    options = mirror_options(self.options)
                    self._mirrors[host] = RemoteTarget(host, self.repository, options)
                out.append(self._mirrors[host])
            return out

    def _read(self, what: str, digest: str, read: Callable[[RemoteTarget], T]) -> T:
        """`read` from each live mirror, then from the origin; a failed mirror is warned."""
        for mirror in self._live():
            try:
                value = read(mirror)
            except FloeError as exc:
                if exc.slug in _NO_FALLBACK:
                    raise
                if not isinstance(exc, NotFound):
                    with self._lock:
                        self._dead.add(mirror.host)
                self.options.notify(
                    f"warning: mirror {mirror.host} failed for {what} {digest} "
                    f"[{exc.slug}]: {exc.message[:200]}; trying the next source"
                )
                continue
            with self._lock:
                self.served[digest] = mirror.host
            return value
        value = read(self.origin)
        with self._lock:
            self.served[digest] = self.origin.host
        return value

    # ------------------------------------------------------------------ reads

    def resolve(self, reference: str) -> Descriptor:
        if not reference.startswith("sha256:"):
            return self.origin.resolve(reference)  # tags: the origin's answer only
        validate_digest(reference)
        return self._read("manifest", reference, lambda t: t.resolve(reference))

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        if _cached(self.origin, desc.digest):
            return self.origin.fetch_bytes(desc, max_size)
        return self._read("content", desc.digest, lambda t: t.fetch_bytes(desc, max_size))

    def fetch(self, desc: Descriptor) -> AbstractContextManager[IO[bytes]]:
        return self._open(desc)

    @contextmanager
    def _open(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        validate_digest(desc.digest)
        if not self._live() or _cached(self.origin, desc.digest):
            with self.origin.fetch(desc) as stream:
                yield stream
            return
        with self._read("blob", desc.digest, lambda t: _spooled(t, desc)) as spool:
            yield spool

    def exists(self, desc: Descriptor, scopes: tuple[str, ...] | None = None) -> bool:
        return self.origin.exists(desc, scopes)

    def tags(self) -> list[str]:
        return self.origin.tags()

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        return self.origin.referrers(subject, artifact_type)

    # ------------------------------------------------------------------ writes: origin only

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        self.origin.push(desc, stream)

    def push_manifest(self, desc: Descriptor, data: bytes, tag: str | None = None) -> None:
        self.origin.push_manifest(desc, data, tag)

    def tag(self, desc: Descriptor, tag: str) -> None:
        self.origin.tag(desc, tag)

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        return self.origin.mount(desc, from_repository)


def _cached(origin: RemoteTarget, digest: str) -> bool:
    """The origin already holds these verified bytes in memory (a manifest it resolved)."""
    with origin._lock:
        return digest in origin._manifests or digest in origin._small


def _spooled(source: RemoteTarget, desc: Descriptor) -> IO[bytes]:
    """The whole of `desc` from `source`, verified, in a temp spool rewound to its start.

    The verifying stream raises at its end on a wrong digest; the spool is then closed
    (deleted) and nothing of it reaches the caller.
    """
    spool = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY, prefix="floe-mirror-")  # noqa: SIM115
    try:
        with source.fetch(desc) as stream:
            shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return cast(IO[bytes], spool)


def with_mirrors(origin: RemoteTarget, mirrors: tuple[str, ...]) -> RemoteTarget | MirroredTarget:
    return MirroredTarget(origin, mirrors) if mirrors else origin
