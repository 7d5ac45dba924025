"""dbt properties the catalogue rule families read (contracts, access, versions, ...).

`Model.props` holds them; `floe/rules/props_reader.py` fills them from schema YAML and
model files, or from `target/manifest.json`. Kept apart from `Model` so a reader that
knows nothing of them (an old case file, a test) leaves the defaults: nothing declared.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Constraint:
    type: str  # primary_key, not_null, unique, foreign_key, check
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NodeProps:
    access: str | None = None  # private | protected | public (dbt's default: protected)
    group: str | None = None
    contract_enforced: bool = False
    constraints: tuple[Constraint, ...] = ()  # model-level and column-level, flattened
    tags: tuple[str, ...] = ()
    unique_key: tuple[str, ...] = ()
    versioned: bool = False  # the properties declare `versions:`
    latest_version: str | None = None
    deprecation_date: str | None = None  # as written (YYYY-MM-DD[...])
    pinned_refs: tuple[str, ...] = ()  # models referenced with an explicit version
    sql: str | None = None  # the model's SQL as written (Jinja included)
    sql_line: int = 1  # line of the SQL text's first line in sql_file


NO_PROPS = NodeProps()


@dataclass(frozen=True, slots=True)
class Exposure:
    name: str
    file: str
    line: int
    depends_on: tuple[str, ...] = ()  # model names referenced via ref()
