"""Read dbt's `target/manifest.json` in one streamed pass, keeping only what the rules read.

A 10,000-model manifest is ~130 MB of JSON; `json.loads` of it builds ~700 MB of Python
objects, most of them never read (macros, docs, child maps, compiled code, the dozens of
config keys of every test node). Here the file is read in chunks, hashed as it is read
(the digest compiled.json reports), and each member of the top-level objects is decoded
on its own with the C decoder (`raw_decode`), slimmed to the fields the rules use, and
dropped: memory is bounded by the slim nodes, not by the file.

The result has the manifest's own shape (`{"metadata": ..., "nodes": {uid: node}, ...}`)
so `dbt_manifest.project_from_manifest` reads it as it reads dbt's in-process parse.
Malformed JSON raises `ValueError` (the caller words it as `project_invalid`).

With a `SlimCache` (compile's sealed `target/floe/manifest-cache.json`) the slim document
of the last compile is kept under the file's sha256: an unchanged manifest is only hashed
(~0.2 s for 133 MB) and its 32 MB slim form loaded, not decoded whole again (~2.5 s).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

_CHUNK = 1 << 20
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()

# Top-level members the rules read; every other member is decoded item by item and dropped.
KEPT = ("metadata", "nodes", "sources", "exposures")
# Fields of a model/snapshot/seed node the reader uses (dbt_manifest, props_reader).
_NODE_FIELDS = (
    "name",
    "version",
    "latest_version",
    "deprecation_date",
    "resource_type",
    "package_name",
    "original_file_path",
    "schema",
    "description",
    "depends_on",
    "config",
    "meta",
    "fqn",
    "refs",
    "sources",
    "constraints",
    "columns",
    "contract",
    "access",
    "group",
    "tags",
    "raw_code",
)
# Fields of a test node: what attaches it to its model and column, and its name.
_TEST_FIELDS = ("name", "version", "resource_type", "test_metadata", "attached_node", "column_name")
_SOURCE_FIELDS = (
    "name",
    "source_name",
    "original_file_path",
    "freshness",
    "description",
    "loader",
    "columns",
)
_EXPOSURE_FIELDS = ("name", "depends_on", "original_file_path")
_METADATA_FIELDS = ("generated_at", "dbt_version")


_CONFIG_FIELDS = (  # config keys the reader uses (dbt writes ~40 per node)
    "schema",
    "materialized",
    "meta",
    "grants",
    "freshness",
    "contract",
    "access",
    "group",
    "tags",
    "unique_key",
)
_COLUMN_FIELDS = ("name", "description", "data_type", "constraints", "meta", "config", "tags")


def _pick(item: dict[str, Any], names: Any) -> dict[str, Any]:
    """The `names` present in `item`, keyed by our own (shared) key strings."""
    return {name: item[name] for name in names if name in item}


def slim_node(node: Any) -> Any:
    """A node with only the fields its kind is read for (anything not a dict as is)."""
    if not isinstance(node, dict):
        return node
    kind = node.get("resource_type")
    if kind == "test":
        slim = _pick(node, _TEST_FIELDS)
        metadata = slim.get("test_metadata")
        if isinstance(metadata, dict):
            kwargs = metadata.get("kwargs")
            metadata = _pick(metadata, ("name", "namespace"))
            if isinstance(kwargs, dict) and "column_name" in kwargs:
                metadata["kwargs"] = {"column_name": kwargs["column_name"]}
            slim["test_metadata"] = metadata
    elif kind in ("model", "snapshot", "seed"):
        slim = _pick(node, _NODE_FIELDS)
        if kind == "seed":
            slim.pop("raw_code", None)
        config = slim.get("config")
        if isinstance(config, dict):
            slim["config"] = _pick(config, _CONFIG_FIELDS)
        columns = slim.get("columns")
        if isinstance(columns, dict):
            slim["columns"] = {
                name: _pick(column, _COLUMN_FIELDS) if isinstance(column, dict) else column
                for name, column in columns.items()
            }
    else:  # analyses, operations...: only what names them for depends_on
        return _pick(node, ("name", "version", "resource_type"))
    depends = node.get("depends_on")
    if isinstance(depends, dict):  # tests: their first upstream when no attached_node
        slim["depends_on"] = {"nodes": depends.get("nodes")}
    return slim


def _fields(names: tuple[str, ...]) -> Callable[[Any], Any]:
    def slim(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        return _pick(item, names)

    return slim


_SLIMMERS: dict[str, Callable[[Any], Any]] = {
    "nodes": slim_node,
    "sources": _fields(_SOURCE_FIELDS),
    "exposures": _fields(_EXPOSURE_FIELDS),
}


class _Stream:
    """A UTF-8 text buffer over a binary file, refilled on demand, hashing what it reads."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.sha = hashlib.sha256()
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self, at_least: int = _CHUNK) -> bool:
        """Append the next chunk (at least `at_least` bytes); False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(max(_CHUNK, at_least))
        self.sha.update(data)
        if not data:
            self.eof = True
        text = self.decoder.decode(data, final=not data)  # UnicodeDecodeError is a ValueError
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at byte ~{self.sha_offset()}")
        self.pos += 1

    def value(self) -> Any:
        """The next JSON value, decoded by the C decoder once it is wholly in the buffer."""
        self.peek()
        while True:
            try:
                found, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                # Incomplete (or malformed: then the end of the file says so). Grow by at
                # least the buffer so a huge value costs a linear number of retries.
                if self.more(len(self.buf) - self.pos):
                    continue
                raise
            if end >= len(self.buf) and not self.eof and self.more():
                continue  # a number at the end of the buffer may go on
            self.pos = end
            return found

    def members(self) -> Any:
        """(key, value) of the object that starts here, one member decoded at a time."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValueError("an object key is not a string")
            self.expect(":")
            yield key, self
            following = self.peek()
            self.pos += 1
            if following == "}":
                return
            if following != ",":
                raise ValueError(f"expected ',' or '}}' at byte ~{self.sha_offset()}")

    def skip(self) -> None:
        """Pass over the next value: an object member by member (one member's objects at
        a time), anything else decoded and dropped."""
        if self.peek() == "{":
            for _key, stream in self.members():
                stream.value()
        else:
            self.value()

    def sha_offset(self) -> int:
        return self.handle.tell() - (len(self.buf) - self.pos)


def read_slim(path: Path) -> tuple[dict[str, Any], str]:
    """The slim manifest of the file at `path`, and the file's `sha256:` digest.

    Raises OSError when it cannot be read, ValueError when it is not a JSON object.
    """
    manifest: dict[str, Any] = {}
    with open(path, "rb") as handle:
        stream = _Stream(handle)
        if stream.peek() != "{":
            raise ValueError("not a JSON object")
        for key, _ in stream.members():
            if key not in KEPT:
                stream.skip()
            elif key == "metadata":
                metadata = stream.value()
                if isinstance(metadata, dict):
                    metadata = _pick(metadata, _METADATA_FIELDS)
                manifest[key] = metadata
            elif stream.peek() == "{":
                slim = _SLIMMERS[key]
                manifest[key] = {name: slim(value.value()) for name, value in stream.members()}
            else:
                manifest[key] = stream.value()  # not an object: the reader says so
        if stream.peek() != "":
            raise ValueError("data after the JSON object")
        while stream.more():  # hash to the very end (white space after the object)
            pass
    return manifest, "sha256:" + stream.sha.hexdigest()


SLIM_HEADER = b"floe-slim-manifest-v1 "


class SlimCache(Protocol):
    """One body kept between compiles (sealed by the caller: a forgery is never read)."""

    def get(self) -> bytes | None: ...
    def put(self, body: bytes) -> None: ...


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def read_slim_cached(path: Path, cache: SlimCache | None) -> tuple[dict[str, Any], str]:
    """`read_slim`, or the slim document a compile of the same file (same sha256) kept."""
    if cache is None:
        return read_slim(path)
    digest = file_digest(path)
    body = cache.get()
    head = SLIM_HEADER + digest.encode() + b"\n"
    if body is not None and body.startswith(head):
        try:
            text = zlib.decompress(memoryview(body)[len(head) :]).decode("utf-8")
            del body
            kept, end = _DECODER.raw_decode(text)
            if text[end:].strip():
                raise ValueError("data after the slim document")
        except (ValueError, zlib.error):  # UnicodeDecodeError, JSONDecodeError included
            kept = None
        if isinstance(kept, dict):
            return kept, digest
    manifest, streamed = read_slim(path)  # its own digest: the file may have changed since
    cache.put(SLIM_HEADER + streamed.encode() + b"\n" + _deflated(manifest))
    return manifest, streamed


def _deflated(manifest: dict[str, Any]) -> bytes:
    """The slim document as compressed JSON, encoded member by member: a cold compile of
    10,000 models never holds its 32 MB of text, only ~3 MB compressed."""
    packer = zlib.compressobj(1)
    parts: list[bytes] = []

    def put(text: str) -> None:
        parts.append(packer.compress(text.encode("utf-8")))

    compact = json.JSONEncoder(separators=(",", ":")).encode
    put("{")
    for index, (key, value) in enumerate(manifest.items()):
        put(("," if index else "") + json.dumps(key) + ":")
        if isinstance(value, dict):
            put("{")
            for inner, (name, item) in enumerate(value.items()):
                put(("," if inner else "") + json.dumps(name) + ":" + compact(item))
            put("}")
        else:
            put(compact(value))
    put("}")
    parts.append(packer.flush())
    return b"".join(parts)
