"""The one abstraction everything that moves bytes goes through.

A Target is a store of content-addressed blobs and manifests with tags: a remote
registry (`floe.oci.remote.RemoteTarget`) or an OCI image layout on disk
(`floe.oci.layout.LayoutTarget`). Publish, pull, cache fill and mirror are one
graph copy (`floe.oci.copy.copy_graph`) between two Targets.

Contract every implementation keeps:
- `fetch` returns a stream that checks size and digest as it is read and raises
  `pull_digest_mismatch` (GateError) at the end, or as soon as the size is
  exceeded; callers write what they read to a temp name and rename only after
  the stream was read to the end.
- `fetch_bytes` is `fetch` read fully into memory with a size cap; it only
  returns verified bytes.
- `push` never leaves a partial blob under its final name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Any, Protocol, cast, runtime_checkable

from floe.errors import GateError, UsageError
from floe.oci.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    IMAGE_MEDIA_TYPES,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    check_top,
    index_from,
    load_json,
    manifest_from,
)

__all__ = [
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MANIFEST_MEDIA_TYPES",
    "MAX_MANIFEST_BYTES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Descriptor",
]

# Media types (DESIGN.md "The artifact on the wire").
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

FLOE_ARTIFACT_TYPE = "application/vnd.floe.platform.v1"
FLOE_CONFIG = "application/vnd.floe.platform.config.v1+json"
FLOE_POLICY = "application/vnd.floe.policy.v1+json"
FLOE_CATALOG = "application/vnd.floe.catalog.v1+json"
FLOE_ARCHITECTURE = "application/vnd.floe.architecture.v1+json"
FLOE_TAR_GZIP = "application/vnd.floe.tree.model.v1.tar+gzip"

SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
INTOTO_DSSE = "application/vnd.in-toto+json"

ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTENT_DIGEST = "dev.floe.content-digest"
ANNOTATION_ORAS_DIGEST = "io.deis.oras.content.digest"
ANNOTATION_ORAS_UNPACK = "io.deis.oras.content.unpack"
ANNOTATION_COSIGN_SIGNATURE = "dev.cosignproject.cosign/signature"

# The canonical empty config blob `{}` of image-spec v1.1.
EMPTY_JSON = b"{}"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def validate_digest(digest: str) -> None:
    """Accept only `sha256:<64 lowercase hex>`; anything else could be a path trick."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise UsageError(
            "digest_invalid",
            f"unsupported or malformed digest {digest!r}",
            hint="digests look like sha256:<64 hex characters>",
        )


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, compact separators, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class VerifyingReader:
    """Wraps a byte stream; raises `pull_digest_mismatch` unless size and digest match.

    Every chunk is counted and hashed as it arrives from the source, before the caller
    sees any of it: more bytes than the descriptor promised fail at once (a hostile
    server cannot make us buffer or store more), a wrong digest or short read fails at
    the end of the stream.
    """

    _CHUNK = 1 << 20

    def __init__(self, raw: IO[bytes] | Iterator[bytes], desc: Descriptor) -> None:
        self._desc = desc
        self._chunks = _chunks_of(raw, self._CHUNK)
        self._hash = hashlib.sha256()
        self._seen = 0
        self._pending = b""
        self._offset = 0
        self._eof = False
        self.checks = (desc.digest, desc.size)  # see `verified`

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(self._CHUNK), b""))
        if self._offset >= len(self._pending) and not self._fill():
            return b""
        out = self._pending[self._offset : self._offset + size]
        self._offset += len(out)
        return out

    def _fill(self) -> bool:
        """Load the next non-empty chunk; at the end of the source, verify and return False."""
        while not self._eof:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._eof = True
                self._verify()
                return False
            if chunk:
                self._account(chunk)
                self._pending, self._offset = chunk, 0
                return True
        return False

    def _account(self, chunk: bytes) -> None:
        self._seen += len(chunk)
        if self._seen > self._desc.size:
            raise GateError(
                "pull_digest_mismatch",
                f"{self._desc.digest}: received more than the expected {self._desc.size} bytes",
                hint="the source is corrupt or tampered with; nothing was stored",
            )
        self._hash.update(chunk)

    def _verify(self) -> None:
        got = "sha256:" + self._hash.hexdigest()
        if self._seen != self._desc.size or got != self._desc.digest:
            raise GateError(
                "pull_digest_mismatch",
                f"{self._desc.digest}: content does not match its digest "
                f"(got {got}, {self._seen} of {self._desc.size} bytes)",
                hint="the source is corrupt or tampered with; nothing was stored",
            )

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(self._CHUNK)
            if not chunk:
                return
            yield chunk


def verified(stream: IO[bytes], desc: Descriptor) -> IO[bytes]:
    """`stream`, checked against `desc` while it is read to its end: as it is when it
    checks itself for exactly `desc` already (a verified download on its way into a
    store), else through a `VerifyingReader`. Each byte is hashed once."""
    if getattr(stream, "checks", None) == (desc.digest, desc.size):
        return stream
    return cast(IO[bytes], VerifyingReader(stream, desc))


def _chunks_of(raw: IO[bytes] | Iterator[bytes], size: int) -> Iterator[bytes]:
    if hasattr(raw, "read"):
        return iter(lambda: raw.read(size), b"")
    return iter(raw)


@runtime_checkable
class Target(Protocol):
    """A store of content: a registry repository or an OCI image layout."""

    def describe(self) -> str:
        """A human-readable reference for messages (`oci://host/repo`)."""
        ...

    def resolve(self, reference: str) -> Descriptor:
        """Tag or `sha256:` digest -> the manifest's descriptor (size and digest of its bytes)."""
        ...

    def fetch(self, desc: Descriptor) -> AbstractContextManager[IO[bytes]]:
        """Open a stream of the content that verifies size and digest as it is read."""
        ...

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        """Read and verify the whole content; refuse anything over `max_size`."""
        ...

    def exists(self, desc: Descriptor) -> bool: ...

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        """Store content (blob or manifest, chosen by media type) under its digest."""
        ...

    def tag(self, desc: Descriptor, tag: str) -> None:
        """Point `tag` at an already-pushed manifest."""
        ...

    def tags(self) -> list[str]: ...

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        """Manifests whose `subject` is `subject` (referrers API or tag-schema fallback)."""
        ...


def parse_json_object(data: bytes, digest: str) -> dict[str, Any]:
    """A JSON object from any Target (bounded size and depth), else `artifact_manifest_invalid`.

    For manifests and indexes use `floe.oci.manifest.parse_document`: typed and checked.
    """
    value = load_json(data, digest)
    if not isinstance(value, dict):
        raise GateError("artifact_manifest_invalid", f"{digest} is not a JSON object")
    # A manifest or index read as a dict is still checked by the typed parser, so no
    # caller of the dict meets an `int` where the OCI spec has a descriptor.
    if "manifests" in value:
        index_from(check_top(value, digest, INDEX_MEDIA_TYPES), digest)
    elif "layers" in value or "config" in value:
        manifest_from(check_top(value, digest, IMAGE_MEDIA_TYPES), digest)
    return value


# ---- capabilities (as oras-go's content.* interfaces): checked with isinstance ----------


@runtime_checkable
class ReferencePusher(Protocol):
    """Stores a manifest and tags it in one step (a registry's `PUT /manifests/<tag>`)."""

    def push_manifest(self, desc: Descriptor, data: bytes, tag: str) -> None: ...


@runtime_checkable
class Mounter(Protocol):
    """Links a blob from another repository of the same registry (no bytes sent)."""

    host: str
    repository: str

    def mount(self, desc: Descriptor, from_repository: str) -> bool: ...


@runtime_checkable
class Repository(Protocol):
    """A Target that is one repository of a registry host (mount source)."""

    host: str
    repository: str


@runtime_checkable
class TagLister(Protocol):
    def tags(self) -> list[str]: ...


@runtime_checkable
class ReferrerLister(Protocol):
    def referrers(
        self, subject: Descriptor, artifact_type: str | None = None
    ) -> list[Descriptor]: ...


@runtime_checkable
class ManifestGate(Protocol):
    """A destination that checks an image manifest before any of its blobs move.

    `admit` raises to refuse the manifest (nothing is fetched) or returns the blobs it
    wants (a file store wants titled layers only).
    """

    def admit(self, desc: Descriptor, manifest: Manifest) -> list[Descriptor]: ...
