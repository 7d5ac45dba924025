"""An OCI image layout on disk as a Target: floe's embedded registry.

Layout (image-spec): `oci-layout` ({"imageLayoutVersion": "1.0.0"}), `index.json`
whose manifests carry `org.opencontainers.image.ref.name` = tag, and content in
`blobs/sha256/<hex>`. Readable by `skopeo ... oci:PATH:TAG`.

Safety: blobs are written to a temp file in the blobs folder, verified, then
renamed into place; `index.json` updates happen under `<layout>/.lock`, so
concurrent writers never lose a tag. Manifests with a `subject` are recorded in
`index.json` without a ref name (as oras-go does) so `referrers()` finds them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, cast

from floe.errors import GateError, UsageError
from floe.files import atomic_write
from floe.oci.manifest import Index, Manifest, parse_document, parse_index
from floe.oci.target import (
    ANNOTATION_REF_NAME,
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    VerifyingReader,
    canonical_json,
    parse_json_object,
    validate_digest,
    verified,
)

LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
INDEX_FILE = "index.json"
LOCK_FILE = ".lock"
CHUNK = 1 << 20


class LayoutTarget:
    """A Target backed by an OCI image layout directory (created on first write)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._ready = False  # _ensure_layout already ran for this target

    # ---- helpers -----------------------------------------------------------------

    def describe(self) -> str:
        return f"oci-layout://{self.path}"

    def blob_path(self, digest: str) -> Path:
        validate_digest(digest)
        return self.path / "blobs" / "sha256" / digest.split(":", 1)[1]

    def _check_layout(self) -> None:
        marker = self.path / LAYOUT_FILE
        if not self.path.exists():
            raise UsageError(
                "layout_not_found",
                f"there is no OCI image layout at {self.path} (no such folder)",
                hint="check the path; publish or copy into it to create it",
            )
        if not marker.is_file():
            raise UsageError(
                "layout_not_found",
                f"{self.path} is not an OCI image layout (no {LAYOUT_FILE} file)",
                hint="publish or copy into it first, or check the path",
            )
        try:
            version = json.loads(marker.read_bytes()).get("imageLayoutVersion")
        except (ValueError, AttributeError):
            version = None
        if version != "1.0.0":
            raise UsageError("layout_invalid", f"{marker}: unsupported imageLayoutVersion")

    def _ensure_layout(self) -> None:
        if self._ready:
            return
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(
                "layout_invalid",
                f"{self.path} is a file, not an OCI image layout folder",
                hint="choose a folder path (it is created on first write)",
            )
        blobs = self.path / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        marker = self.path / LAYOUT_FILE
        if not marker.exists():
            atomic_write(marker, canonical_json(LAYOUT_VERSION), fsync=False)
        if not (self.path / INDEX_FILE).exists():
            with self._locked():
                if not (self.path / INDEX_FILE).exists():
                    self._write_index([])
        self._check_layout()
        self._ready = True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock

        with FileLock(str(self.path / LOCK_FILE), timeout=60):
            yield

    def _read_index(self) -> list[Descriptor]:
        """index.json's entries, typed (a local file: a bad one is `layout_invalid`, exit 2)."""
        index_path = self.path / INDEX_FILE
        if not index_path.exists():
            self._check_layout()
            return []
        try:
            return list(parse_index(index_path.read_bytes(), str(index_path)).manifests)
        except GateError as exc:
            raise UsageError(
                "layout_invalid",
                f"{index_path} is not a valid image index ({exc.message})",
                hint="the layout was edited by hand or is damaged; copy the artifact again",
            ) from None

    def _write_index(self, manifests: list[Descriptor]) -> None:
        unique = {(_ref_name(m) or "", m.digest): m for m in manifests}
        ordered = [unique[k].to_json() for k in sorted(unique)]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": ordered}
        data = canonical_json(index)
        with contextlib.suppress(OSError):
            if (self.path / INDEX_FILE).read_bytes() == data:
                return  # e.g. re-tagging what the tag already names: nothing to write
        atomic_write(self.path / INDEX_FILE, data, fsync=False)

    def _update_index(self, change: Callable[[list[Descriptor]], list[Descriptor]]) -> None:
        with self._locked():
            self._write_index(change(self._read_index()))

    # ---- Target --------------------------------------------------------------------

    def resolve(self, reference: str) -> Descriptor:
        if reference.startswith("sha256:"):
            return self._resolve_digest(reference)
        for entry in self._read_index():
            if _ref_name(entry) == reference:
                return entry
        raise UsageError(
            "reference_not_found",
            f"{self.describe()} has no tag {reference!r}",
            hint="`floe platform list` shows the published versions",
        )

    def _resolve_digest(self, digest: str) -> Descriptor:
        validate_digest(digest)
        for entry in self._read_index():
            if entry.digest == digest:
                return entry
        path = self.blob_path(digest)
        if not path.is_file():
            raise UsageError("reference_not_found", f"{self.describe()} has no manifest {digest}")
        size = path.stat().st_size
        probe = Descriptor(OCI_MANIFEST, digest, size)
        data = self.fetch_bytes(probe)
        media_type = _media_type_of(data, digest)
        return Descriptor(media_type, digest, size)

    @contextlib.contextmanager
    def fetch(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        path = self.blob_path(desc.digest)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise GateError(
                "blob_not_found",
                f"{self.describe()} lacks {desc.digest}",
                hint="the layout is incomplete; copy the artifact into it again",
            ) from None
        with handle:
            yield cast(IO[bytes], VerifyingReader(handle, desc))

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        if desc.size > max_size:
            raise GateError(
                "pull_too_large",
                f"{desc.digest} is {desc.size} bytes, over the {max_size}-byte limit",
            )
        with self.fetch(desc) as stream:
            return stream.read()

    def exists(self, desc: Descriptor) -> bool:
        path = self.blob_path(desc.digest)
        try:
            return path.stat().st_size == desc.size
        except (FileNotFoundError, NotADirectoryError):
            return False

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        self._ensure_layout()
        final = self.blob_path(desc.digest)
        if not self.exists(desc):
            self._write_blob(desc, stream, final)
        if desc.media_type in MANIFEST_MEDIA_TYPES:
            self._record_referrer(desc, final)

    def _write_blob(self, desc: Descriptor, stream: IO[bytes], final: Path) -> None:
        reader = verified(stream, desc)  # hashed once, here or by the source
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(CHUNK):
                    out.write(chunk)
                reader.read(CHUNK)  # end of stream: size and digest are checked here
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _record_referrer(self, desc: Descriptor, path: Path) -> None:
        """A manifest with a subject goes into index.json (no ref name) to be found later."""
        doc = _document_or_none(path.read_bytes(), desc)
        if doc is None or doc.subject is None:
            return
        entry = Descriptor(desc.media_type, desc.digest, desc.size, artifact_type=doc.kind)

        def add(entries: list[Descriptor]) -> list[Descriptor]:
            return [*entries, entry]

        self._update_index(add)

    def tag(self, desc: Descriptor, tag: str) -> None:
        from floe.oci.reference import check_tag

        check_tag(tag)
        self._ensure_layout()
        if not self.exists(desc):
            raise UsageError("reference_not_found", f"cannot tag {desc.digest}: not in the layout")
        entry = Descriptor(
            desc.media_type,
            desc.digest,
            desc.size,
            annotations={ANNOTATION_REF_NAME: tag},
            artifact_type=desc.artifact_type,
        )

        def retag(entries: list[Descriptor]) -> list[Descriptor]:
            return [*(e for e in entries if _ref_name(e) != tag), entry]

        self._update_index(retag)

    def entries(self) -> list[Descriptor]:
        """Every index.json entry with its annotations (ref names, cosign's `kind`)."""
        return self._read_index()

    def annotate(self, desc: Descriptor, annotations: dict[str, str]) -> None:
        """Merge `annotations` into the index.json entries for `desc` (adding one if none)."""
        if not self.exists(desc):
            raise UsageError("reference_not_found", f"{desc.digest} is not in the layout")

        def merge(entries: list[Descriptor]) -> list[Descriptor]:
            mine = [e for e in entries if e.digest == desc.digest] or [desc]
            merged = [replace(e, annotations={**e.annotations, **annotations}) for e in mine]
            return [*(e for e in entries if e.digest != desc.digest), *merged]

        self._update_index(merge)

    def tags(self) -> list[str]:
        """The layout's tags; a missing layout is an error (a typo must not list "none")."""
        self._check_layout()
        return sorted({name for e in self._read_index() if (name := _ref_name(e))})

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        if not (self.path / LAYOUT_FILE).exists():
            return []
        candidates = self._read_index()
        candidates += self._fallback_referrers(subject)
        found: dict[str, Descriptor] = {}
        for desc in candidates:
            if desc.digest in found or desc.media_type not in MANIFEST_MEDIA_TYPES:
                continue
            if not self.exists(desc):
                continue
            doc = parse_document(self.fetch_bytes(desc), desc)
            if doc.subject is None or doc.subject.digest != subject.digest:
                continue
            if artifact_type and doc.kind != artifact_type:
                continue
            found[desc.digest] = Descriptor(
                desc.media_type,
                desc.digest,
                desc.size,
                annotations=dict(doc.annotations),
                artifact_type=doc.kind,
            )
        return [found[d] for d in sorted(found)]

    def _fallback_referrers(self, subject: Descriptor) -> list[Descriptor]:
        """The `sha256-<hex>` tag schema: an index listing referrers (copied from registries)."""
        fallback_tag = "sha256-" + subject.hex
        if fallback_tag not in self.tags():
            return []
        index_desc = self.resolve(fallback_tag)
        if index_desc.media_type != OCI_INDEX:
            return []
        return list(parse_index(self.fetch_bytes(index_desc), index_desc.digest).manifests)


def _ref_name(entry: Descriptor) -> str | None:
    return entry.annotations.get(ANNOTATION_REF_NAME) or None


def _media_type_of(data: bytes, digest: str) -> str:
    manifest = parse_json_object(data, digest)
    media_type = manifest.get("mediaType")
    if isinstance(media_type, str) and media_type in MANIFEST_MEDIA_TYPES:
        return media_type
    return OCI_INDEX if "manifests" in manifest else OCI_MANIFEST


def _document_or_none(data: bytes, desc: Descriptor) -> Manifest | Index | None:
    """A pushed manifest's typed form; bytes that are not one are stored, never indexed."""
    try:
        return parse_document(data, desc)
    except GateError:
        return None
