"""A downloaded tree's verdict without building a pydantic schema (issue #15).

`check_download` gives the verdict of `parse_tree` on a tree from a registry: a plain,
strict walk of the models' declared fields (`model_fields`, read without a schema build)
accepts only what pydantic accepts too: exact JSON types (no coercion: "1" is not an int,
1 is not a bool), no unknown key, every required key, the `pattern` / `ge` / `le` limits,
no duplicate key, no NaN or infinity, integers within 64 bits, strings of valid UTF-8.
Anything it does not accept goes to `parse_tree`, whose refusal (slug and message) is
the answer: a hostile tree is refused exactly as before, a valid one costs no schema build.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from typing import Any, Literal

from floe.tree import model as t

_I64 = 1 << 63


class _Reject(Exception):
    """The plain walk cannot vouch for this value: pydantic decides."""


def check_download(files: dict[str, bytes], origin: str = "platform tree") -> str:
    """The tree's content digest after the checks of `parse_tree` (same refusals)."""
    t._check_file_set(files, origin)
    try:
        manifest = _plain_tree(files)
    except (_Reject, RecursionError):
        return t.parse_tree(files, origin).manifest.metadata.digest
    expected = t.content_digest(files)
    digest = str(manifest["metadata"]["digest"])
    if digest != expected:
        return t.parse_tree(files, origin).manifest.metadata.digest  # raises the mismatch
    return digest


def plain_security(manifest: Any) -> dict[str, Any] | None:
    """manifest.json's `security` object when the plain walk accepts the whole manifest
    (None: let pydantic decide, and word the refusal)."""
    try:
        _object(t.PlatformManifest, manifest)
    except (_Reject, RecursionError):
        return None
    security = manifest.get("security", {})
    return dict(security)


def plain_verdict(files: dict[str, bytes]) -> bool:
    """True when the plain walk alone accepts every file's shape (for the tests)."""
    try:
        _plain_tree(files)
    except (_Reject, RecursionError):
        return False
    return True


def _plain_tree(files: dict[str, bytes]) -> dict[str, Any]:
    manifest: dict[str, Any] = {}
    for name, (field_name, model) in t._FILE_MODELS.items():
        if name not in files:
            continue
        data = _load(files[name])
        _object(model, data)
        if field_name == "manifest":
            manifest = data
    return manifest


def _no_constant(name: str) -> Any:
    raise _Reject(name)  # NaN, Infinity, -Infinity


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Reject("duplicate key")
    return out


def _load(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Reject("utf-8") from None
    if text.startswith("\ufeff"):
        raise _Reject("bom")
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except ValueError:
        raise _Reject("json") from None


def _object(model: type[Any], data: Any) -> None:
    if not isinstance(data, dict):
        raise _Reject("object")
    fields = model.model_fields
    if set(data) - set(fields):
        raise _Reject("unknown key")
    for name, info in fields.items():
        if name in data:
            value = data[name]
            _value(info.annotation, value)
            _limits(info.metadata, value)
        elif info.is_required():
            raise _Reject("missing key")


def _limits(metadata: list[Any], value: Any) -> None:
    for meta in metadata:
        kind = type(meta).__name__
        if kind == "Ge" and value >= meta.ge:
            continue
        if kind == "Le" and value <= meta.le:
            continue
        pattern = getattr(meta, "pattern", None) if kind == "_PydanticGeneralMetadata" else None
        if isinstance(pattern, str) and "\n" not in value and re.search(pattern, value):
            continue
        raise _Reject(f"limit {kind}")  # failed, or a constraint this walk does not know


def _value(annotation: Any, value: Any) -> None:
    if annotation is Any:
        _any(value)
        return
    if isinstance(annotation, type):
        _scalar_or_model(annotation, value)
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        if not any(type(value) is type(arg) and value == arg for arg in args):
            raise _Reject("literal")
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                _value(arg, value)
                return
            except _Reject:
                continue
        raise _Reject("union")
    elif origin is list and isinstance(value, list):
        for item in value:
            _value(args[0], item)
    elif origin is dict and isinstance(value, dict) and args[0] is str:
        for key, item in value.items():
            _value(str, key)
            _value(args[1], item)
    else:
        raise _Reject("shape")


def _scalar_or_model(annotation: type[Any], value: Any) -> None:
    if annotation is type(None):
        ok = value is None
    elif annotation is str:
        ok = isinstance(value, str) and _encodable(value)
    elif annotation is bool:
        ok = value is True or value is False
    elif annotation is int:
        ok = type(value) is int and -_I64 <= value < _I64
    elif annotation is float:
        ok = type(value) is float and math.isfinite(value)
    elif hasattr(annotation, "model_fields"):
        _object(annotation, value)
        return
    else:
        ok = False
    if not ok:
        raise _Reject(annotation.__name__)


def _any(value: Any) -> None:
    """JSON data of any shape: only its strings (keys too) are checked."""
    if isinstance(value, str):
        _value(str, value)
    elif isinstance(value, list):
        for item in value:
            _any(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _value(str, key)
            _any(item)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _Reject("float")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")  # a lone surrogate escape ("\\ud800") is not
    except UnicodeEncodeError:
        return False
    return True
