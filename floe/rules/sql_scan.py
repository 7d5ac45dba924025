"""What the catalogue's SQL rules need from one model's SQL, from one sqlglot parse.

The model's Jinja is rendered the simple way, line for line: `ref('x')` and
`source('s', 't')` become marked relation names, other `{{ ... }}` a marked
placeholder and `{% ... %}` nothing, so every line number of the parse is the line in
the model file. SQL that cannot be parsed gives `None` (the rules skip the model; the
sound gate reports unparsable SQL itself). Results are cached by the SQL text.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Protocol

MARK = "__floe_"
_REF = re.compile(
    r"""\{\{-?\s*ref\s*\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])([^'"]+)\3)?[^)]*\)\s*-?\}\}"""
)
_SOURCE = re.compile(
    r"""\{\{-?\s*source\s*\(\s*(['"])([^'"]+)\1\s*,\s*(['"])([^'"]+)\3\s*\)\s*-?\}\}"""
)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_CONFIG = re.compile(r"\{\{-?\s*config\s*\(")
_DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "snowflake": "snowflake"}


@dataclass(frozen=True, slots=True)
class SqlFacts:
    columns: tuple[str, ...] | None  # output column names; None when `*` makes them unknown
    stars: tuple[int, ...]  # lines of `select *` / `t.*`
    relations: tuple[tuple[str, int], ...]  # hard-coded relation names (not ref/source/CTE)
    cartesian: tuple[tuple[str, int], ...]  # joined relation and line of joins without a key


def render(sql: str) -> str:
    """Jinja out, relation markers in; newlines kept so lines stay the file's lines."""

    def ref(match: re.Match[str]) -> str:
        return f"{MARK}ref_{match.group(4) or match.group(2)}"

    def source(match: re.Match[str]) -> str:
        return f"{MARK}src_{match.group(2)}__{match.group(4)}"

    def other(match: re.Match[str]) -> str:
        text = match.group(0)
        newlines = "\n" * text.count("\n")
        expression = text.startswith("{{") and not _CONFIG.match(text)
        return (f"{MARK}expr" if expression else "") + newlines

    sql = _REF.sub(ref, sql) if "ref" in sql else sql
    sql = _SOURCE.sub(source, sql) if "source" in sql else sql
    return _JINJA.sub(other, sql) if "{" in sql else sql


_FROM = re.compile(r"\bfrom\s+([\w.\"]+)")
_COMMA_JOIN = re.compile(r"\bfrom\s+[\w.\"]+(?:\s+(?:as\s+)?\w+)?\s*,")
_CTE_NAME = re.compile(r"(\w+)\s+as\s*\(")
CLEAN = SqlFacts(columns=None, stars=(), relations=(), cartesian=())


class FactsCache(Protocol):
    """Facts by digest of the rendered SQL and dialect, kept between compiles."""

    def facts_get(self, key: str) -> tuple[bool, SqlFacts | None]: ...
    def facts_put(self, key: str, found: SqlFacts | None) -> None: ...


def facts(
    sql: str, dialect: str | None, *, columns: bool = True, cache: FactsCache | None = None
) -> SqlFacts | None:
    """The SQL's facts; with `columns=False` a query that plainly has no star, no join and
    reads only ref()/source()/CTEs skips the parse (its output columns stay unknown).
    With a `cache` (the compile's lineage cache) a SQL text parsed before is not parsed."""
    # Trailing whitespace holds no token (no fact or line moves with it); dbt's
    # manifest.json keeps a model's code stripped, the file has its final newline: both
    # sources share one parse and one cache entry.
    rendered = render(sql).rstrip()
    if not columns and _plainly_clean(rendered.lower()):
        return CLEAN
    name = _DIALECTS.get(dialect or "", "duckdb")
    if cache is None:
        return _facts(rendered, name)
    key = hashlib.sha256(f"{name}\0{rendered}".encode()).hexdigest()
    hit, found = cache.facts_get(key)
    if not hit:
        found = _facts(rendered, name)
        cache.facts_put(key, found)
    return found


def facts_to_json(found: SqlFacts | None) -> list[Any]:
    """`[]` for unparsable SQL, else [columns, stars, relations, cartesian]."""
    if found is None:
        return []
    columns = None if found.columns is None else list(found.columns)
    return [
        columns,
        list(found.stars),
        [list(item) for item in found.relations],
        [list(item) for item in found.cartesian],
    ]


def facts_from_json(data: Any) -> SqlFacts | None:
    """The inverse of `facts_to_json`; a wrong shape raises ValueError (never trusted)."""
    if data == []:
        return None
    columns, stars, relations, cartesian = data

    def pairs(items: Any) -> tuple[tuple[str, int], ...]:
        out = tuple((name, line) for name, line in items)
        if not all(isinstance(n, str) and type(line) is int for n, line in out):
            raise ValueError("bad relation entry")
        return out

    if columns is not None and not all(isinstance(c, str) for c in columns):
        raise ValueError("bad column entry")
    if not all(type(line) is int for line in stars):
        raise ValueError("bad star entry")
    return SqlFacts(
        columns=None if columns is None else tuple(columns),
        stars=tuple(stars),
        relations=pairs(relations),
        cartesian=pairs(cartesian),
    )


def _plainly_clean(low: str) -> bool:
    """No `*` (other than count(*)), no join, no comma join, every FROM a marker or CTE.
    Anything else (functions like `extract(x from y)` included) takes the full parse."""
    if "*" in low.replace("(*)", "") or "join" in low or _COMMA_JOIN.search(low):
        return False
    ctes = set(_CTE_NAME.findall(low))
    return all(name.startswith(MARK) or name in ctes for name in _FROM.findall(low))


@functools.lru_cache(maxsize=16384)
def _facts(rendered: str, dialect: str) -> SqlFacts | None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(rendered, read=dialect)
    except (SqlglotError, ValueError, RecursionError):
        return None
    if tree is None:
        return None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    relations = []
    for table in tree.find_all(exp.Table):
        name = table.name
        if not name or name.startswith(MARK) or name.lower() in ctes:
            continue
        if isinstance(table.this, exp.Func | exp.Anonymous):
            continue
        full = ".".join(part for part in (table.catalog, table.db, name) if part)
        relations.append((full, _line(table.this)))
    stars = sorted({_line(star) for star in tree.find_all(exp.Star) if _is_select_star(star)})
    return SqlFacts(
        columns=_output_columns(tree),
        stars=tuple(stars),
        relations=tuple(sorted(set(relations), key=lambda item: (item[1], item[0]))),
        cartesian=tuple(_cartesian(tree)),
    )


def _line(node: object) -> int:
    meta = getattr(node, "meta", None) or {}
    line = meta.get("line") if isinstance(meta, dict) else None
    return line if isinstance(line, int) and line > 0 else 1


def _is_select_star(star: object) -> bool:
    from sqlglot import exp

    parent = getattr(star, "parent", None)
    if isinstance(parent, exp.Column):
        parent = parent.parent
    if not isinstance(parent, exp.Select):
        return False
    # dbt's import CTE (`with orders as (select * from {{ ref('x') }})`) names no columns
    # on purpose; a star anywhere else reaches the model's output.
    import_cte = isinstance(parent.parent, exp.CTE) and not any(
        parent.args.get(key) for key in ("joins", "where", "group", "having")
    )
    return not import_cte


def _output_columns(tree: object) -> tuple[str, ...] | None:
    from sqlglot import exp

    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return None
    names: list[str] = []
    for expression in select.expressions:
        if isinstance(expression, exp.Star) or (
            isinstance(expression, exp.Column) and isinstance(expression.this, exp.Star)
        ):
            return None
        names.append(expression.alias_or_name)
    return tuple(names)


def _cartesian(tree: object) -> list[tuple[str, int]]:
    from sqlglot import exp

    assert isinstance(tree, exp.Expression)
    found: list[tuple[str, int]] = []
    for join in tree.find_all(exp.Join):
        if join.args.get("on") is not None or join.args.get("using"):
            continue
        target = join.this
        if isinstance(target, exp.Unnest | exp.Lateral) or join.args.get("kind") in (
            "SEMI",
            "ANTI",
        ):
            continue
        if isinstance(target, exp.Table):
            name = target.name.removeprefix(MARK + "ref_").removeprefix(MARK + "src_")
            found.append(
                (
                    name.replace("__", ".", 1) if target.name.startswith(MARK + "src_") else name,
                    _line(target.this),
                )
            )
        else:
            found.append((target.alias_or_name or "subquery", _line(target)))
    return found
