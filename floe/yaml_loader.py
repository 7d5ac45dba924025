"""Load YAML with a position (line, column) for every key and value.

Used for every YAML file floe reads (platform manifest, policy files, floe.yaml,
dbt schema files) so an error can name `file:line:col` and the field path.

    doc = load_yaml_with_positions(Path("manifest.yaml"))
    doc.data                                   # plain dicts/lists/scalars
    doc.where(("governance", "quality_gates", "minimum_test_coverage"))
                                               # -> "manifest.yaml:23:28"
    doc.fail(path, "must be <= 100")           # raises UsageError(slug, "file:l:c: path: msg")

Rules beyond plain `yaml.safe_load`: duplicate keys and tabs in indentation are
errors; timestamps stay strings (`created: 2024-01-15T10:30:00Z` is text, so it
round-trips byte for byte); the root must be a mapping unless asked otherwise.
Lines and columns are 1-based. Every problem is a `UsageError` with the caller's slug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import yaml

from floe.errors import UsageError

PathPart = str | int
YamlPath = tuple[PathPart, ...]

if TYPE_CHECKING:
    _BaseLoader = yaml.SafeLoader
else:  # libyaml's parser when PyYAML was built with it (same nodes, marks and errors)
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# Limits (docs/security.md): YAML people write is small and shallow.
MAX_YAML_BYTES = 16 * 1024 * 1024
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 200_000  # counted with every alias expanded (billion laughs)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class PositionedLoader(_BaseLoader):
    """SafeLoader that keeps timestamps as strings (positions are read from the node tree)."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class attribute
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def format_path(path: Iterable[PathPart]) -> str:
    """`("a", "b", 0, "c")` -> `a.b[0].c`; the root is `<root>`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


@dataclass
class YamlDocument:
    """Parsed data plus where each key and value came from."""

    data: Any
    file: str  # the name shown in messages
    slug: str = "manifest_invalid"
    keys: dict[YamlPath, Mark] = field(default_factory=dict)  # where the key starts
    values: dict[YamlPath, Mark] = field(default_factory=dict)  # where the value starts

    def mark(self, path: YamlPath, *, key: bool = False) -> Mark:
        """The position of `path` (its key if `key`), else of its closest known ancestor."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if key and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return Mark(1, 1)

    def where(self, path: YamlPath, *, key: bool = False) -> str:
        return f"{self.file}:{self.mark(path, key=key)}"

    def fail(
        self, path: YamlPath, message: str, *, key: bool = False, hint: str | None = None
    ) -> NoReturn:
        raise UsageError(
            self.slug,
            f"{self.where(path, key=key)}: {format_path(path)}: {message}",
            hint=hint or f"fix {self.file} and run the command again",
        )


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Records positions and rejects duplicate keys, before construction."""

    def __init__(self, loader: PositionedLoader, doc: YamlDocument) -> None:
        self.loader = loader
        self.doc = doc
        self.seen: set[int] = set()  # aliases: walk a shared node once (no alias bombs)

    def walk(self, node: yaml.Node, path: YamlPath) -> None:
        if len(path) > MAX_YAML_DEPTH:
            self.doc.fail(path[:MAX_YAML_DEPTH], f"nested deeper than {MAX_YAML_DEPTH} levels")
        self.doc.values.setdefault(path, _mark(node))
        if id(node) in self.seen:
            return
        self.seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            self._walk_mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, (*path, index))

    def _walk_mapping(self, node: yaml.MappingNode, path: YamlPath) -> None:
        first_seen: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node, path)
            child = (*path, key)
            if key in first_seen:
                self.doc.keys[child] = _mark(key_node)
                self.doc.fail(
                    child,
                    f"duplicate key {key!r} (first defined at line {first_seen[key].line})",
                    key=True,
                )
            first_seen[key] = _mark(key_node)
            self.doc.keys[child] = _mark(key_node)
            self.walk(value_node, child)

    def _key(self, key_node: yaml.Node, path: YamlPath) -> PathPart:
        if not isinstance(key_node, yaml.ScalarNode):
            self.doc.values[path] = _mark(key_node)
            self.doc.fail(path, "mapping keys must be plain scalars, not lists or mappings")
        value = self.loader.construct_object(key_node)
        return value if isinstance(value, str | int) else str(value)


def expanded_size(root: yaml.Node) -> int:
    """Nodes in the document with every alias expanded, computed once per node (linear)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _syntax_error(doc: YamlDocument, text: str, exc: yaml.YAMLError) -> NoReturn:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        raise UsageError(doc.slug, f"{doc.file}: invalid YAML: {exc}") from None
    line, column = mark.line + 1, mark.column + 1
    lines = text.splitlines()
    offending = lines[mark.line] if mark.line < len(lines) else ""
    if "\t" in offending[: mark.column + 1] or "'\\t'" in str(exc):
        column = offending.index("\t") + 1 if "\t" in offending else column
        message = "tab character in indentation; YAML indents with spaces only"
        hint = "replace the tab with spaces (most editors: 'convert indentation to spaces')"
    else:
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
        hint = f"fix the YAML syntax in {doc.file}"
    raise UsageError(doc.slug, f"{doc.file}:{line}:{column}: {message}", hint=hint) from None


def parse_yaml_with_positions(
    text: str, file: str, *, slug: str = "manifest_invalid", require_mapping: bool = True
) -> YamlDocument:
    """Parse one YAML document from text; `file` is the name used in messages."""
    doc = YamlDocument(data=None, file=file, slug=slug)
    loader = PositionedLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            if expanded_size(node) > MAX_YAML_NODES:
                doc.fail((), f"more than {MAX_YAML_NODES} values once aliases are expanded")
            _Walker(loader, doc).walk(node, ())
            doc.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        _syntax_error(doc, text, exc)
    except RecursionError:
        doc.fail((), f"nested deeper than {MAX_YAML_DEPTH} levels")
    finally:
        loader.dispose()
    if require_mapping and not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        doc.fail((), f"the document must be a mapping of keys to values, but it is {kind}")
    return doc


def load_yaml_with_positions(
    path: Path,
    *,
    slug: str = "manifest_invalid",
    display: str | None = None,
    require_mapping: bool = True,
) -> YamlDocument:
    """Read and parse `path`; a missing or unreadable file is a UsageError with `slug`."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(slug, f"{name}: file not found", hint="check the path") from None
    except OSError as exc:
        raise UsageError(slug, f"{name}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_YAML_BYTES:
        raise UsageError(slug, f"{name}: {len(raw)} bytes, over the {MAX_YAML_BYTES}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            slug, f"{name}: not UTF-8 (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    return parse_yaml_with_positions(text, name, slug=slug, require_mapping=require_mapping)
