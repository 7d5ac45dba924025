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

Hostile input is bounded before anything is built (`YamlLimits`, checked on the
parser's event stream, which needs no recursion): document size, nesting depth,
node count with every alias expanded (a billion-laughs bomb stops at the cap, a
recursive alias is refused) and tags (only str, int, float, bool, null, seq and map:
`!!timestamp`, `!!binary`, `!!set`, `!!python/...` are refused). A limit hit is
`yaml_limit_exceeded` (exit 2) naming `file:line:col`.
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
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE = "tag:yaml.org,2002:"
_SAFE_TAGS = frozenset(
    {None, "!", *(_CORE + name for name in ("str", "int", "float", "bool", "null", "seq", "map"))}
)


@dataclass(frozen=True)
class YamlLimits:
    """Caps on one YAML document (defaults fit every file a platform or data team writes)."""

    max_bytes: int = 4 * 1024 * 1024  # size of the document
    max_depth: int = 64  # nested lists/mappings
    max_nodes: int = 250_000  # scalars + collections, every alias expanded


DEFAULT_LIMITS = YamlLimits()
# dbt schema files of a large project (thousands of models in one file).
SCHEMA_LIMITS = YamlLimits(max_bytes=64 * 1024 * 1024, max_nodes=5_000_000)


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
        message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
        hint = f"fix the YAML syntax in {doc.file}"
    raise UsageError(doc.slug, f"{doc.file}:{line}:{column}: {message}", hint=hint) from None


def _where(file: str, mark: Any) -> str:
    return f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file


def _limit(file: str, mark: Any, message: str) -> NoReturn:
    where = _where(file, mark)
    raise UsageError(
        "yaml_limit_exceeded",
        f"{where}: {message}",
        hint="floe reads plain, hand-sized YAML; split or simplify the file",
    )


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _Budget:
    """Running counts over the event stream: depth, expanded nodes, anchor sizes."""

    def __init__(self, file: str, slug: str, limits: YamlLimits) -> None:
        self.file, self.slug, self.limits = file, slug, limits
        self.frames: list[list[Any]] = []  # [expanded size, anchor] per open collection
        self.sizes: dict[str, int] = {}
        self.total = 0

    def add(self, count: int, mark: Any) -> None:
        self.total += count
        if self.total > self.limits.max_nodes:
            _limit(
                self.file,
                mark,
                f"more than {self.limits.max_nodes} YAML nodes (aliases expanded): "
                "refusing an alias bomb or an oversized document",
            )
        if self.frames:
            self.frames[-1][0] += count

    def event(self, event: yaml.Event) -> None:
        mark = event.start_mark
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.NodeEvent) and tag not in _SAFE_TAGS:
            where = _where(self.file, mark)
            raise UsageError(
                self.slug,
                f"{where}: YAML tag {_tag_name(str(tag))} is not allowed (floe reads strings, "
                "numbers, booleans, null, lists and mappings only)",
                hint="remove the tag; quote the value to keep it as text",
            )
        if isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                self.sizes[event.anchor] = 1
            self.add(1, mark)
        elif isinstance(event, yaml.CollectionStartEvent):
            self.add(1, mark)
            self.frames.append([1, event.anchor])
            if len(self.frames) > self.limits.max_depth:
                _limit(self.file, mark, f"YAML nested deeper than {self.limits.max_depth} levels")
        elif isinstance(event, yaml.CollectionEndEvent) and self.frames:
            size, anchor = self.frames.pop()
            if anchor is not None:
                self.sizes[anchor] = size
            if self.frames:
                self.frames[-1][0] += size - 1  # the start event counted 1 already

    def _alias(self, event: yaml.AliasEvent) -> None:
        anchor = str(event.anchor)
        if any(frame[1] == anchor for frame in self.frames):
            _limit(self.file, event.start_mark, f"recursive YAML alias *{anchor}")
        self.add(self.sizes.get(anchor, 1), event.start_mark)


def check_yaml_limits(
    text: str, file: str, *, slug: str = "manifest_invalid", limits: YamlLimits = DEFAULT_LIMITS
) -> None:
    """Refuse a document over `limits` or with an unsafe tag (UsageError) before composing it.

    Syntax errors are left to the caller's parser (it reports them with its own slug).
    """
    if len(text) > limits.max_bytes:
        _limit(file, None, f"YAML document larger than {limits.max_bytes} bytes")
    # libyaml stops at 1,000 flow levels with a syntax error; PyYAML's own parser (no
    # recursion, no such cap) then finds where floe's lower depth limit is crossed.
    for loader_class in dict.fromkeys((_BaseLoader, yaml.SafeLoader)):
        budget = _Budget(file, slug, limits)
        try:
            loader = loader_class(text)  # PyYAML's reader refuses control characters here
        except yaml.YAMLError:
            continue
        try:
            while loader.check_event():
                budget.event(loader.get_event())  # type: ignore[no-untyped-call]
            return
        except yaml.YAMLError:
            continue
        finally:
            loader.dispose()


def parse_yaml_with_positions(
    text: str,
    file: str,
    *,
    slug: str = "manifest_invalid",
    require_mapping: bool = True,
    limits: YamlLimits = DEFAULT_LIMITS,
) -> YamlDocument:
    """Parse one YAML document from text; `file` is the name used in messages."""
    doc = YamlDocument(data=None, file=file, slug=slug)
    check_yaml_limits(text, file, slug=slug, limits=limits)
    try:
        loader = PositionedLoader(text)
    except yaml.YAMLError as exc:
        _syntax_error(doc, text, exc)
    try:
        node = loader.get_single_node()
        if node is not None:
            _Walker(loader, doc).walk(node, ())
            doc.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        _syntax_error(doc, text, exc)
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        raise UsageError(slug, f"{file}: value out of range: {exc}") from None
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
    limits: YamlLimits = DEFAULT_LIMITS,
) -> YamlDocument:
    """Read and parse `path`; a missing or unreadable file is a UsageError with `slug`."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(slug, f"{name}: file not found", hint="check the path") from None
    except OSError as exc:
        raise UsageError(slug, f"{name}: cannot read: {exc.strerror}") from None
    if len(raw) > limits.max_bytes:
        _limit(name, None, f"YAML document larger than {limits.max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            slug, f"{name}: not UTF-8 (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    return parse_yaml_with_positions(
        text, name, slug=slug, require_mapping=require_mapping, limits=limits
    )
