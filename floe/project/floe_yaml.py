"""`floe.yaml` at the root of a dbt project: which platform, and how much to trust it.

    platform:
      ref: oci://registry.example.com/floe-platform:v1.2.3
      version: "v1.2.*"          # the constraint floe init / pull resolves
    security:                    # optional; may only tighten the platform's policy
      require_signed_artifacts: true
      trusted_keys: [cosign.pub] # paths relative to floe.yaml
      trusted_identities: [{issuer: https://token.actions.githubusercontent.com, subject: ...}]

Reading validates with a strict pydantic model (unknown keys are errors with a
did-you-mean, reported as file:line). Writing changes only the `platform` block
(and, when asked, the `security` block) by replacing those lines in the text,
so every other key, the key order and the comments stay exactly as they were.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from floe.errors import UsageError
from floe.files import atomic_write
from floe.tree.model import TrustedIdentity
from floe.yaml_loader import parse_yaml_with_positions

FLOE_YAML = "floe.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformSpec(_Strict):
    ref: str  # oci://HOST/REPO:TAG or oci-layout://PATH:TAG
    version: str  # the constraint, e.g. "v1.2.*"


class SecuritySpec(_Strict):
    require_signed_artifacts: bool | None = None  # None: keep the platform's setting
    trusted_keys: list[str] = Field(default_factory=list)  # paths to PEM public keys
    trusted_identities: list[TrustedIdentity] = Field(default_factory=list)


class FloeYaml(_Strict):
    """The whole file. New top-level keys are added here (and documented in data-teams.md)."""

    apiVersion: str | None = None
    kind: str | None = None
    name: str | None = None
    platform: PlatformSpec | None = None
    security: SecuritySpec | None = None
    waivers: list[Any] | None = None  # validated by floe/project/waivers.py (file:line there)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at `loc` (a pydantic error location) in the composed YAML."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == part), None)
            if match is None:
                return line
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _did_you_mean(error: dict[str, Any], model: type[BaseModel]) -> str:
    if error["type"] != "extra_forbidden":
        return ""
    target: Any = model
    for part in error["loc"][:-1]:
        if isinstance(part, int):
            continue
        field = target.model_fields.get(part) if hasattr(target, "model_fields") else None
        annotation = getattr(field, "annotation", None)
        for arg in (annotation, *getattr(annotation, "__args__", ())):
            inner = getattr(arg, "__args__", (arg,))
            candidates = [a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)]
            if candidates:
                target = candidates[0]
                break
    names = list(getattr(target, "model_fields", {}))
    close = difflib.get_close_matches(str(error["loc"][-1]), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(names)})"


def parse_floe_yaml(text: str, path: Path) -> FloeYaml:
    try:
        data = parse_yaml_with_positions(
            text, str(path), slug="floe_yaml_invalid", require_mapping=False
        ).data  # floe.yaml_loader: limits, safe tags, duplicate keys refused
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UsageError(
            "floe_yaml_invalid",
            f"{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})",
            hint="fix the YAML syntax",
        ) from None
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError):
        # PyYAML's constructors fail this way on e.g. a malformed `!!timestamp`, deep nesting.
        raise UsageError(
            "floe_yaml_invalid",
            f"{path}: a value cannot be read (a bad explicit tag such as !!timestamp, "
            "or nesting too deep)",
            hint="fix the YAML: plain strings, numbers, lists and mappings only",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError("floe_yaml_invalid", f"{path}:1: the top level must be a mapping")
    try:
        return FloeYaml.model_validate(data)
    except ValidationError as exc:
        # An unknown key (a typo) explains the rest, so report it first.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
        loc = tuple(error["loc"])
        line = _line_of(_composed(text), loc)
        where = f"{path}:{line}" if line else str(path)
        key = ".".join(str(p) for p in loc) or "(top level)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        raise UsageError(
            "floe_yaml_invalid",
            f"{where}: {key}: {message}{_did_you_mean(dict(error), FloeYaml)}",
            hint="see docs/data-teams.md for the floe.yaml keys",
            details={"file": str(path), "line": line, "key": key},
        ) from None


def _composed(text: str) -> yaml.Node | None:
    """The YAML node tree, for the line of a validation error (only on that path: the
    text already parsed once, so this cannot fail for a new reason)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, RecursionError):
        return None


def read_floe_yaml(path: Path) -> FloeYaml | None:
    """The parsed floe.yaml, or None when the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(
            "floe_yaml_invalid",
            f"cannot read {path}: {exc.strerror}",
            hint="floe.yaml must be a readable file at the project's root",
        ) from None
    return parse_floe_yaml_bytes(data, path)


def parse_floe_yaml_bytes(data: bytes, path: Path) -> FloeYaml:
    """floe.yaml's bytes as read (UTF-8), validated."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            "floe_yaml_invalid", f"{path}: not UTF-8 text", hint="save floe.yaml as UTF-8"
        ) from None
    return parse_floe_yaml(text, path)


# ---- surgical writes ---------------------------------------------------------------

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")


def yaml_scalar(value: str) -> str:
    """A plain scalar when unambiguous (refs), else a JSON string (valid YAML)."""
    if _PLAIN_SAFE.match(value) and ": " not in value and not value.endswith(":"):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def platform_block(spec: PlatformSpec) -> list[str]:
    return [
        "platform:\n",
        f"  ref: {yaml_scalar(spec.ref)}\n",
        f"  version: {json.dumps(spec.version, ensure_ascii=False)}\n",
    ]


def security_block(spec: SecuritySpec) -> list[str]:
    lines = ["security:\n"]
    if spec.require_signed_artifacts is not None:
        lines.append(f"  require_signed_artifacts: {str(spec.require_signed_artifacts).lower()}\n")
    if spec.trusted_keys:
        lines.append("  trusted_keys:\n")
        lines.extend(f"    - {yaml_scalar(k)}\n" for k in spec.trusted_keys)
    if spec.trusted_identities:
        lines.append("  trusted_identities:\n")
        for ident in spec.trusted_identities:
            items = ident.model_dump(exclude_none=True)
            first = True
            for key, value in items.items():
                lead = "    - " if first else "      "
                lines.append(f"{lead}{key}: {yaml_scalar(str(value))}\n")
                first = False
    return lines


def _block_span(text: str, key: str) -> tuple[int, int] | None:
    """Line range [start, end) of the top-level `key:` block, or None if absent.

    Raises ValueError when the file is not a block mapping we can edit by lines.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return None
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ValueError("not a block mapping")
    for key_node, value_node in root.value:
        if key_node.value != key:
            continue
        if key_node.start_mark.column != 0:
            raise ValueError("indented top level")
        end = _last_content_line(value_node, key_node.end_mark.line)
        return key_node.start_mark.line, end + 1
    return None


def _last_content_line(node: yaml.Node, floor: int) -> int:
    """The 0-based line of the last character that belongs to `node`."""
    last = floor
    stack: list[yaml.Node] = [node]
    while stack:
        current = stack.pop()
        # Block collections end where the next token starts (after comments and blank
        # lines), so only scalars and flow collections say where the content stops.
        if isinstance(current, yaml.MappingNode) and not current.flow_style:
            for k, v in current.value:
                stack.extend((k, v))
            continue
        if isinstance(current, yaml.SequenceNode) and not current.flow_style:
            stack.extend(current.value)
            continue
        end = current.end_mark
        # An end mark at column 0 means the node ended with the previous line's newline.
        line = end.line - 1 if end.column == 0 and end.line > current.start_mark.line else end.line
        last = max(last, line)
    return last


def replace_block(text: str, key: str, block: list[str]) -> str:
    """Replace (or append) the top-level `key:` block, leaving every other line as it was."""
    try:
        span = _block_span(text, key)
    except ValueError:
        data = yaml.safe_load(text) or {}
        data[key] = yaml.safe_load("".join(block))[key]
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    if span is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines) + "".join(block)
    start, end = span
    return "".join(lines[:start] + block + lines[end:])


def _subkey_chunks(spec: SecuritySpec, indent: int) -> dict[str, list[str]]:
    """security_block's lines grouped by sub-key, re-indented to the file's indent."""
    chunks: dict[str, list[str]] = {}
    current: list[str] = []
    for line in security_block(spec)[1:]:
        if not line.startswith("   "):
            current = []
            chunks[line.strip().split(":", 1)[0]] = current
        current.append(" " * indent + line[2:])
    return chunks


def _appended_items(
    lines: list[str], name: str, node: yaml.Node, spec: SecuritySpec
) -> list[str] | None:
    """Lines for the items `spec` adds after a block list's existing ones (comments kept).

    None when the list is not a block sequence that `spec`'s list extends.
    """
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        return None
    wanted: list[Any] = list(getattr(spec, name))
    try:
        last = _last_content_line(node, node.start_mark.line)
        existing = yaml.safe_load("".join(lines[node.start_mark.line : last + 1]))
        if name == "trusted_identities":
            existing = [TrustedIdentity.model_validate(item) for item in existing]
    except (yaml.YAMLError, ValidationError, TypeError):
        return None
    if not isinstance(existing, list) or wanted[: len(existing)] != existing:
        return None
    first = node.value[0]
    dash = lines[first.start_mark.line].rfind("-", 0, first.start_mark.column)
    if dash < 0:
        return None
    extra = SecuritySpec.model_validate({name: wanted[len(existing) :]})
    items = security_block(extra)[2:]  # after `security:` and the list's own key
    return [" " * dash + line[4:] for line in items]


def update_security(text: str, spec: SecuritySpec) -> str:
    """Set the security sub-keys `spec` carries, line by line; keep the block's other lines.

    Comments and keys inside `security:` that `spec` does not set stay as they were.
    A block that is not a plain block mapping is replaced whole.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    entry = None
    if isinstance(root, yaml.MappingNode) and not root.flow_style:
        entry = next((kv for kv in root.value if kv[0].value == "security"), None)
    if entry is None:
        return replace_block(text, "security", security_block(spec))
    key_node, value = entry
    if (
        key_node.start_mark.column != 0
        or not isinstance(value, yaml.MappingNode)
        or value.flow_style
        or not value.value
    ):
        return replace_block(text, "security", security_block(spec))
    indent = value.value[0][0].start_mark.column
    block_end = _last_content_line(value, key_node.end_mark.line) + 1
    present = {k.value: (k, v) for k, v in value.value}
    edits: list[tuple[int, int, list[str]]] = []
    lines = text.splitlines(keepends=True)
    for name, chunk in _subkey_chunks(spec, indent).items():
        if name in present:
            sub_key, sub_value = present[name]
            end = _last_content_line(sub_value, sub_key.end_mark.line) + 1
            added = _appended_items(lines, name, sub_value, spec)
            if added is not None:
                edits.append((end, end, added))
            else:
                edits.append((sub_key.start_mark.line, end, chunk))
        else:
            edits.append((block_end, block_end, chunk))
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # Bottom up, so earlier line numbers stay valid; at one spot, keep the listed order.
    for _, (start, end, chunk) in sorted(enumerate(edits), key=lambda e: (e[1][0], e[0]))[::-1]:
        lines[start:end] = chunk
    return "".join(lines)


def new_floe_yaml(platform: PlatformSpec, security: SecuritySpec | None) -> str:
    text = "# floe project configuration: the platform this dbt project builds on.\n"
    text += "".join(platform_block(platform))
    if security is not None:
        text += "".join(security_block(security))
    return text


def write_floe_yaml(path: Path, platform: PlatformSpec, security: SecuritySpec | None) -> bool:
    """Write the platform (and security, when given) blocks; True when the file was new."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        atomic_write(path, new_floe_yaml(platform, security).encode("utf-8"))
        return True
    text = replace_block(text, "platform", platform_block(platform))
    if security is not None:
        text = update_security(text, security)
    parse_floe_yaml(text, path)  # never write a file we could not read back
    atomic_write(path, text.encode("utf-8"))
    return False
