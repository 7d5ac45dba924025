"""Signature documents from a registry are hostile: parse them once, with limits.

Every reader of a bundle, a referrer manifest, a `.sig` manifest or a simple-signing
payload goes through `load_object` and the typed getters here, so a malformed shape
(a number where an object belongs, a list of annotations, 100k-deep JSON, a 50 MB
payload) is one `signature_invalid` GateError (exit 1), never another exception.
"""

from __future__ import annotations

import json
from typing import Any

from floe.errors import FloeError, GateError
from floe.oci.target import Descriptor

SLUG = "signature_invalid"
MAX_DOCUMENT_BYTES = 4 << 20  # a bundle or signature manifest; real ones are a few KiB
MAX_DEPTH = 32  # bundles nest about 6 deep
MAX_ITEMS = 256  # layers, signatures, subjects, certificates
MAX_ANNOTATIONS = 256


def invalid(what: str, problem: str) -> GateError:
    return GateError(SLUG, f"malformed {what}: {problem}")


def load_object(raw: bytes, what: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> dict[str, Any]:
    """A JSON object, at most `max_bytes` long and `MAX_DEPTH` deep."""
    if len(raw) > max_bytes:
        raise invalid(what, f"{len(raw)} bytes is over the {max_bytes}-byte limit")
    _check_depth(raw, what)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid(what, f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(doc, dict):
        raise invalid(what, "not a JSON object")
    return doc


def _check_depth(raw: bytes, what: str) -> None:
    """Refuse deep nesting before the JSON parser recurses (strings are skipped)."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x7B, 0x5B):
            depth += 1
            if depth > MAX_DEPTH:
                raise invalid(what, f"nested deeper than {MAX_DEPTH} levels")
        elif byte in (0x7D, 0x5D):
            depth -= 1


def obj(doc: dict[str, Any], key: str, what: str, *, required: bool = True) -> dict[str, Any]:
    value = doc.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise invalid(what, f"{key!r} must be an object")
    return value


def string(doc: dict[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise invalid(what, f"{key!r} must be a string")
    return value


def array(doc: dict[str, Any], key: str, what: str, *, required: bool = True) -> list[Any]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise invalid(what, f"{key!r} must be a list")
    if len(value) > MAX_ITEMS:
        raise invalid(what, f"{key!r} has {len(value)} items, over the limit of {MAX_ITEMS}")
    return value


def annotation_map(doc: dict[str, Any], what: str) -> dict[str, str]:
    """`annotations`: an object of strings (absent = empty)."""
    value = obj(doc, "annotations", what, required=False)
    if len(value) > MAX_ANNOTATIONS:
        raise invalid(what, f"{len(value)} annotations, over the limit of {MAX_ANNOTATIONS}")
    if not all(isinstance(v, str) for v in value.values()):
        raise invalid(what, "annotation values must be strings")
    return dict(value)


def objects(items: list[Any], what: str) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise invalid(what, "every item must be an object")
    return items


def descriptor(item: dict[str, Any], what: str) -> Descriptor:
    """An OCI descriptor from a hostile document: any flaw is `signature_invalid` (exit 1)."""
    try:
        return Descriptor.from_json(item)
    except FloeError as exc:  # a bad digest is a UsageError there; here it is the artifact's
        raise invalid(what, exc.message) from None


def descriptors(doc: dict[str, Any], key: str, what: str) -> list[Descriptor]:
    return [descriptor(item, what) for item in objects(array(doc, key, what, required=False), what)]
