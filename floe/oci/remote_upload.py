"""Blob and manifest uploads of `RemoteTarget`: HEAD first, POST + one streamed PUT.

Blobs above `monolithic_limit` go as chunked PATCHes; a failed upload restarts from a
rewound source within the retry budget (and the command's deadline).
"""

from __future__ import annotations

import json
import tempfile
import threading
import urllib.parse
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
_SPOOL_LIMIT = 8 << 20


class _UploadBody:
    """`size` bytes of a stream for requests to send with a Content-Length, read lazily."""

    def __init__(self, stream: IO[bytes], size: int) -> None:
        self._stream = stream
        self._left = size

    def __len__(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> bytes:
        amount = self._left if amount is None or amount < 0 else min(amount, self._left)
        data = self._stream.read(amount) if amount else b""
        self._left -= len(data)
        return data


class Uploads:
    """The upload half of `RemoteTarget` (which provides the attributes declared here)."""

    monolithic_limit = 64 << 20  # blobs above this go as chunked PATCHes
    chunk_size = 16 << 20
    session: RegistrySession
    _lock: threading.Lock
    _absent: set[str]
    _push: tuple[str, ...]

    def exists(self, desc: Descriptor, scopes: tuple[str, ...] | None = None) -> bool:
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
        if not checked and self.exists(desc, self._push):
            return
        try:
            if not _seekable(stream):
                with tempfile.SpooledTemporaryFile(_SPOOL_LIMIT) as spool:
                    _copy(stream, spool)
                    spool.seek(0)
                    self._upload(desc, spool)
                return
            self._upload(desc, stream)
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
        start = stream.tell()
        budget = self.session.budget()
        while True:
            stream.seek(start)
            try:
                self._upload_once(desc, stream, budget)
                return
            except TransientError as exc:
                if not budget.wait_after(exc):
                    raise

    def _upload_once(self, desc: Descriptor, stream: IO[bytes], budget: RetryBudget) -> None:
        uploads = self._path("blobs", "uploads/")
        resp = self.session.request("POST", uploads, scopes=self._push, budget=budget)
        with resp:
            if resp.status_code != 202:
                raise self._unexpected(resp, "start upload")
            location = self._location(resp, uploads)
        if desc.size > self.monolithic_limit:
            location = self._patch_chunks(location, desc, stream)
            body: BodyFactory = lambda: b""  # noqa: E731
            headers = {"Content-Length": "0"}
        else:
            body = _rewinding_body(stream, stream.tell(), desc.size)
            headers = {"Content-Type": "application/octet-stream"}
        resp = self.session.request(
            "PUT",
            _with_query(location, {"digest": desc.digest}),
            scopes=self._push,
            headers=headers,
            body=body,
            retry=False,
        )
        with resp:
            if resp.status_code not in (201, 204):
                raise self._unexpected(resp, f"upload {desc.digest}")

    def _patch_chunks(self, location: str, desc: Descriptor, stream: IO[bytes]) -> str:
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
                body=_rewinding_body(stream, stream.tell(), length),
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


def _rewinding_body(stream: IO[bytes], start: int, size: int) -> BodyFactory:
    """A body factory: every (re)send starts again at `start` of the stream."""

    def make() -> _UploadBody:
        stream.seek(start)
        return _UploadBody(stream, size)

    return make


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _copy(source: IO[bytes], dest: IO[bytes]) -> None:
    for chunk in iter(lambda: source.read(CHUNK), b""):
        dest.write(chunk)


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
