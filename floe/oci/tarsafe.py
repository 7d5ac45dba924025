"""Bounded, fail-closed extraction of tar+gzip layers.

The gzip stream is inflated here (zlib, bounded output per call), and every raw
512-byte tar header is read and checked HERE, before Python's tarfile parser sees
its bytes: member count, extended header sizes (GNU long names, pax records: the
CVE-2024-6232 quadratic parse never gets a big header), link, device and sparse
entries refused, a pax `size` override refused (it would desynchronise this check
from the parser). Inflated bytes are counted including tar padding and anything
after the end-of-archive marker, and the inflation ratio is capped. A gzip that is
not a tar, a truncated gzip or trailing garbage is `pull_layer_invalid` (exit 1).
"""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from floe.errors import GateError

MAX_MEMBERS = 10_000  # entries in one layer (floe packs a folder of >512 files; 20x headroom)
MAX_EXTENDED_HEADER = 16 * 1024  # bytes of one pax record set or GNU long name
MAX_INFLATED = 256 * 1024 * 1024  # inflated bytes of one layer, padding and trailing data too
MAX_RATIO = 200  # inflated / compressed bytes, checked once past RATIO_FLOOR
RATIO_FLOOR = 16 * 1024 * 1024  # small layers may compress better than MAX_RATIO (zeros)
CHUNK = 1 << 16
BLOCK = 512

_REGULAR = (b"0", b"\0", b"7")  # 7: contiguous file, read as regular by tarfile
_ALLOWED = (*_REGULAR, b"5", b"x", b"L")  # files, folders, pax and GNU long-name headers


def layer_invalid(title: str, why: str) -> GateError:
    return GateError(
        "pull_layer_invalid",
        f"{title}: {why}",
        hint="the artifact is malformed or hostile; nothing was written",
    )


def layer_too_large(title: str, why: str) -> GateError:
    return GateError(
        "pull_too_large",
        f"{title}: {why}",
        hint="the artifact is malformed or hostile (raise limits only for artifacts you trust)",
    )


def _unsafe_entry(title: str, why: str) -> GateError:
    return GateError(
        "pull_unsafe_path",
        f"{title}: {why}",
        hint="the artifact is malformed or hostile; nothing was written",
    )


@dataclass(frozen=True)
class TarLimits:
    max_members: int = MAX_MEMBERS
    max_extended_header: int = MAX_EXTENDED_HEADER
    max_inflated: int = MAX_INFLATED
    max_ratio: int = MAX_RATIO


class _Inflater:
    """gzip member(s) -> bytes, bounded per call; counts compressed and inflated bytes."""

    def __init__(self, raw: IO[bytes], title: str, limits: TarLimits) -> None:
        self.raw, self.title, self.limits = raw, title, limits
        self.zlib = zlib.decompressobj(wbits=31)
        self.pending = b""
        self.compressed = 0
        self.inflated = 0
        self.in_member = False  # input fed to a gzip member that has not ended yet
        self.done = False

    def read(self, size: int) -> bytes:
        while not self.done:
            if not self.pending:
                self.pending = self.raw.read(CHUNK)
                self.compressed += len(self.pending)
                if not self.pending:
                    self.done = True
                    if self.in_member or not self.compressed:
                        raise layer_invalid(self.title, "the gzip stream is truncated or empty")
                    return b""
            self.in_member = True
            out = self._inflate(self.pending, max(1, size))
            if out:
                return out
        return b""

    def _inflate(self, data: bytes, size: int) -> bytes:
        try:
            out = self.zlib.decompress(data, size)
        except zlib.error:
            raise layer_invalid(self.title, "not a valid gzip stream") from None
        self.pending = self.zlib.unconsumed_tail
        if self.zlib.eof:
            rest = self.zlib.unused_data + self.pending
            if rest and not rest.startswith(b"\x1f\x8b"):
                raise layer_invalid(self.title, "data after the end of the gzip stream")
            self.zlib = zlib.decompressobj(wbits=31)  # another gzip member may follow
            self.pending = rest
            self.in_member = False
        self._count(len(out))
        return out

    def _count(self, n: int) -> None:
        self.inflated += n
        if self.inflated > self.limits.max_inflated:
            raise layer_too_large(
                self.title, f"inflates to more than {self.limits.max_inflated} bytes"
            )
        if self.inflated > RATIO_FLOOR and self.inflated > self.compressed * self.limits.max_ratio:
            raise layer_too_large(
                self.title, f"compression ratio over {self.limits.max_ratio}:1 (a gzip bomb)"
            )


class TarGuard:
    """The inflated tar stream as tarfile reads it, every raw header checked first."""

    def __init__(self, raw: IO[bytes], title: str, limits: TarLimits | None = None) -> None:
        self.limits = limits or TarLimits()
        self.title = title
        self.inflater = _Inflater(raw, title, self.limits)
        self.hash = hashlib.sha256()  # of the whole uncompressed tar (oras content digest)
        self.members = 0
        self._header = b""  # bytes of the header block being collected
        self._skip = 0  # data bytes (with padding) still to pass before the next header
        self._pax: bytearray | None = None  # payload of a pax header being collected
        self._pax_left = 0  # pax payload bytes still to collect (the rest is padding)
        self._ended = False  # a zero block was seen: the rest is end marker or trailer

    def read(self, size: int = -1) -> bytes:
        data = self.inflater.read(CHUNK if size is None or size < 0 else size)
        if data:
            self.hash.update(data)
            self._observe(data)
        return data

    def drain(self) -> None:
        """Read to the end (padding, trailing data): counted, capped and hashed."""
        while self.read(CHUNK):
            pass

    def _observe(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._ended:
                return
            if self._skip:
                step = min(self._skip, len(view))
                if self._pax is not None:
                    take = min(step, self._pax_left)
                    self._pax += view[:take]
                    self._pax_left -= take
                self._skip -= step
                view = view[step:]
                if not self._skip and self._pax is not None:
                    self._check_pax(bytes(self._pax))
                    self._pax = None
                continue
            need = BLOCK - len(self._header)
            self._header += view[:need]
            view = view[need:]
            if len(self._header) == BLOCK:
                self._check_header(self._header)
                self._header = b""

    def _check_header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._ended = True
            return
        if not _checksum_ok(block):
            raise layer_invalid(self.title, "not a valid tar archive (bad header checksum)")
        kind = block[156:157]
        if kind not in _ALLOWED:
            raise _unsafe_entry(self.title, f"tar entry type {kind!r} is not a file or folder")
        size = self._size(block[124:136])
        if kind in (b"x", b"L") and size > self.limits.max_extended_header:
            raise layer_invalid(
                self.title,
                f"a tar extended header of {size} bytes (limit {self.limits.max_extended_header})",
            )
        if kind not in (b"x", b"L"):
            self.members += 1
            if self.members > self.limits.max_members:
                raise layer_too_large(self.title, f"more than {self.limits.max_members} entries")
        self._skip = (size + BLOCK - 1) // BLOCK * BLOCK
        self._pax = bytearray() if kind == b"x" and size else None
        self._pax_left = size

    def _check_pax(self, payload: bytes) -> None:
        for record in payload.split(b"\n"):
            _, _, keyvalue = record.partition(b" ")
            key = keyvalue.split(b"=", 1)[0]
            if key in (b"size", b"GNU.sparse.size", b"GNU.sparse.map", b"linkpath"):
                raise layer_invalid(self.title, f"pax record {key.decode(errors='replace')!r}")

    def _size(self, field: bytes) -> int:
        if field[:1] in (b"\x80", b"\xff"):
            raise layer_invalid(self.title, "a base-256 tar size (over 8 GiB)")
        text = field.rstrip(b"\0 ").lstrip(b" ")
        if not text or any(c not in b"01234567" for c in text):
            if not text:
                return 0
            raise layer_invalid(self.title, "a tar header with a malformed size")
        return int(text, 8)


def _checksum_ok(block: bytes) -> bool:
    field = block[148:156].rstrip(b"\0 ").lstrip(b" ")
    if not field or any(c not in b"01234567" for c in field):
        return False
    stored = int(field, 8)
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    signed = unsigned - sum(256 for c in block[:148] + block[156:] if c > 127)
    return stored in (unsigned, signed)


def extract(
    raw: IO[bytes],
    title: str,
    visit: Callable[[tarfile.TarInfo, IO[bytes] | None], None],
    limits: TarLimits | None = None,
) -> str:
    """Stream the tar+gzip in `raw`; `visit(member, data)` for each entry (data for files).

    Returns the sha256 digest of the uncompressed tar. Every malformed shape raises
    `pull_layer_invalid`; `visit` raises for names it refuses.
    """
    guard = TarGuard(raw, title, limits)
    try:
        with tarfile.open(fileobj=guard, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                visit(member, tar.extractfile(member) if member.isfile() else None)
    except (tarfile.TarError, EOFError, UnicodeError, ValueError):
        raise layer_invalid(title, "not a valid tar archive") from None
    guard.drain()
    return "sha256:" + guard.hash.hexdigest()
