"""Column lineage from each model's SQL, with sqlglot, in the compute plugin's dialect.

floe renders the model file itself: `ref('x')` / `ref('pkg', 'x')` become the relation
`x`, `source('s', 't')` the relation `s.t`, `{{ config(...) }}`, `{% ... %}` and `{# #}`
disappear and any other `{{ ... }}` becomes `NULL`; line breaks are kept so lines in
findings are the file's. Then every model (parents first) gets its output columns and,
for each, the upstream `(node, column)` pairs it is computed from: through CTEs,
subqueries, joins, aliases, expressions, set operations and `select *` / `t.*` (expanded
from the upstream's own columns: its lineage, else its declared columns, else a seed's
CSV header). A relation floe knows nothing about leaves the output incomplete (a `*`
over it cannot be expanded): then nothing is claimed about missing columns.

Results are cached by the digest of the rendered SQL and of the upstream column lists,
so a warm compile parses nothing (see `LineageCache`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe.rules.model import Model

if TYPE_CHECKING:
    from floe.rules.sql_scan import SqlFacts

Dep = tuple[str, str]  # (upstream node: model name, seed name or "source:s.t"; column)
_DIALECTS = {
    "duckdb": "duckdb",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "postgres": "postgres",
    "redshift": "redshift",
    "databricks": "databricks",
    "spark": "spark",
    "trino": "trino",
}
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_STATEMENT = re.compile(r"\{%.*?%\}", re.DOTALL)
_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_REF = re.compile(
    r"""^\{\{-?\s*ref\s*\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])([^'"]+)\3\s*)?\)\s*-?\}\}$"""
)
_SOURCE = re.compile(
    r"""^\{\{-?\s*source\s*\(\s*(['"])([^'"]+)\1\s*,\s*(['"])([^'"]+)\3\s*\)\s*-?\}\}$"""
)
_CONFIG = re.compile(r"^\{\{-?\s*config\s*\(")


@dataclass(frozen=True, slots=True)
class OutputColumn:
    name: str
    deps: tuple[Dep, ...]
    line: int  # line of the projection in the model file


@dataclass(frozen=True, slots=True)
class ModelLineage:
    columns: tuple[OutputColumn, ...] = ()
    complete: bool = False  # every output column is known (no unexpandable *)
    error: str | None = None  # the SQL could not be parsed: why

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [[c.name, [list(d) for d in c.deps], c.line] for c in self.columns],
            "complete": self.complete,
            "error": self.error,
        }

    @staticmethod
    def from_json(data: Any) -> ModelLineage:
        columns = tuple(
            OutputColumn(str(n), tuple((str(a), str(b)) for a, b in deps), int(line))
            for n, deps, line in data["columns"]
        )
        return ModelLineage(columns, bool(data["complete"]), data["error"])


def dialect_of(compute: str | None) -> str:
    return _DIALECTS.get(compute or "", "duckdb")


def render(code: str) -> str:
    """The model's SQL as floe renders it (ref/source as relations, other Jinja out)."""

    def blank(match: re.Match[str]) -> str:
        return "\n" * match.group(0).count("\n")

    text = _JINJA_COMMENT.sub(blank, code)
    text = _STATEMENT.sub(blank, text)

    def expression(match: re.Match[str]) -> str:
        body = match.group(0)
        pad = "\n" * body.count("\n")
        ref = _REF.match(body)
        if ref:
            return _quote(ref.group(4) or ref.group(2)) + pad
        source = _SOURCE.match(body)
        if source:
            return _quote(f"source:{source.group(2)}.{source.group(4)}") + pad
        if _CONFIG.match(body):
            return pad
        return "NULL" + pad

    return _EXPRESSION.sub(expression, text)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def digest(sql: str, upstream: Iterable[tuple[str, tuple[str, ...] | None]]) -> str:
    h = hashlib.sha256(sql.encode("utf-8"))
    for node, columns in sorted(upstream, key=lambda item: item[0]):
        h.update(b"\0" + node.encode() + b"\1" + ",".join(columns or ("?",)).encode())
    return h.hexdigest()


def model_lineage(
    sql: str, dialect: str, upstream: Mapping[str, tuple[str, ...] | None]
) -> ModelLineage:
    """Output columns of one model; `upstream` maps relation -> its columns (None: unknown)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, dialect=dialect)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ModelLineage(error=first[:200])
    if not isinstance(tree, exp.Query):
        return ModelLineage(error=f"not a query ({type(tree).__name__})")
    try:
        columns, complete = _Resolver(upstream).query(tree, {})
    except RecursionError:
        return ModelLineage(error="query nested too deeply")
    return ModelLineage(tuple(columns), complete)


_Cols = list[tuple[str, frozenset[Dep]]]


class _Resolver:
    def __init__(self, upstream: Mapping[str, tuple[str, ...] | None]) -> None:
        self.upstream = upstream

    def query(self, node: Any, env: dict[str, _Cols | None]) -> tuple[list[OutputColumn], bool]:
        from sqlglot import exp

        env = dict(env)
        with_ = node.args.get("with_") or node.args.get("with")
        for cte in with_.expressions if with_ is not None else ():
            cols, complete = self.query(cte.this, env)
            env[cte.alias_or_name] = _plain(cols) if complete else None
        if isinstance(node, exp.Subquery):
            return self.query(node.this, env)
        if isinstance(node, exp.SetOperation):
            left, lok = self.query(node.left, env)
            right, rok = self.query(node.right, env)
            merged = [
                OutputColumn(a.name, tuple(sorted({*a.deps, *b.deps})), a.line)
                for a, b in zip(left, right, strict=False)
            ]
            return merged, lok and rok and len(left) == len(right)
        if not isinstance(node, exp.Select):
            return [], False
        return self._select(node, env)

    def _sources(
        self, node: Any, env: dict[str, _Cols | None]
    ) -> dict[str, tuple[str, _Cols | None]]:
        from sqlglot import exp

        found: dict[str, tuple[str, _Cols | None]] = {}
        from_ = node.args.get("from_") or node.args.get("from")
        items = [from_.this] if from_ is not None else []
        items.extend(join.this for join in node.args.get("joins") or ())
        for item in items:
            if isinstance(item, exp.Table):
                name = item.name
                alias = item.alias_or_name
                if name in env and not item.db:
                    found[alias] = (name, env[name])
                else:
                    relation = f"{item.db}.{name}" if item.db and name else name
                    found[alias] = (relation, self._relation(relation))
            elif isinstance(item, exp.Subquery):
                cols, complete = self.query(item.this, env)
                found[item.alias_or_name] = (item.alias_or_name, _plain(cols) if complete else None)
            else:
                found[item.alias_or_name or f"_{len(found)}"] = ("?", None)
        return found

    def _relation(self, relation: str) -> _Cols | None:
        node = relation if relation in self.upstream else _versioned(relation, self.upstream)
        columns = self.upstream.get(node) if node else None
        if columns is None:
            return None
        return [(c, frozenset({(node, c)})) for c in columns]  # type: ignore[arg-type]

    def _select(self, node: Any, env: dict[str, _Cols | None]) -> tuple[list[OutputColumn], bool]:
        from sqlglot import exp

        sources = self._sources(node, env)
        out: list[OutputColumn] = []
        complete = True
        for projection in node.expressions:
            line = _line(projection)
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                table = projection.table if isinstance(projection, exp.Column) else ""
                chosen = [sources[table]] if table in sources else list(sources.values())
                for _relation, cols in chosen:
                    if cols is None:
                        complete = False
                        continue
                    out.extend(OutputColumn(n, tuple(sorted(d)), line) for n, d in cols)
                continue
            deps: set[Dep] = set()
            for column in projection.find_all(exp.Column):
                deps.update(self._column(column, sources))
            out.append(OutputColumn(projection.alias_or_name, tuple(sorted(deps)), line))
        return out, complete

    def _column(self, column: Any, sources: dict[str, tuple[str, _Cols | None]]) -> set[Dep]:
        name = column.name
        candidates = [sources[column.table]] if column.table in sources else list(sources.values())
        for _relation, cols in candidates:
            if cols is not None:
                for col_name, deps in cols:
                    if col_name.lower() == name.lower():
                        return set(deps)
        unknown = [relation for relation, cols in candidates if cols is None]
        if len(unknown) == 1 and unknown[0] != "?":
            return {(unknown[0], name)}
        return set()


def _plain(columns: list[OutputColumn]) -> _Cols:
    return [(c.name, frozenset(c.deps)) for c in columns]


def _versioned(relation: str, upstream: Mapping[str, Any]) -> str | None:
    """`ref('x')` of a versioned model: its latest version node (`x.v<N>`, highest N)."""
    versions = [key for key in upstream if key.startswith(relation + ".v")]
    return max(versions, key=lambda k: (len(k), k)) if versions else None


def _line(projection: Any) -> int:
    from sqlglot import exp

    for node in projection.walk():
        meta = getattr(node, "meta", None) or {}
        if "line" in meta:
            return int(meta["line"])
        if isinstance(node, exp.Identifier) and node.meta.get("line"):
            return int(node.meta["line"])
    return 1


def upstream_names(model: Model) -> list[str]:
    return [*model.refs, *("source:" + s for s in model.sources)]


class LineageCache:
    """Lineage by digest (SQL + dialect + upstream columns); only entries used are kept."""

    VERSION = 1

    def __init__(self, data: Any = None) -> None:
        entries = data.get("entries") if isinstance(data, dict) else None
        valid = isinstance(data, dict) and data.get("version") == self.VERSION
        self.entries: dict[str, Any] = entries if valid and isinstance(entries, dict) else {}
        self.used: dict[str, Any] = {}
        # The SQL rules' facts (sql_scan.facts) by digest of the rendered SQL and dialect.
        facts = data.get("sql_facts") if valid else None
        self.facts: dict[str, Any] = facts if isinstance(facts, dict) else {}
        self.facts_used: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> ModelLineage | None:
        raw = self.entries.get(key)
        if raw is None:
            return None
        try:
            found = ModelLineage.from_json(raw)
        except (KeyError, TypeError, ValueError):
            return None  # a damaged entry is recomputed, never trusted
        self.used[key] = raw
        self.hits += 1
        return found

    def put(self, key: str, lineage: ModelLineage) -> None:
        self.used[key] = lineage.to_json()
        self.misses += 1

    def facts_get(self, key: str) -> tuple[bool, SqlFacts | None]:
        """(found, facts); a damaged entry is not found (recomputed, never trusted)."""
        from floe.rules.sql_scan import facts_from_json

        raw = self.facts.get(key)
        if raw is None:
            return False, None
        try:
            found = facts_from_json(raw)
        except (TypeError, ValueError):
            return False, None
        self.facts_used[key] = raw
        return True, found

    def facts_put(self, key: str, found: SqlFacts | None) -> None:
        from floe.rules.sql_scan import facts_to_json

        self.facts_used[key] = facts_to_json(found)

    def to_json(self) -> dict[str, Any]:
        """The entries used (unordered: the writer sorts keys, `json.dumps(sort_keys=True)`)."""
        return {
            "version": self.VERSION,
            "entries": dict(self.used),
            "sql_facts": dict(self.facts_used),
        }


_SELECT_WORD = re.compile(r"\bselect\b", re.IGNORECASE)


def project_lineage(
    root: Any,
    order: list[Model],
    leaves: Mapping[str, tuple[str, ...] | None],
    dialect: str,
    cache: LineageCache,
) -> dict[str, ModelLineage]:
    """Lineage of every model with a .sql file, parents first (`order` is topological)."""
    from floe.rules.dbt_reader import read_model_text

    columns: dict[str, tuple[str, ...] | None] = dict(leaves)
    result: dict[str, ModelLineage] = {}
    for model in order:
        declared = tuple(c.name for c in model.columns) or None
        sql_file = model.sql_file
        if not sql_file or not sql_file.endswith(".sql"):
            columns[model.name] = declared
            continue
        text = read_model_text(root, sql_file)
        if text is None:
            columns[model.name] = declared
            continue
        sql = render(text)
        upstream = {name: columns.get(name) for name in upstream_names(model)}
        key = digest(dialect + "\0" + sql, upstream.items())
        found = cache.get(key)
        if found is None:
            found = _with_select_line(model_lineage(sql, dialect, upstream), sql)
            cache.put(key, found)
        result[model.name] = found
        known = found.complete and found.error is None and found.columns
        columns[model.name] = tuple(c.name for c in found.columns) if known else declared
    return result


def _with_select_line(lineage: ModelLineage, sql: str) -> ModelLineage:
    """Columns whose line sqlglot does not know (a `*`) point at the first `select`."""
    match = _SELECT_WORD.search(sql)
    line = sql.count("\n", 0, match.start()) + 1 if match else 1
    if all(c.line != 1 for c in lineage.columns) or line == 1:
        return lineage
    fixed = tuple(
        OutputColumn(c.name, c.deps, c.line if c.line != 1 else line) for c in lineage.columns
    )
    return ModelLineage(fixed, lineage.complete, lineage.error)


def topological(models: Mapping[str, Model]) -> list[Model]:
    """Models with parents first (Kahn's algorithm; name order breaks ties, cycles last)."""
    children: dict[str, list[str]] = {}
    pending: dict[str, int] = {}
    for name in sorted(models):
        parents = {ref for ref in models[name].refs if ref in models and ref != name}
        pending[name] = len(parents)
        for parent in parents:
            children.setdefault(parent, []).append(name)
    ready = sorted((name for name in pending if pending[name] == 0), reverse=True)
    order: list[Model] = []
    while ready:
        name = ready.pop()
        order.append(models[name])
        for child in children.get(name, ()):
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if len(order) < len(models):
        seen = {model.name for model in order}
        order.extend(models[name] for name in sorted(models) if name not in seen)
    return order
