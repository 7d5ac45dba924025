"""Schema YAML entries (`models:`, `seeds:`, `snapshots:`, `sources:`) with their lines.

Shared by the files reader and the manifest reader (which only takes lines from here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from floe.errors import UsageError
from floe.rules.model import Column, Source
from floe.rules.props_reader import source_loader
from floe.rules.yaml_lines import LinedYaml

SLUG = "project_invalid"
_CLASSIFICATION_TAG = "classification:"


@dataclass
class Entry:
    """One `models:` / `seeds:` entry of a schema YAML file, with where it came from."""

    data: dict[str, Any]
    file: str
    line: int
    columns: tuple[Column, ...] = ()
    tests: tuple[str, ...] = ()


# ---- schema YAML ----------------------------------------------------------------------


def schema_entries(doc: LinedYaml, rel: str, kind: str) -> Iterator[Entry]:
    items = doc.data.get(kind)
    if items is None:
        return
    if not isinstance(items, list):
        raise UsageError(SLUG, f"{rel}:{doc.line(doc.data)}: `{kind}:` must be a list of entries")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            line = doc.line(item, doc.line(doc.data))
            raise UsageError(SLUG, f"{rel}:{line}: every entry under `{kind}:` needs a name")
        line = doc.line(item)
        columns = _columns(doc, rel, item.get("columns"))
        tests = _test_names(_tests_of(item), rel, line)
        yield Entry(item, rel, line, columns, tests)


def _columns(doc: LinedYaml, rel: str, items: Any) -> tuple[Column, ...]:
    if items is None:
        return ()
    if isinstance(items, dict):  # the rare `columns: {name: {...}}` form
        if not all(value is None or isinstance(value, dict) for value in items.values()):
            raise UsageError(SLUG, f"{rel}:{doc.line(items)}: every column needs a mapping")
        items = [{"name": key, **(value or {})} for key, value in items.items()]
    if not isinstance(items, list):
        raise UsageError(SLUG, f"{rel}: `columns:` must be a list")
    columns: list[Column] = []
    lines = doc.lines
    for item in items:
        if not isinstance(item, dict) or item.get("name") is None:
            raise UsageError(SLUG, f"{rel}:{doc.line(item)}: every column needs a `name:`")
        line = lines.get(id(item), 1)
        tests = _test_names(_tests_of(item), rel, line)
        if "constraints" in item:
            tests = (*tests, *_constraint_tests(item))
        description = item.get("description")
        data_type = item.get("data_type")
        columns.append(
            Column(
                str(item["name"]),
                None if description is None else str_or_none(description),
                None if data_type is None else str_or_none(data_type),
                classification_of(item),
                tests,
                line,
            )
        )
    return tuple(columns)


def _tests_of(item: dict[str, Any]) -> list[Any]:
    data_tests = item.get("data_tests")
    tests = item.get("tests")
    if tests is None:
        return data_tests if isinstance(data_tests, list) else []
    found = data_tests if isinstance(data_tests, list) else []
    return [*found, *tests] if isinstance(tests, list) else found


def _test_names(items: list[Any], rel: str, line: int) -> tuple[str, ...]:
    """`unique`, `{unique: {...}}`, `{name: x, test_name: unique}` -> the test's name."""
    if not items:
        return ()
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and isinstance(item.get("test_name"), str):
            names.append(item["test_name"])
        elif isinstance(item, dict) and len(item) == 1:
            names.append(str(next(iter(item))))
        else:
            raise UsageError(SLUG, f"{rel}:{line}: cannot read test entry {item!r}")
    return tuple(names)


def _constraint_tests(item: dict[str, Any]) -> list[str]:
    """Enforced column constraints count as the matching test."""
    names: list[str] = []
    for constraint in item.get("constraints") or []:
        kind = constraint.get("type") if isinstance(constraint, dict) else None
        if kind in ("not_null", "unique"):
            names.append(kind)
        elif kind == "primary_key":
            names.extend(("not_null", "unique"))
    return names


def classification_of(item: dict[str, Any]) -> str | None:
    """`meta.classification` (under `config:` or not), else a `classification:<level>` tag."""
    config = item.get("config")
    if config is None and "tags" not in item:  # the usual column: `meta:` at most
        meta = item.get("meta")
        if isinstance(meta, dict) and meta.get("classification") is not None:
            return str(meta["classification"])
        return None
    holders = (config, item) if isinstance(config, dict) else (item,)
    for holder in holders:
        meta = holder.get("meta")
        if isinstance(meta, dict) and meta.get("classification") is not None:
            return str(meta["classification"])
    for holder in holders:
        tags = holder.get("tags")
        for tag in tags if isinstance(tags, list) else ():
            if isinstance(tag, str) and tag.startswith(_CLASSIFICATION_TAG):
                return tag[len(_CLASSIFICATION_TAG) :]
    return None


def schema_sources(doc: LinedYaml, rel: str) -> Iterator[Source]:
    items = doc.data.get("sources")
    if not isinstance(items, list):
        return
    for source in items:
        if not isinstance(source, dict) or not isinstance(source.get("name"), str):
            continue
        source_fresh = _has_freshness(source)
        for table in source.get("tables") or []:
            if not isinstance(table, dict) or not isinstance(table.get("name"), str):
                continue
            fresh = _has_freshness(table) if "freshness" in table else source_fresh
            yield Source(
                name=f"{source['name']}.{table['name']}",
                file=rel,
                line=doc.line(table),
                columns=_columns(doc, rel, table.get("columns")),
                freshness=fresh,
                description=str_or_none(table.get("description")),
                loader=source_loader(source, table),
            )


def _has_freshness(item: dict[str, Any]) -> bool:
    config = _dict(item.get("config"))
    value = item.get("freshness", config.get("freshness"))
    return isinstance(value, dict) and any(value.get(k) for k in ("warn_after", "error_after"))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
