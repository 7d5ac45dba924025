"""Blob and manifest uploads of `RemoteTarget`: HEAD first, POST + one streamed PUT.

The source is streamed as it is read, never spooled. One PUT carries the whole blob
whatever its size; chunked PATCHes are used only when asked for (`monolithic_limit`)
or when the registry refuses a body that large (413: then for the rest of the
session). A failed upload restarts from a rewound source within the retry budget (and
the command's deadline); an unseekable source cannot be rewound, so its failure is
raised (`TransientError`) for the caller to fetch the source again.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import IO, Any

import requests

from floe.errors import GateError, UsageError
from floe.oci.auth import pull_scope
from floe.oci.http import BodyFactory, RegistrySession, RetryBudget
from floe.oci.registry_errors import TransientError
from floe.oci.target import (
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    validate_digest,
)

CHUNK = 1 << 20
TOO_LARGE = 413  # the registry refuses a request body this large


class _UploadBody:
    """`size` bytes of a stream for requests to send with a Content-Length, read lazily.

    Iterable and without `read`, so urllib3 sends the CHUNK-sized pieces as they come
    (from a file: 1 MiB reads, not 16 KiB ones). A source that ends early is refused
    at once, not left for the registry to wait on.
    """

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self._size = size
        self.sent = 0

    def __len__(self) -> int:
        return self._size - self.sent

    def __iter__(self) -> Iterator[bytes]:
        while self.sent < self._size:
            data = self._stream.read(min(CHUNK, self._size - self.sent))
            if not data:
                raise GateError(
                    "push_digest_mismatch",
                    f"the source ended after {self.sent} of {self._size} bytes",
                    hint="the file changed while it was uploaded; publish again",
                )
            self.sent += len(data)
            yield data


class Uploads:
    """The upload half of `RemoteTarget` (which provides the attributes declared here)."""

    # None: one PUT whatever the size. Set (or learnt from a 413), bigger blobs go as
    # chunked PATCHes of `chunk_size`.
    monolithic_limit: int | None = None
    chunk_size = 16 << 20
    session: RegistrySession
    _lock: threading.Lock
    _absent: set[str]
    _present: set[str]
    _push: tuple[str, ...]

    def exists(self, desc: Descriptor, scopes: tuple[str, ...] | None = None) -> bool:
        raise NotImplementedError

    def known_absent(self, desc: Descriptor) -> bool:
        raise NotImplementedError

    def push_manifest(self, desc: Descriptor, data: bytes, tag: str | None = None) -> None:
        raise NotImplementedError

    def _unexpected(self, resp: requests.Response, what: str) -> UsageError:
        raise NotImplementedError

    def _fallback_index(self, subject: Descriptor) -> bytes | None:
        raise NotImplementedError

    def _path(self, kind: str, ref: str) -> str:
        raise NotImplementedError

    @staticmethod
    def fallback_tag(subject: Descriptor) -> str:
        """The referrers tag schema: `sha256-<hex>` names an index of the referrers."""
        algo, _, hexpart = subject.digest.partition(":")
        return f"{algo}-{hexpart}"

    def _add_to_fallback_index(
        self, subject: Descriptor, desc: Descriptor, manifest: dict[str, Any]
    ) -> None:
        """Maintain the `sha256-<hex>` index for registries without the referrers API."""
        entry = Descriptor(
            manifest.get("mediaType") or desc.media_type,
            desc.digest,
            desc.size,
            annotations={str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()},
            artifact_type=manifest.get("artifactType")
            or (manifest.get("config") or {}).get("mediaType"),
        )
        existing = self._fallback_index(subject)
        entries = [
            e for e in (index_entries(existing) if existing else []) if e.digest != desc.digest
        ]
        entries.append(entry)
        entries.sort(key=lambda e: e.digest)
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [e.to_json() for e in entries],
        }
        data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
        self.push_manifest(Descriptor.for_bytes(OCI_INDEX, data), data, self.fallback_tag(subject))

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        if desc.media_type in MANIFEST_MEDIA_TYPES:
            data = stream.read(MAX_MANIFEST_BYTES + 1)
            self.push_manifest(desc, data, None)
            return
        self.push_blob(desc, stream)

    def push_blob(self, desc: Descriptor, stream: IO[bytes]) -> None:
        validate_digest(desc.digest)
        with self._lock:  # a graph copy has just asked (HEAD): do not ask again
            checked = desc.digest in self._absent
            self._absent.discard(desc.digest)
        if not checked and not self.known_absent(desc) and self.exists(desc, self._push):
            return
        try:
            self._upload(desc, stream)
            with self._lock:
                self._present.add(desc.digest)  # the same digest twice in a graph: sent once
        finally:
            with self._lock:
                self._absent.discard(desc.digest)

    def mount(self, desc: Descriptor, from_repository: str) -> bool:
        """Cross-repository mount; False when the registry declined (then push normally)."""
        query = urllib.parse.urlencode({"mount": desc.digest, "from": from_repository})
        scopes = (*self._push, pull_scope(from_repository))
        resp = self.session.request("POST", self._path("blobs", f"uploads/?{query}"), scopes=scopes)
        with resp:
            if resp.status_code == 201:
                with self._lock:
                    self._absent.discard(desc.digest)
                return True
            if resp.status_code == 202 and resp.headers.get("Location"):
                # The registry opened an ordinary upload instead; cancel it.
                location = self._location(resp, self._path("blobs", "uploads/"))
                self.session.request("DELETE", location, scopes=self._push).close()
                return False
            raise self._unexpected(resp, f"mount {desc.digest} from {from_repository}")

    def _upload(self, desc: Descriptor, stream: IO[bytes]) -> None:
        """Upload from `stream`; a rewindable one restarts from its start on a failure."""
        start = stream.tell() if _seekable(stream) else None
        budget = self.session.budget()
        while True:
            try:
                self._upload_once(desc, stream, start, budget)
                return
            except TransientError as exc:
                if start is None or not budget.wait_after(exc):
                    raise
                stream.seek(start)

    def _chunked(self, desc: Descriptor) -> bool:
        return self.monolithic_limit is not None and desc.size > self.monolithic_limit

    def _upload_once(
        self, desc: Descriptor, stream: IO[bytes], start: int | None, budget: RetryBudget
    ) -> None:
        location = self._start_upload(budget)
        if self._chunked(desc):
            location = self._patch_chunks(location, desc, stream, start)
            if not self._finish(location, desc, lambda: b"", {"Content-Length": "0"}):
                raise self._too_large(desc)
            return
        headers = {"Content-Type": "application/octet-stream"}
        if self._finish(location, desc, _body(stream, start, desc.size), headers):
            return
        if start is None or self._chunked(desc):
            raise self._too_large(desc)
        # The registry takes no body this large in one request: chunks from here on.
        with self._lock:
            self.chunk_size = min(self.chunk_size, max(CHUNK, desc.size // 2))
            self.monolithic_limit = min(self.chunk_size, desc.size - 1)  # this one too
        stream.seek(start)
        self._upload_once(desc, stream, start, budget)

    def _start_upload(self, budget: RetryBudget) -> str:
        uploads = self._path("blobs", "uploads/")
        resp = self.session.request("POST", uploads, scopes=self._push, budget=budget)
        with resp:
            if resp.status_code != 202:
                raise self._unexpected(resp, "start upload")
            return self._location(resp, uploads)

    def _finish(
        self, location: str, desc: Descriptor, body: BodyFactory, headers: dict[str, str]
    ) -> bool:
        """The closing PUT; False when the registry refused the body as too large."""
        resp = self.session.request(
            "PUT",
            _with_query(location, {"digest": desc.digest}),
            scopes=self._push,
            headers=headers,
            body=body,
            retry=False,
        )
        with resp:
            if resp.status_code in (201, 204):
                return True
            if resp.status_code == TOO_LARGE:
                return False
            raise self._unexpected(resp, f"upload {desc.digest}")

    def _too_large(self, desc: Descriptor) -> UsageError:
        return UsageError(
            "registry_error",
            f"{self.describe()} refused {desc.digest} ({desc.size} bytes) as too large",
            hint="the registry limits the size of a blob or of one upload request",
        )

    def describe(self) -> str:
        raise NotImplementedError

    def _patch_chunks(
        self, location: str, desc: Descriptor, stream: IO[bytes], start: int | None
    ) -> str:
        offset = 0
        while offset < desc.size:
            length = min(self.chunk_size, desc.size - offset)
            resp = self.session.request(
                "PATCH",
                location,
                scopes=self._push,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + length - 1}",
                    "Content-Length": str(length),
                },
                body=_body(stream, None if start is None else start + offset, length),
                retry=False,
            )
            with resp:
                if resp.status_code != 202:
                    raise self._unexpected(resp, f"upload chunk of {desc.digest}")
                location = self._location(resp, location)
            offset += length
        return location

    def _location(self, resp: requests.Response, request_path: str) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise self._unexpected(resp, "upload without a Location header")
        return urllib.parse.urljoin(self.session.url(request_path), location)


def _with_query(url: str, params: dict[str, str]) -> str:
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return url + joiner + urllib.parse.urlencode(params)


def _body(stream: IO[bytes], start: int | None, size: int) -> BodyFactory:
    """A body factory. From a rewindable stream every (re)send starts again at `start`;
    an unseekable one can be sent once (a second send is a `TransientError` for the
    caller, who can fetch the source again)."""
    if start is not None:

        def rewound() -> _UploadBody:
            stream.seek(start)
            return _UploadBody(stream, size)

        return rewound
    once = _UploadBody(stream, size)

    def unrewound() -> _UploadBody:
        if once.sent:
            raise TransientError(
                "registry_unreachable",
                "an upload was interrupted and its source cannot be read again",
            )
        return once

    return unrewound


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def json_or_none(data: bytes | None) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        return None


def index_entries(data: bytes) -> list[Descriptor]:
    parsed = json_or_none(data)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("manifests"), list):
        raise GateError("artifact_manifest_invalid", "the referrers index is not an OCI index")
    return [Descriptor.from_json(item) for item in parsed["manifests"]]
