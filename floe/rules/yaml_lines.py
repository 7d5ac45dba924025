"""Load dbt schema YAML fast, remembering the line of every mapping.

dbt projects carry a lot of YAML (10,000 models is ~200k lines) and PyYAML, even with
libyaml, needs seconds for that. Schema files use a small, regular part of YAML, so
`load_yaml` first tries a line-based parser for exactly that part: block mappings and
sequences, plain and simply quoted scalars, one-line flow collections, `|`/`>` block
scalars and comments. Anything else (anchors, tags, multi-line scalars, escapes,
merge keys, several documents, bad syntax) makes it give up and the file goes through
PyYAML instead, so the result is always what PyYAML would build (tests compare both).

Lines are 1-based and keyed by `id()` of each dict: `doc.line(mapping)`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from floe.errors import UsageError
from floe.yaml_loader import SCHEMA_LIMITS, check_yaml_limits

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass
class LinedYaml:
    data: Any
    lines: dict[int, int] = field(default_factory=dict)  # id(dict) -> line of its first key

    def line(self, mapping: object, default: int = 1) -> int:
        return self.lines.get(id(mapping), default)


def load_yaml(text: str, file: str, *, slug: str = "project_invalid") -> LinedYaml:
    """Parse one YAML document; bad YAML is a UsageError naming `file:line`."""
    try:
        return _FastParser(text).parse()
    except (_GiveUp, RecursionError):
        check_yaml_limits(text, file, slug=slug, limits=SCHEMA_LIMITS)  # floe.yaml_loader's caps
        return _load_with_pyyaml(text, file, slug)


# ---- the fallback: PyYAML's composer, converted with positions -----------------------


def _load_with_pyyaml(text: str, file: str, slug: str) -> LinedYaml:
    loader = _Loader(text)
    doc = LinedYaml(None)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Converter(loader, doc.lines).convert(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(
            slug, f"{where}: invalid YAML: {problem}", hint=f"fix the YAML syntax in {file}"
        ) from None
    finally:
        loader.dispose()
    return doc


class _Converter:
    def __init__(self, loader: yaml.SafeLoader, lines: dict[int, int]) -> None:
        self.loader = loader
        self.lines = lines
        self.memo: dict[int, Any] = {}  # anchors: one node, one object

    def convert(self, node: yaml.Node) -> Any:
        known = self.memo.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves `<<` merge keys in place
            mapping: dict[Any, Any] = {}
            self.memo[id(node)] = mapping
            self.lines[id(mapping)] = node.start_mark.line + 1
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                mapping[key] = self.convert(value_node)
            return mapping
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            self.memo[id(node)] = items
            items.extend(self.convert(item) for item in node.value)
            return items
        return self.loader.construct_object(node, deep=True)


# ---- the fast path ---------------------------------------------------------------------


class _GiveUp(Exception):
    """Not in the subset this parser handles; use PyYAML."""


_SPECIAL_START = frozenset("&*!%@`?|>")
_BAD_PLAIN_START = frozenset("&*!%@`?|>#,]}")
_NOT_SIMPLE = frozenset("\"'[{&*!%@`?|>#,]}-")  # first characters _inline must look at
_KEY_END = re.compile(r":(?:\s|$)")
_PLAIN_COMMENT = re.compile(r"\s#")
_PLAIN_STOP = re.compile(r"\s#|:(?:\s|$)")
# The usual flow list: `[not_null, unique]`.
_SIMPLE_LIST = re.compile(r"\[ *([\w.+/][\w.+/-]*(?: *, *[\w.+/][\w.+/-]*)*)? *\]$")
_UNPARSED = object()  # a key line the fast regex did not take: parse it the long way
# Plain scalars PyYAML resolves to something other than a string (bool/int/float/null/
# timestamp/merge/value), keyed by their first character; only those go through PyYAML.
_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:str"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}


# A content line: (number, indent, text, dash, key, rest). `dash` is the width of a
# leading `- ` (0: not a list item); `key` is the raw plain key or _UNPARSED, then
# `text` holds the line (after any dash) for the general path. Tuples, not objects:
# a big project has hundreds of thousands of lines.
_Line = tuple[int, int, str, int, Any, str]
_NUMBER: Final = 0
_INDENT: Final = 1
_DASH: Final = 3
# Every line, split by one C-level pass: indent, `- ` (optional), a plain `key:` with
# the rest of the line (optional), or else the remaining text. Possessive quantifiers:
# `(.*+)$` always matches, so backtracking could never help; it only costs time.
_LINES = re.compile(r"^( *+)(- ++|-$)?(?:([A-Za-z_+][\w.+/-]*+):(?: ++(.*+))?$)?(.*+)$", re.M)


class _FastParser:
    def __init__(self, text: str) -> None:
        if "\r" in text or "\t" in text:
            raise _GiveUp  # CRLF and tabs: rare in dbt YAML, subtle in YAML; PyYAML decides
        self.text = text
        self.raw: list[str] = []  # split lazily, for block scalars
        self.tokens: list[_Line] = []
        self.pos = 0
        self.lines: dict[int, int] = {}

    def parse(self) -> LinedYaml:
        self._tokenize()
        if not self.tokens:
            return LinedYaml(None)
        if self.tokens[0][_INDENT] != 0:
            raise _GiveUp
        data = self._block(0)
        if self.pos != len(self.tokens):
            raise _GiveUp
        return LinedYaml(data, self.lines)

    def _tokenize(self) -> None:
        found = _LINES.findall(self.text)
        if len(found) != self.text.count("\n") + 1:
            raise _GiveUp  # not one match per line: let PyYAML read it
        tokens = self.tokens
        append = tokens.append
        for number, (indent, dash, key, rest, other) in enumerate(found, 1):
            if key:
                if rest and rest[-1] == " ":
                    rest = rest.rstrip(" ")
                append((number, len(indent), "", len(dash), key, rest))
                continue
            if other and other[-1] == " ":
                other = other.rstrip(" ")
            if dash:
                append((number, len(indent), other, len(dash), _UNPARSED, other))
            elif other and other[0] != "#":
                if not indent and other.startswith(("---", "...", "%")):
                    if other == "---" and not tokens:
                        continue  # an explicit start of the (only) document
                    raise _GiveUp
                append((number, len(indent), other, 0, _UNPARSED, ""))

    # ---- blocks ----------------------------------------------------------------------

    def _block(self, indent: int) -> Any:
        if self.tokens[self.pos][_DASH]:
            return self._sequence(indent)
        return self._mapping(indent)

    def _mapping(self, indent: int) -> dict[Any, Any]:
        tokens = self.tokens
        count = len(tokens)
        lines = self.lines
        stop = _PLAIN_STOP.search
        resolvers = _RESOLVERS
        mapping: dict[Any, Any] = {}
        pos = self.pos  # kept local; self.pos is synced around calls that move it
        lines[id(mapping)] = tokens[pos][_NUMBER]
        while pos < count:
            number, at, text, dash, key, rest = tokens[pos]
            if at != indent or dash:
                if at > indent:
                    raise _GiveUp
                break
            if key is _UNPARSED:
                key, rest = _split_key(text)
            elif key[0] in resolvers:
                key = _resolve(key)
            if key in mapping:
                raise _GiveUp
            pos += 1
            if rest and rest[0] not in "#|>":  # the common `key: value` on one line
                if pos < count and tokens[pos][1] > indent:  # [1]: the indent
                    raise _GiveUp  # a multi-line plain or quoted scalar
                first = rest[0]
                # `in` is much cheaper than the regex, and most values hold neither.
                if first in _NOT_SIMPLE or (
                    ("#" in rest or ":" in rest) and stop(rest) is not None
                ):
                    mapping[key] = _inline(rest, number, lines)
                elif first in resolvers:
                    mapping[key] = _resolve(rest)
                else:
                    mapping[key] = rest
            else:
                self.pos = pos
                mapping[key] = self._value(tokens[pos - 1], rest, indent, in_sequence=False)
                pos = self.pos
        self.pos = pos
        return mapping

    def _sequence(self, indent: int) -> list[Any]:
        tokens = self.tokens
        count = len(tokens)
        items: list[Any] = []
        while self.pos < count:
            token = tokens[self.pos]
            number, at, text, dash, key, rest = token
            if at != indent or not dash:
                if at > indent:
                    raise _GiveUp
                break
            if key is not _UNPARSED or (":" in text and _has_key(text)):
                # `- name: x`: the mapping starts on this very line, further right.
                tokens[self.pos] = (number, indent + dash, text, 0, key, rest)
                items.append(self._mapping(indent + dash))
                continue
            inner = text
            if inner[:1] == "-" and (len(inner) == 1 or inner[1] == " "):
                raise _GiveUp  # `- - x`: nested lists on one line
            self.pos += 1
            items.append(self._value(token, inner, indent, in_sequence=True))
        return items

    def _value(self, token: _Line, rest: str, indent: int, *, in_sequence: bool) -> Any:
        tokens = self.tokens
        nxt = tokens[self.pos] if self.pos < len(tokens) else None
        if not rest or rest[0] == "#":
            if nxt is not None and nxt[_INDENT] > indent:
                return self._block(nxt[_INDENT])
            same_indent = nxt is not None and nxt[_INDENT] == indent and nxt[_DASH] > 0
            if same_indent and not in_sequence:  # `key:` then `- item` at the key's indent
                return self._sequence(indent)
            return None
        if rest[0] in "|>":
            return self._block_scalar(token, rest, indent)
        if nxt is not None and nxt[_INDENT] > indent:
            raise _GiveUp  # a multi-line plain or quoted scalar
        return _inline(rest, token[_NUMBER], self.lines)

    def _block_scalar(self, token: _Line, header: str, indent: int) -> str:
        style, chomp = header[0], header[1:].split("#", 1)[0].strip()
        if chomp not in ("", "-", "+"):
            raise _GiveUp
        if not self.raw:
            self.raw = self.text.split("\n")
            if self.raw[-1] == "":
                self.raw.pop()  # the text's final newline ends a line; it starts none
        start = token[_NUMBER]  # raw index of the first content line
        body: list[str] = []
        block_indent = None
        index = start
        while index < len(self.raw):
            raw = self.raw[index]
            stripped = raw.lstrip(" ")
            if stripped:
                width = len(raw) - len(stripped)
                if block_indent is None:
                    if width <= indent:
                        break
                    block_indent = width
                if width < block_indent:
                    break
                if style == ">" and width > block_indent:
                    raise _GiveUp  # more-indented lines in folded scalars: PyYAML decides
                body.append(raw[block_indent:])
            elif len(raw) > (block_indent or 0):
                raise _GiveUp  # whitespace-only lines longer than the indent: PyYAML decides
            else:
                body.append("")
            index += 1
        while self.pos < len(self.tokens) and self.tokens[self.pos][_NUMBER] <= index:
            self.pos += 1
        return _assemble(body, style, chomp)


def _assemble(body: list[str], style: str, chomp: str) -> str:
    end = len(body)
    while end and body[end - 1] == "":
        end -= 1
    content, trailing = body[:end], body[end:]
    if not content:
        return "\n" * len(trailing) if chomp == "+" else ""
    if style == "|":
        text = "\n".join(content)
    else:
        text, empty = content[0], 0
        for line in content[1:]:
            if line == "":
                empty += 1
                continue
            text += ("\n" * empty) if empty else " "
            text += line
            empty = 0
    if chomp == "-":
        return text
    if chomp == "+":
        return text + "\n" + "\n" * len(trailing)
    return text + "\n"


def _has_key(text: str) -> bool:
    try:
        _split_key(text)
    except _GiveUp:
        return False
    return True


def _split_key(text: str) -> tuple[Any, str]:
    """`key: rest` -> (key, rest); anything else is not for the fast path."""
    if text[0] in "\"'":
        key, end = _quoted(text, 0)
        after = text[end:]
        if not after.startswith(":") or (len(after) > 1 and after[1] != " "):
            raise _GiveUp
        return key, after[1:].strip()
    if text[0] in _SPECIAL_START or text[0] in "[{#-,":
        raise _GiveUp
    match = _KEY_END.search(text)
    if match is None:
        raise _GiveUp
    comment = _PLAIN_COMMENT.search(text)
    if comment is not None and comment.start() < match.start():
        raise _GiveUp
    key_text = text[: match.start()].rstrip()
    return _plain(key_text), text[match.end() :].strip()


def _inline(text: str, number: int, lines: dict[int, int]) -> Any:
    first = text[0]
    if first in "\"'":
        value, end = _quoted(text, 0)
        _expect_end(text, end)
        return value
    if first == "[":
        simple = _SIMPLE_LIST.match(text)
        if simple is not None:
            inner = simple[1]
            return [_plain(item.strip()) for item in inner.split(",")] if inner else []
    if first in "[{":
        flow = _Flow(text, number, lines)
        value, end = flow.collection(0)
        _expect_end(text, end)
        return value
    if first in _BAD_PLAIN_START or (first == "-" and text[1:2] in ("", " ")):
        raise _GiveUp
    stop = _PLAIN_STOP.search(text)
    if stop is not None:
        if stop[0][0] == ":":
            raise _GiveUp  # `a: b: c` is an error PyYAML should report
        text = text[: stop.start()].rstrip()
    return _plain(text)


def _expect_end(text: str, end: int) -> None:
    tail = text[end:].strip()
    if tail and not (tail.startswith("#") and text[end : end + 1] in (" ", "\t")):
        raise _GiveUp


def _plain(text: str) -> Any:
    """A plain scalar as PyYAML resolves it (most are strings; no cache needed for those)."""
    if text[:1] in _RESOLVERS:
        return _resolve(text)
    return text


@functools.lru_cache(maxsize=4096)
def _resolve(text: str) -> Any:
    for tag, regexp in _RESOLVERS[text[:1]]:
        if regexp.match(text):
            if tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"):
                raise _GiveUp
            try:
                return yaml.load(text, Loader=_Loader)  # a safe loader
            except yaml.YAMLError:
                raise _GiveUp from None
    return text


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    index = start + 1
    parts: list[str] = []
    while True:
        end = text.find(quote, index)
        if end < 0:
            raise _GiveUp  # continues on the next line
        chunk = text[index:end]
        if quote == '"' and "\\" in chunk:
            raise _GiveUp
        parts.append(chunk)
        if quote == "'" and text.startswith("''", end):
            parts.append("'")
            index = end + 2
            continue
        return "".join(parts), end + 1


class _Flow:
    """A one-line flow collection: `[a, "b"]`, `{layer: gold, tags: [x]}`."""

    def __init__(self, text: str, number: int, lines: dict[int, int]) -> None:
        self.text = text
        self.number = number
        self.lines = lines

    def collection(self, start: int) -> tuple[Any, int]:
        text = self.text
        closing = "]" if text[start] == "[" else "}"
        result: Any = [] if closing == "]" else {}
        if closing == "}":
            self.lines[id(result)] = self.number
        index = _skip(text, start + 1)
        while True:
            if index >= len(text):
                raise _GiveUp
            if text[index] == closing:
                return result, index + 1
            if closing == "]":
                value, index = self.item(index)
                result.append(value)
            else:
                key, index = self.item(index, key=True)
                index = _skip(text, index)
                if index >= len(text) or text[index] != ":":
                    raise _GiveUp
                value, index = self.item(_skip(text, index + 1))
                if key in result:
                    raise _GiveUp
                result[key] = value
            index = _skip(text, index)
            if index < len(text) and text[index] == ",":
                index = _skip(text, index + 1)
            elif index >= len(text) or text[index] != closing:
                raise _GiveUp

    def item(self, index: int, *, key: bool = False) -> tuple[Any, int]:
        text = self.text
        if index >= len(text):
            raise _GiveUp
        first = text[index]
        if first in "\"'":
            return _quoted(text, index)
        if first in "[{":
            if key:
                raise _GiveUp
            return self.collection(index)
        if first in _SPECIAL_START or first in "#,:]}-":
            raise _GiveUp
        end = index
        while end < len(text) and text[end] not in ",[]{}#:":
            end += 1
        if end < len(text) and (text[end] in "#[{" or (text[end] == ":" and not key)):
            raise _GiveUp
        if key and end + 1 < len(text) and text[end] == ":" and text[end + 1] not in " ,]}":
            raise _GiveUp
        value = text[index:end].strip()
        if not value:
            raise _GiveUp
        return _plain(value), end


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] == " ":
        index += 1
    return index
