"""A bounded reader for tar+gzip layers: every header checked before anything parses it.

Python's tarfile parses pax headers quadratically (CVE-2024-6232 in the 3.11 here), reads
a pax header of any size into memory and follows GNU extensions nobody needs; a gzip of
zeros inflates without end. This reader parses the 512-byte headers itself and refuses,
with `pull_layer_invalid` (exit 1), before the work is done:

- more than MAX_MEMBERS entries, a pax/GNU long-name record over MAX_HEADER_BYTES,
  a name over MAX_NAME_BYTES;
- (`pull_too_large`) more than `max_bytes` inflated in total (headers, padding and
  trailing data included), or a compression ratio over MAX_RATIO past RATIO_FLOOR bytes;
- anything but regular files and folders (links, devices, fifos; pax globals are skipped);
- a gzip that is truncated or not gzip, a tar that is not a tar, trailing non-zero data.

Only `path` and `size` of a pax record are honoured (the rest is metadata floe ignores).
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from floe.errors import GateError

BLOCK = 512
MAX_MEMBERS = 10_000
MAX_HEADER_BYTES = 64 * 1024  # one pax record set or GNU long name
MAX_NAME_BYTES = 4096
MAX_RATIO = 200  # inflated / compressed bytes; real trees of JSON stay far below
RATIO_FLOOR = 4 * 1024 * 1024  # small layers may compress better than that
MAX_TRAILING = 1024 * 1024  # zero padding after the end-of-archive blocks
CHUNK = 1 << 20


def _bad(title: str, why: str) -> GateError:
    return GateError(
        "pull_layer_invalid",
        f"{title}: {why}",
        hint="the artifact is malformed or hostile; nothing was written",
    )


def _too_large(title: str, why: str) -> GateError:
    return GateError(
        "pull_too_large", f"{title}: {why}", hint="raise the limit only for artifacts you trust"
    )


@dataclass(frozen=True)
class Member:
    name: str
    kind: str  # file | dir | link | other
    size: int


class _Inflater:
    """gzip with a cap on inflated bytes and on the compression ratio; hashes what it reads."""

    def __init__(self, stream: IO[bytes], title: str, max_bytes: int) -> None:
        self._counted = _CountingReader(stream)
        self._gzip = gzip.GzipFile(fileobj=self._counted, mode="rb")  # type: ignore[call-overload]
        self.title, self.max_bytes, self.total = title, max_bytes, 0
        self.hash = hashlib.sha256()

    def read(self, size: int) -> bytes:
        try:
            data: bytes = self._gzip.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise _bad(self.title, f"not a complete gzip stream ({type(exc).__name__})") from None
        self.total += len(data)
        if self.total > self.max_bytes:
            raise _too_large(self.title, f"unpacked size exceeds the {self.max_bytes}-byte limit")
        if self.total > RATIO_FLOOR and self.total > MAX_RATIO * max(self._counted.count, 1):
            raise _too_large(self.title, f"compression ratio over {MAX_RATIO}:1 (a gzip bomb)")
        self.hash.update(data)
        return data

    def exactly(self, size: int) -> bytes:
        parts, left = [], size
        while left:
            data = self.read(min(left, CHUNK))
            if not data:
                raise _bad(self.title, "the tar ends inside an entry")
            parts.append(data)
            left -= len(data)
        return b"".join(parts)


class _CountingReader:
    def __init__(self, stream: IO[bytes]) -> None:
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def _octal(field: bytes, title: str) -> int:
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    if field[0] & 0x80:  # GNU base-256: only for sizes floe would refuse anyway
        raise _bad(title, "tar header uses a base-256 number")
    try:
        return int(text, 8)
    except ValueError:
        raise _bad(title, "tar header has a malformed number") from None


def _checksum_ok(header: bytes, title: str) -> bool:
    stored = _octal(header[148:156], title)
    return stored == sum(header[:148]) + 8 * 32 + sum(header[156:])


def _pax(data: bytes, title: str) -> dict[str, str]:
    """`LEN key=value\\n` records; only path and size matter."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos, pos + 12)
        if space < 0:
            raise _bad(title, "malformed pax record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise _bad(title, "malformed pax record length") from None
        record = data[pos : pos + length]
        if length <= space - pos or not record.endswith(b"\n") or b"=" not in record:
            raise _bad(title, "malformed pax record")
        key, _, value = record[space - pos + 1 : -1].partition(b"=")
        if key in (b"path", b"size"):
            out[key.decode("ascii")] = value.decode("utf-8", "strict")
        pos += length
    return out


def _skip_padding(source: _Inflater, size: int) -> None:
    if size % BLOCK:
        source.exactly(BLOCK - size % BLOCK)


def _long_record(source: _Inflater, size: int, title: str) -> bytes:
    if size > MAX_HEADER_BYTES:
        raise _bad(title, f"a tar header record of {size} bytes (limit {MAX_HEADER_BYTES})")
    data = source.exactly(size)
    _skip_padding(source, size)
    return data


def members(source: _Inflater, title: str) -> Iterator[tuple[Member, _Inflater]]:
    """Each regular file or folder; the caller reads `member.size` bytes before the next."""
    count, pending_pax, pending_name = 0, {}, None
    while True:
        header = source.read(BLOCK)
        if len(header) < BLOCK:
            raise _bad(title, "the tar ends without its end-of-archive blocks")
        if header == bytes(BLOCK):
            _check_trailing(source, title)
            return
        if not _checksum_ok(header, title):
            raise _bad(title, "not a tar archive (bad header checksum)")
        kind, size = header[156:157], _octal(header[124:136], title)
        if kind in (b"x", b"g", b"L"):
            record = _long_record(source, size, title)
            if kind == b"x":
                pending_pax = _pax(record, title)
            elif kind == b"L":
                pending_name = record.rstrip(b"\0").decode("utf-8", "replace")
            continue
        count += 1
        if count > MAX_MEMBERS:
            raise _bad(title, f"more than {MAX_MEMBERS} entries")
        name = pending_pax.get("path") or pending_name or _ustar_name(header)
        if "size" in pending_pax:
            size = _pax_size(pending_pax["size"], title)
        pending_pax, pending_name = {}, None
        if len(name.encode()) > MAX_NAME_BYTES:
            raise _bad(title, f"an entry name over {MAX_NAME_BYTES} bytes")
        if kind not in (b"0", b"\0", b"5"):
            # The caller refuses links, devices and fifos: the generator ends here.
            yield Member(name, "link" if kind in (b"1", b"2") else "other", 0), source
            return
        if kind == b"5":
            yield Member(name.rstrip("/"), "dir", 0), source
            source.exactly(size + (-size % BLOCK))  # a folder has no data; skip any
        else:
            yield Member(name, "file", size), source
            _skip_padding(source, size)


def _pax_size(text: str, title: str) -> int:
    if not text.isdigit():
        raise _bad(title, "malformed pax size")
    return int(text)


def _ustar_name(header: bytes) -> str:
    name = header[0:100].split(b"\0", 1)[0]
    if header[257:262] == b"ustar":
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return name.decode("utf-8", "replace")


def _check_trailing(source: _Inflater, title: str) -> None:
    """After the end-of-archive block only zero padding, and not much of it."""
    seen = 0
    while data := source.read(CHUNK):
        if data.strip(b"\0"):
            raise _bad(title, "data after the end of the tar archive")
        seen += len(data)
        if seen > MAX_TRAILING:
            raise _bad(title, f"over {MAX_TRAILING} bytes of padding after the tar archive")


def open_layer(stream: IO[bytes], title: str, max_bytes: int) -> _Inflater:
    return _Inflater(stream, title, max_bytes)
