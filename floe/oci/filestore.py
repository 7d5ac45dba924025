"""A file-store Target (oras-go's `file.Store`): titled layers become files in a folder.

`copy_graph(src -> FileStore)` pulls an artifact to a folder. The store admits the
manifest first (`ManifestGate`): every title is a safe relative path (no absolute
paths, `..`, backslashes, NUL; depth and name-length caps), no path twice, no file
that is also a folder, every layer under the size cap, and an optional `accept`
check of the caller. Only then do blobs move, each streamed (digest verified as it
is read) into a private staging folder beside the destination: plain layers as
their title, tar+gzip layers (ORAS directory convention) unpacked through
`floe.oci.tarsafe` (regular files and folders only, under their title). Nothing
reaches the destination until `commit()`, after every blob was verified; a failure
anywhere removes the staging folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, cast

from floe.errors import GateError, UsageError
from floe.files import replace_dir
from floe.oci import tarsafe
from floe.oci.manifest import (
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    Descriptor,
    Manifest,
    parse_manifest,
)
from floe.oci.target import (
    ANNOTATION_ORAS_DIGEST,
    ANNOTATION_ORAS_UNPACK,
    VerifyingReader,
    verified,
)

MAX_PATH_DEPTH = 32  # folders in one title or tar entry
MAX_NAME_BYTES = 255  # one path component (the usual file-system limit)
MAX_PATH_BYTES = 1024  # a whole title
ORAS_DIR = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20


def unsafe(what: str, why: str) -> GateError:
    return GateError(
        "pull_unsafe_path",
        f"refusing {what[:200]!r}: {why}",
        hint="the artifact is malformed or hostile; nothing was written",
    )


def check_path(title: str) -> PurePosixPath:
    """A plain relative POSIX path inside the destination, within the length caps."""
    if not title or "\0" in title:
        raise unsafe(title, "empty name or NUL byte")
    if "\\" in title:
        raise unsafe(title, "backslashes are not allowed in paths")
    if title.startswith("/") or (len(title) > 1 and title[1] == ":"):
        raise unsafe(title, "absolute paths are not allowed")
    if len(title.encode(errors="replace")) > MAX_PATH_BYTES:
        raise unsafe(title, f"the path is over {MAX_PATH_BYTES} bytes")
    parts = title.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise unsafe(title, "empty, '.' or '..' path components are not allowed")
    if len(parts) > MAX_PATH_DEPTH:
        raise unsafe(title, f"more than {MAX_PATH_DEPTH} folders deep")
    if any(len(part.encode(errors="replace")) > MAX_NAME_BYTES for part in parts):
        raise unsafe(title, f"a path component is over {MAX_NAME_BYTES} bytes")
    return PurePosixPath(title)


def check_titles(titles: list[str]) -> None:
    """Safe, distinct titles, none both a file and a folder."""
    seen: set[str] = set()
    for title in titles:
        check_path(title)
        if title in seen:
            raise unsafe(title, "the artifact names this path twice")
        seen.add(title)
    for title in titles:
        for parent in PurePosixPath(title).parents:
            if str(parent) in seen:
                raise unsafe(title, f"{parent} is both a file and a folder")


def is_tar_layer(layer: Descriptor) -> bool:
    return layer.annotations.get(ANNOTATION_ORAS_UNPACK) == "true" or layer.media_type == ORAS_DIR


class FileStore:
    """A write-once Target: one artifact's titled layers, staged, then swapped into `out_dir`."""

    def __init__(
        self,
        out_dir: Path,
        *,
        max_blob_size: int,
        accept: Callable[[Descriptor, Manifest], None] | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.max_blob_size = max_blob_size
        self.accept = accept
        self.manifest: Manifest | None = None
        self.files: dict[str, Descriptor] = {}  # relative path written -> its layer
        self._plan: dict[str, list[Descriptor]] = {}  # digest -> titled layers with it
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self._staging: Path | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> FileStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    @property
    def staging(self) -> Path:
        if self._staging is None:
            self.out_dir.parent.mkdir(parents=True, exist_ok=True)
            parent = self.out_dir.parent
            self._staging = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.tmp-", dir=parent))
            self._staging.chmod(0o755)
        return self._staging

    def commit(self) -> None:
        """Every planned blob arrived verified: swap the staging folder into place."""
        missing = sorted(set(self._plan) - self._done)
        if self.manifest is None or missing:
            raise GateError(
                "blob_not_found",
                f"{self.describe()}: the artifact was not fully copied "
                f"({len(missing)} layers missing)",
            )
        replace_dir(self.staging, self.out_dir)
        self._staging = None

    def discard(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    # ---- ManifestGate ------------------------------------------------------------------

    def admit(self, desc: Descriptor, manifest: Manifest) -> list[Descriptor]:
        if self.manifest is not None:
            raise UsageError("target_read_only", f"{self.describe()} holds one artifact only")
        if self.accept is not None:
            self.accept(desc, manifest)
        titled = [layer for layer in manifest.layers if layer.title is not None]
        check_titles([cast(str, layer.title) for layer in titled])
        for layer in titled:
            if layer.size > self.max_blob_size:
                raise GateError(
                    "pull_too_large",
                    f"{layer.title} is {layer.size} bytes, over the {self.max_blob_size}-byte "
                    "limit",
                    hint="raise the limit only for artifacts you trust",
                )
        for layer in titled:
            self._plan.setdefault(layer.digest, []).append(layer)
        self.manifest = manifest
        _ = self.staging  # created now, before blobs move in parallel
        return [layers[0] for layers in self._plan.values()]

    # ---- Target ------------------------------------------------------------------------

    def describe(self) -> str:
        return f"folder {self.out_dir}"

    def resolve(self, reference: str) -> Descriptor:
        raise UsageError("reference_not_found", f"{self.describe()} has no tags")

    def exists(self, desc: Descriptor) -> bool:
        return False  # a fresh staging folder holds nothing yet

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        if desc.media_type in MANIFEST_MEDIA_TYPES:
            self._push_manifest(desc, stream)
            return
        layers = self._plan.get(desc.digest)
        if not layers:
            raise UsageError("target_read_only", f"{self.describe()} did not ask for {desc.digest}")
        reader = verified(stream, desc)  # hashed once, here or by the source
        first, *others = layers
        self._write(first, reader)
        while reader.read(CHUNK):  # e.g. a tar's trailing data: the digest covers it
            pass
        for layer in others:
            self._copy_from(first, layer)
        with self._lock:
            self._done.add(desc.digest)

    def _push_manifest(self, desc: Descriptor, stream: IO[bytes]) -> None:
        if desc.media_type in INDEX_MEDIA_TYPES:
            raise GateError(
                "artifact_manifest_invalid",
                f"{desc.digest} is an index; a folder holds one image manifest",
            )
        if desc.size > MAX_MANIFEST_BYTES:
            raise GateError("pull_too_large", f"manifest {desc.digest} is over 4 MiB")
        data = VerifyingReader(stream, desc).read()
        if self.manifest is None:
            self.admit(desc, parse_manifest(data, desc.digest))

    def _write(self, layer: Descriptor, stream: IO[bytes]) -> None:
        title = cast(str, layer.title)
        if is_tar_layer(layer):
            self._unpack(layer, title, stream)
            return
        dest = self.staging.joinpath(*title.split("/"))
        dest.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(dest) as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        self._record(title, layer)

    def _unpack(self, layer: Descriptor, title: str, stream: IO[bytes]) -> None:
        limits = tarsafe.TarLimits(max_inflated=self.max_blob_size)

        def visit(member: tarfile.TarInfo, data: IO[bytes] | None) -> None:
            name = _member_name(member, title)
            dest = self.staging.joinpath(*name.split("/"))
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                return
            dest.parent.mkdir(parents=True, exist_ok=True)
            with _exclusive(dest) as out:
                shutil.copyfileobj(cast(IO[bytes], data), out, CHUNK)
            self._record(name, layer)

        digest = tarsafe.extract(stream, title, visit, limits)
        expected = layer.annotations.get(ANNOTATION_ORAS_DIGEST)
        if expected and expected != digest:
            raise GateError(
                "pull_digest_mismatch",
                f"{title}: unpacked tar does not match {ANNOTATION_ORAS_DIGEST}",
                hint="the artifact is corrupt or tampered with; nothing was written",
            )

    def _copy_from(self, first: Descriptor, layer: Descriptor) -> None:
        """The same blob under a second title: unpack or copy it again from the first."""
        src = self.staging.joinpath(*cast(str, first.title).split("/"))
        if is_tar_layer(first) or is_tar_layer(layer):
            raise unsafe(str(src.name), "one tar layer listed under two titles")
        with src.open("rb") as handle:
            self._write(layer, handle)

    def _record(self, name: str, layer: Descriptor) -> None:
        with self._lock:
            self.files[name] = layer

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        raise GateError("blob_not_found", f"{self.describe()} is write-only")

    @contextlib.contextmanager
    def fetch(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        raise GateError("blob_not_found", f"{self.describe()} is write-only")
        yield  # pragma: no cover

    def tag(self, desc: Descriptor, tag: str) -> None:
        return None  # a folder has no tags; the artifact is the folder

    def tags(self) -> list[str]:
        return []

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        return []


def _member_name(member: tarfile.TarInfo, title: str) -> str:
    name = member.name.rstrip("/") if member.isdir() else member.name
    if member.issym() or member.islnk():
        raise unsafe(member.name, "links are not allowed in artifacts")
    if not (member.isfile() or member.isdir()):
        raise unsafe(member.name, "only regular files and folders are allowed")
    check_path(name)
    if name != title and not name.startswith(title + "/"):
        raise unsafe(member.name, f"tar entries must be inside {title}/")
    return name


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[IO[bytes]]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise unsafe(str(path.name), "the artifact writes this path twice") from None
    with os.fdopen(fd, "wb") as out:
        yield out
