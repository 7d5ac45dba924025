"""A repository on a remote registry (distribution-spec v1.1) as a `Target`.

Reads are verified: manifests are hashed from the exact bytes received (and checked
against `Docker-Content-Digest` when a tag was resolved), blobs stream through
`VerifyingReader`. A broken stream is resumed with a `Range` request within the
retry budget. Uploads ask with HEAD first, then POST + one streamed PUT (chunked
PATCHes above `monolithic_limit`); a failed upload restarts from a rewound source.
"""

from __future__ import annotations

import functools
import threading
import urllib.parse
from collections.abc import Generator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import IO, cast

import requests

from floe.errors import GateError, NotFound, UsageError
from floe.oci.auth import pull_scope, push_scope
from floe.oci.http import RegistrySession, RetryBudget
from floe.oci.options import RegistryOptions
from floe.oci.registry_errors import (
    READ_ERRORS,
    TransientError,
    error_message,
    limit_error,
    read_capped,
    registry_details,
)
from floe.oci.remote_upload import CHUNK, Uploads, index_entries, json_or_none
from floe.oci.target import (
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    VerifyingReader,
    sha256_digest,
    validate_digest,
)

MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)
_SPOOL_LIMIT = 8 << 20
_SMALL_BLOB = 1 << 20  # verified blobs up to this size are kept for a second read
_SMALL_BLOBS_TOTAL = 16 << 20
_MISMATCH_HINT = "the registry returned content that does not match its digest; nothing was stored"
MAX_TAG_PAGES = 1000  # pages of a tag list (each `Link` URL is followed once)
MAX_TAGS = 100_000
MAX_REFERRERS = 1000  # descriptors in one subject's referrers list
MAX_REFERRER_DEPTH = 8  # a referrer of a referrer of ... the artifact
MAX_REFERRER_QUERIES = 256  # referrers lists asked of one repository in one session


def ping(host: str, options: RegistryOptions | None = None) -> None:
    """Check that `host` speaks the registry API and accepts our credentials."""
    session = RegistrySession(host, options or RegistryOptions())
    try:
        resp = session.request("GET", "/v2/")
        resp.close()
        if resp.status_code != 200:
            raise UsageError(
                "registry_error",
                f"{host} does not look like an OCI registry: {error_message(resp)}",
            )
    finally:
        session.close()


class RemoteTarget(Uploads):
    """One repository on a registry: `RemoteTarget("ghcr.io", "acme/platform")`."""

    def __init__(self, host: str, repository: str, options: RegistryOptions | None = None) -> None:
        self.host = host
        self.repository = repository
        self.options = options or RegistryOptions()
        self.session = RegistrySession(host, self.options)
        # What this session learnt from the registry, so no question is asked twice:
        self._manifests: dict[str, bytes] = {}  # verified manifest bytes by digest
        self._small: dict[str, bytes] = {}  # verified small blobs (configs) by digest
        self._tags: dict[str, str] = {}  # tag -> the digest it named when read or written
        self._resolved: dict[str, Descriptor] = {}  # reference -> what resolving it gave
        self._tag_list: list[str] | None = None  # the full tag list, once read
        self._absent: set[str] = set()  # blobs a HEAD just found missing (push skips its HEAD)
        self._present: set[str] = set()  # digests a HEAD found (not asked again)
        self._referrers: dict[tuple[str, str | None], list[Descriptor]] = {}
        self._referrers_api: bool | None = None  # None: not asked yet
        self._depth: dict[str, int] = {}  # referrer digest -> how deep under a root it sits
        self._queries = 0  # referrers lists asked (an endless chain stops at the cap)
        self._lock = threading.Lock()
        self._pull = (pull_scope(repository),)
        self._push = (push_scope(repository),)

    # ------------------------------------------------------------------ basics

    def describe(self) -> str:
        return f"oci://{self.host}/{self.repository}"

    def close(self) -> None:
        self.session.close()

    def _path(self, kind: str, ref: str) -> str:
        return f"/v2/{self.repository}/{kind}/{ref}"

    def _unexpected(self, resp: requests.Response, what: str) -> UsageError:
        return UsageError(
            "registry_error",
            f"{what} on {self.describe()}: {error_message(resp)}",
            details=registry_details(resp),
        )

    # ------------------------------------------------------------------ manifests

    def resolve(self, reference: str) -> Descriptor:
        """The manifest `reference` names (asked once per session: a tag this session
        writes is updated as it is written; a missing one is asked again)."""
        by_digest = reference.startswith("sha256:")
        if by_digest:
            validate_digest(reference)
        with self._lock:
            known = self._resolved.get(reference)
            if known is not None and self._tags.get(reference, known.digest) == known.digest:
                return known
        data, headers = self._get_manifest(reference)
        digest = sha256_digest(data)
        claimed = headers.get("Docker-Content-Digest")
        expected = reference if by_digest else claimed
        if expected and expected != digest:
            raise GateError(
                "pull_digest_mismatch",
                f"{self.describe()}:{reference}: manifest bytes hash to {digest}, "
                f"expected {expected}",
                hint=_MISMATCH_HINT,
            )
        with self._lock:
            self._manifests[digest] = data
            if not by_digest:
                self._tags[reference] = digest
        media_type = _media_type(data, headers.get("Content-Type", ""))
        parsed = json_or_none(data)
        artifact_type = parsed.get("artifactType") if isinstance(parsed, dict) else None
        desc = Descriptor(media_type, digest, len(data), artifact_type=artifact_type)
        with self._lock:
            self._resolved[reference] = desc
        return desc

    def _get_manifest(self, reference: str) -> tuple[bytes, Mapping[str, str]]:
        """GET manifest bytes (size-capped); a body that breaks off is fetched again."""
        budget = self.session.budget()
        path = self._path("manifests", reference)
        while True:
            resp = self.session.request(
                "GET",
                path,
                scopes=self._pull,
                headers={"Accept": MANIFEST_ACCEPT},
                stream=True,
                budget=budget,
            )
            with resp:
                if resp.status_code == 404:
                    raise UsageError(
                        "reference_not_found",
                        f"{self.describe()}:{reference} not found",
                        hint="check the tag with `floe platform list`",
                        details=registry_details(resp),
                    )
                if resp.status_code != 200:
                    raise self._unexpected(resp, f"GET manifest {reference}")
                try:
                    return self._read_capped(resp, MAX_MANIFEST_BYTES, reference), resp.headers
                except READ_ERRORS as exc:
                    if self.session.deadline.expired():
                        raise self.session.deadline.error(f"GET manifest {reference}") from None
                    if not budget.wait():
                        raise TransientError(
                            "registry_unreachable",
                            f"reading manifest {reference} from {self.describe()} failed: "
                            f"{type(exc).__name__}",
                        ) from None

    def _read_capped(self, resp: requests.Response, cap: int, what: str) -> bytes:
        """A document body, refused over `cap` (a lying Content-Length before any read)."""
        too_large = GateError(
            "pull_too_large",
            f"{self.describe()}: {what} is larger than {cap} bytes",
            hint="the artifact exceeds floe's size limits",
        )
        where = f"{self.describe()}: {what}"
        return read_capped(resp, cap, self.session.deadline, where, too_large=too_large)

    def push_manifest(self, desc: Descriptor, data: bytes, tag: str | None = None) -> None:
        """PUT the exact bytes (under `tag` when given, else by digest)."""
        if sha256_digest(data) != desc.digest or len(data) != desc.size:
            raise GateError(
                "push_digest_mismatch",
                f"manifest bytes do not match {desc.digest}",
                hint="this is a bug in the caller: the descriptor was not made from these bytes",
            )
        with self._lock:
            if tag and self._tags.get(tag) == desc.digest:
                return  # read from this registry moments ago: the tag already names these bytes
        resp = self.session.request(
            "PUT",
            self._path("manifests", tag or desc.digest),
            scopes=self._push,
            headers={"Content-Type": desc.media_type},
            body=lambda: data,
        )
        with resp:
            if resp.status_code not in (200, 201):
                raise self._unexpected(resp, f"PUT manifest {tag or desc.digest}")
            returned = resp.headers.get("Docker-Content-Digest")
            supports_referrers = "OCI-Subject" in resp.headers
        if returned and returned != desc.digest:
            raise UsageError(
                "registry_error",
                f"{self.describe()} stored the manifest as {returned}, not {desc.digest}",
            )
        parsed = json_or_none(data)
        subject = parsed.get("subject") if isinstance(parsed, dict) else None
        with self._lock:
            self._manifests[desc.digest] = data
            if tag:
                self._tags[tag] = desc.digest
                self._resolved[tag] = desc
                if self._tag_list is not None and tag not in self._tag_list:
                    self._tag_list.append(tag)
            if isinstance(subject, dict):  # the subject has a new referrer: forget its list
                digest = subject.get("digest")
                self._referrers = {k: v for k, v in self._referrers.items() if k[0] != digest}
        if isinstance(subject, dict) and not supports_referrers:
            self._add_to_fallback_index(Descriptor.from_json(subject), desc, parsed)

    def tag(self, desc: Descriptor, tag: str) -> None:
        self.push_manifest(desc, self.fetch_bytes(desc), tag)

    def tags(self, page_size: int | None = None) -> list[str]:
        """Every tag, following `Link: <...>; rel="next"` pagination (capped, loop-checked);
        read once per session (tags this session writes are added)."""
        with self._lock:
            if self._tag_list is not None:
                return list(self._tag_list)
        found = self._list_tags(page_size)
        with self._lock:
            self._tag_list = list(found)
        return found

    def _list_tags(self, page_size: int | None) -> list[str]:
        first = f"/v2/{self.repository}/tags/list"
        path: str | None = first + (f"?n={page_size}" if page_size else "")
        found: list[str] = []
        seen: set[str] = set()
        while path:
            url = self.session.url(path)
            if url in seen:
                raise limit_error(f"GET tags on {self.describe()}", "a `Link` URL seen twice")
            if len(seen) >= MAX_TAG_PAGES:
                raise limit_error(f"GET tags on {self.describe()}", f"{MAX_TAG_PAGES} pages")
            seen.add(url)
            resp = self.session.request("GET", path, scopes=self._pull)
            with resp:
                if resp.status_code == 404:
                    return found
                if resp.status_code != 200:
                    raise self._unexpected(resp, "GET tags")
                found.extend(self._tag_page(resp))
                path = _next_link(resp, url)
            if len(found) > MAX_TAGS:
                raise limit_error(f"GET tags on {self.describe()}", f"{MAX_TAGS} tags")
        return found

    def _tag_page(self, resp: requests.Response) -> list[str]:
        doc = json_or_none(resp.content)
        tags = doc.get("tags") if isinstance(doc, dict) else None
        if tags is None and isinstance(doc, dict):
            return []  # `"tags": null`: a repository without tags
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise self._unexpected(resp, "GET tags (not a tag list)")
        return [str(tag) for tag in tags]

    # ------------------------------------------------------------------ referrers

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        """Referrers of subject (asked once per session; pushing a referrer forgets it)."""
        key = (subject.digest, artifact_type)
        with self._lock:
            cached = self._referrers.get(key)
            depth = self._depth.get(subject.digest, 0) + 1
            self._queries += 1
            queries = self._queries
        if cached is not None:
            return list(cached)
        what = f"referrers of {subject.digest} on {self.describe()}"
        if depth > MAX_REFERRER_DEPTH:
            raise limit_error(what, f"referrers nested over {MAX_REFERRER_DEPTH} deep")
        if queries > MAX_REFERRER_QUERIES:
            raise limit_error(what, f"{MAX_REFERRER_QUERIES} referrers lists")
        found = self._referrers_from_api(subject, artifact_type)
        if found is None:
            index = self._fallback_index(subject)
            found = _filter(index_entries(index) if index else [], artifact_type)
        if len(found) > MAX_REFERRERS:
            raise limit_error(what, f"{MAX_REFERRERS} referrers")
        with self._lock:
            self._referrers[key] = found
            for entry in found:
                self._depth.setdefault(entry.digest, depth)
        return list(found)

    def _referrers_from_api(
        self, subject: Descriptor, artifact_type: str | None
    ) -> list[Descriptor] | None:
        """The referrers API's answer; None when the registry lacks the API."""
        if self._referrers_api is False:
            return None
        path = self._path("referrers", subject.digest)
        if artifact_type:
            path += "?" + urllib.parse.urlencode({"artifactType": artifact_type})
        resp = self.session.request(
            "GET", path, scopes=self._pull, headers={"Accept": OCI_INDEX}, stream=True
        )
        with resp:
            if resp.status_code == 200 and _json_content(resp):
                self._referrers_api = True
                data = self._read_capped(resp, MAX_MANIFEST_BYTES, "referrers index")
                return _filter(index_entries(data), artifact_type)
            if resp.status_code not in (404, 405, 400):
                raise self._unexpected(resp, "GET referrers")
        # A registry with the API answers 200 (an empty index) even for no referrers.
        self._referrers_api = False
        return None

    def _fallback_index(self, subject: Descriptor) -> bytes | None:
        try:
            desc = self.resolve(self.fallback_tag(subject))
        except NotFound:
            return None
        return self.fetch_bytes(desc)

    # ------------------------------------------------------------------ content

    def _kind(self, desc: Descriptor) -> str:
        return "manifests" if desc.media_type in MANIFEST_MEDIA_TYPES else "blobs"

    def known_absent(self, desc: Descriptor) -> bool:
        """True when a HEAD before pushing `desc` would only confirm what is known: this
        session read the tag list and the repository had no tag (a first publish), and
        nothing since was written or found. An orphan blob of an interrupted push may still
        be there: it is uploaded again, correct (content-addressed) and a request cheaper
        than asking first for every blob."""
        with self._lock:
            if self._tag_list != []:
                return False
            known = (self._present, self._manifests, self._small)
            return not any(desc.digest in held for held in known)

    def exists(self, desc: Descriptor, scopes: tuple[str, ...] | None = None) -> bool:
        with self._lock:
            if desc.digest in self._manifests or desc.digest in self._small:
                return True  # read from (or written to) this repository in this session
            if desc.digest in self._present:
                return True
        headers = {"Accept": MANIFEST_ACCEPT} if self._kind(desc) == "manifests" else {}
        resp = self.session.request(
            "HEAD",
            self._path(self._kind(desc), desc.digest),
            scopes=scopes or self._pull,
            headers=headers,
        )
        resp.close()
        if resp.status_code == 200:
            with self._lock:
                self._present.add(desc.digest)
            return True
        if resp.status_code == 404:
            if self._kind(desc) == "blobs":
                with self._lock:
                    self._absent.add(desc.digest)
            return False
        raise self._unexpected(resp, f"HEAD {desc.digest}")

    def fetch(self, desc: Descriptor) -> AbstractContextManager[IO[bytes]]:
        return self._open(desc)

    @contextmanager
    def _open(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        validate_digest(desc.digest)
        with self._lock:
            cached = self._manifests.get(desc.digest) or self._small.get(desc.digest)
        if cached is not None:
            yield cast(IO[bytes], VerifyingReader(iter([cached]), desc))
            return
        chunks = self._stream(desc)
        try:
            yield cast(IO[bytes], VerifyingReader(chunks, desc))
        finally:
            chunks.close()

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        if desc.size > max_size:
            raise GateError(
                "pull_too_large",
                f"{desc.digest} is {desc.size} bytes, over the {max_size}-byte limit",
                hint="the artifact exceeds floe's size limits",
            )
        with self.fetch(desc) as stream:
            data = stream.read()
        with self._lock:
            if desc.media_type in MANIFEST_MEDIA_TYPES:
                self._manifests[desc.digest] = data
            elif len(data) <= _SMALL_BLOB and self._small_bytes() + len(data) <= _SMALL_BLOBS_TOTAL:
                self._small[desc.digest] = data  # e.g. a config read again by the unpack
        return data

    def _small_bytes(self) -> int:
        return sum(len(data) for data in self._small.values())

    def _get(self, desc: Descriptor, start: int, budget: RetryBudget) -> requests.Response:
        headers = {"Accept": MANIFEST_ACCEPT} if self._kind(desc) == "manifests" else {}
        if start:
            headers["Range"] = f"bytes={start}-"
        resp = self.session.request(
            "GET",
            self._path(self._kind(desc), desc.digest),
            scopes=self._pull,
            headers=headers,
            stream=True,
            budget=budget,
        )
        if resp.status_code == 404:
            resp.close()
            if self._kind(desc) == "manifests":
                raise UsageError(
                    "reference_not_found",
                    f"{self.describe()} has no manifest {desc.digest}",
                    hint="check the reference with `floe platform list`",
                )
            # The manifest names this blob: the artifact in the store is broken (as in a layout).
            raise GateError(
                "blob_not_found",
                f"{self.describe()} lacks {desc.digest}",
                hint="the repository is incomplete; copy or publish the artifact again",
            )
        if resp.status_code not in (200, 206):
            resp.close()
            raise self._unexpected(resp, f"GET {desc.digest}")
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > desc.size - start:
            resp.close()  # a lying length: refused before a byte is read
            raise GateError(
                "pull_digest_mismatch",
                f"{self.describe()} declares {declared} bytes for {desc.digest} "
                f"({desc.size - start} expected)",
                hint=_MISMATCH_HINT,
            )
        return resp

    def _stream(self, desc: Descriptor) -> Generator[bytes, None, None]:
        """The raw bytes of `desc`; a broken connection resumes where it stopped."""
        budget = self.session.budget()
        deadline = self.session.deadline
        received = 0
        resp = self._get(desc, 0, budget)
        while True:
            skip = received if resp.status_code == 200 else 0
            try:
                # read1: every read returns what arrived, so the deadline is checked often
                for chunk in iter(functools.partial(resp.raw.read1, CHUNK, False), b""):
                    deadline.check(f"download of {desc.digest} from {self.describe()}")
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                    received += len(chunk)
                    yield chunk
                resp.close()
                return
            except READ_ERRORS as exc:
                resp.close()
                if deadline.expired():
                    raise deadline.error(f"download of {desc.digest}") from None
                if received > desc.size or not budget.wait():
                    raise TransientError(
                        "registry_unreachable",
                        f"download of {desc.digest} from {self.describe()} broke off "
                        f"after {received} bytes: {type(exc).__name__}",
                    ) from None
            resp = self._get(desc, received, budget)


# ---------------------------------------------------------------------- helpers


def _media_type(data: bytes, content_type: str) -> str:
    parsed = json_or_none(data)
    if isinstance(parsed, dict) and isinstance(parsed.get("mediaType"), str):
        return str(parsed["mediaType"])
    return content_type.split(";", 1)[0].strip() or MANIFEST_MEDIA_TYPES[0]


def _json_content(resp: requests.Response) -> bool:
    return "json" in resp.headers.get("Content-Type", "")


def _filter(entries: list[Descriptor], artifact_type: str | None) -> list[Descriptor]:
    if artifact_type is None:
        return entries
    return [e for e in entries if e.artifact_type == artifact_type]


def _next_link(resp: requests.Response, current: str) -> str | None:
    link = resp.links.get("next", {}).get("url")
    return urllib.parse.urljoin(current, link) if link else None
