"""Typed OCI documents: `Descriptor`, `Manifest` and `Index`, parsed once from bytes.

Every manifest or index floe reads from a registry, a layout or memory goes through
`parse_document` (or `parse_manifest` / `parse_index`) before anything uses it. The
parser is hand-written (no pydantic on the pull path) and bounded: document size,
JSON nesting depth (checked before `json.loads` runs, so a 100k-deep document costs
one linear pass and never a RecursionError), descriptor and annotation counts,
string lengths, media-type and digest syntax. Every malformed shape is one error:
`artifact_manifest_invalid` (GateError, exit 1: the artifact is bad).

`Manifest.kind` / `Index.kind` is the one place that derives an artifact's type
(`artifactType`, else the config's media type).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from floe.errors import GateError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_MEDIA_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
IMAGE_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST)

# Limits (docs/security.md). Real floe artifacts sit far below every one of them.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # registries refuse bigger manifests (distribution: 4 MiB)
MAX_JSON_DEPTH = 16  # a manifest nests 4 levels (manifest > layers > descriptor > annotations)
MAX_DESCRIPTORS = 10_000  # layers of one manifest or manifests of one index
MAX_ANNOTATIONS = 256  # per descriptor or document
MAX_ANNOTATION_KEY = 256  # bytes of an annotation key
MAX_ANNOTATION_VALUE = 64 * 1024  # a cosign certificate chain fits; a megabyte blob does not
MAX_TOTAL_SIZE = 1 << 53  # descriptor sizes are JSON integers; beyond 2^53 is not a real blob

# RFC 6838 names (type/subtype) are what registries send; printable ASCII without
# spaces, at most 255 characters, is what is accepted (some tools write bare names).
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][!-~]{0,254}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _invalid(where: str, why: str) -> GateError:
    return GateError(
        "artifact_manifest_invalid",
        f"{where}: {why}",
        hint="the artifact is malformed or hostile; nothing was written",
    )


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a blob or manifest is, by digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    artifact_type: str | None = field(default=None, compare=False, hash=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    @classmethod
    def from_json(cls, data: Any, where: str = "descriptor") -> Descriptor:
        """A descriptor from decoded JSON, checked like every other field (GateError)."""
        if not isinstance(data, dict):
            raise _invalid(where, "a descriptor is not a JSON object")
        digest = _digest(data.get("digest"), where)
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_TOTAL_SIZE:
            raise _invalid(where, f"descriptor {digest} has a bad size")
        return cls(
            media_type=_media_type(data.get("mediaType"), where),
            digest=digest,
            size=size,
            annotations=_annotations(data.get("annotations"), where),
            artifact_type=_optional_media_type(data.get("artifactType"), where),
        )

    @classmethod
    def for_bytes(
        cls,
        media_type: str,
        data: bytes,
        annotations: dict[str, str] | None = None,
        artifact_type: str | None = None,
    ) -> Descriptor:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return cls(media_type, digest, len(data), dict(annotations or {}), artifact_type)

    @property
    def hex(self) -> str:
        return self.digest.split(":", 1)[1]

    @property
    def title(self) -> str | None:
        return self.annotations.get("org.opencontainers.image.title")


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI or Docker v2): a config and layers, maybe a subject."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kind(self) -> str:
        """The artifact's type: `artifactType`, else the config's media type."""
        return self.artifact_type or self.config.media_type

    def blobs(self) -> list[Descriptor]:
        """Config and layers, each digest once, in manifest order."""
        seen: dict[str, Descriptor] = {}
        for blob in (self.config, *self.layers):
            seen.setdefault(blob.digest, blob)
        return list(seen.values())


@dataclass(frozen=True)
class Index:
    """An image index (OCI or Docker manifest list): child manifests."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kind(self) -> str | None:
        return self.artifact_type


def load_json(data: bytes, where: str) -> Any:
    """JSON bytes -> value, refusing oversize or too-deep documents before decoding."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise _invalid(where, f"the document is over {MAX_MANIFEST_BYTES} bytes")
    check_depth(data, where)
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise _invalid(where, "not valid JSON") from None


def check_depth(data: bytes, where: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse nesting deeper than `limit`: strings out, then peel innermost pairs.

    Linear passes in C (at most `limit` of them); no recursion, whatever the input.
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return
        peeled = _EMPTY_PAIR.sub(b"", brackets)
        if peeled == brackets:
            return  # unbalanced: json.loads reports it
        brackets = peeled
    if brackets:
        raise _invalid(where, f"JSON nested deeper than {limit} levels")


def parse_document(data: bytes, desc: Descriptor) -> Manifest | Index:
    """Manifest or index bytes fetched for `desc` (its media type picks the shape)."""
    if desc.media_type in INDEX_MEDIA_TYPES:
        return parse_index(data, desc.digest)
    return parse_manifest(data, desc.digest)


def parse_manifest(data: bytes, where: str) -> Manifest:
    return manifest_from(_document(data, where, IMAGE_MEDIA_TYPES), where)


def manifest_from(doc: dict[str, Any], where: str) -> Manifest:
    """A Manifest from a JSON object already loaded (and shape-checked at its top)."""
    config = Descriptor.from_json(doc.get("config"), f"{where} config")
    return Manifest(
        media_type=str(doc.get("mediaType") or OCI_MANIFEST),
        config=config,
        layers=_descriptors(doc.get("layers"), f"{where} layers"),
        artifact_type=_optional_media_type(doc.get("artifactType"), where),
        subject=_subject(doc, where),
        annotations=_annotations(doc.get("annotations"), where),
    )


def parse_index(data: bytes, where: str) -> Index:
    return index_from(_document(data, where, INDEX_MEDIA_TYPES), where)


def index_from(doc: dict[str, Any], where: str) -> Index:
    """An Index from a JSON object already loaded (and shape-checked at its top)."""
    return Index(
        media_type=str(doc.get("mediaType") or OCI_INDEX),
        manifests=_descriptors(doc.get("manifests"), f"{where} manifests"),
        artifact_type=_optional_media_type(doc.get("artifactType"), where),
        subject=_subject(doc, where),
        annotations=_annotations(doc.get("annotations"), where),
    )


def _document(data: bytes, where: str, media_types: tuple[str, ...]) -> dict[str, Any]:
    doc = load_json(data, where)
    if not isinstance(doc, dict):
        raise _invalid(where, "not a JSON object")
    return check_top(doc, where, media_types)


def check_top(doc: dict[str, Any], where: str, media_types: tuple[str, ...]) -> dict[str, Any]:
    """schemaVersion 2 and a known mediaType (when given): the document's top level."""
    if doc.get("schemaVersion") != 2 or isinstance(doc.get("schemaVersion"), bool):
        raise _invalid(where, "schemaVersion is not 2")
    media_type = doc.get("mediaType")
    if media_type is not None and media_type not in media_types:
        raise _invalid(where, f"unexpected mediaType {str(media_type)[:80]!r}")
    return doc


def _descriptors(value: Any, where: str) -> tuple[Descriptor, ...]:
    if not isinstance(value, list):
        raise _invalid(where, "not a list of descriptors")
    if len(value) > MAX_DESCRIPTORS:
        raise _invalid(where, f"more than {MAX_DESCRIPTORS} descriptors")
    return tuple(Descriptor.from_json(item, where) for item in value)


def _subject(doc: dict[str, Any], where: str) -> Descriptor | None:
    if "subject" not in doc or doc["subject"] is None:
        return None
    return Descriptor.from_json(doc["subject"], f"{where} subject")


def _digest(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise _invalid(where, "a digest is not sha256:<64 lowercase hex>")
    return value


def _media_type(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _MEDIA_TYPE.fullmatch(value):
        raise _invalid(where, "a mediaType is not a short printable name")
    return value


def _optional_media_type(value: Any, where: str) -> str | None:
    return None if value is None or value == "" else _media_type(value, where)


def _annotations(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(where, "annotations are not a JSON object")
    if len(value) > MAX_ANNOTATIONS:
        raise _invalid(where, f"more than {MAX_ANNOTATIONS} annotations")
    for key, text in value.items():
        if not isinstance(text, str):
            raise _invalid(where, "an annotation value is not a string")
        if len(key.encode(errors="replace")) > MAX_ANNOTATION_KEY:
            raise _invalid(where, f"an annotation key is over {MAX_ANNOTATION_KEY} bytes")
        if len(text.encode(errors="replace")) > MAX_ANNOTATION_VALUE:
            raise _invalid(where, f"annotation {key[:60]!r} is over {MAX_ANNOTATION_VALUE} bytes")
    return dict(value)
