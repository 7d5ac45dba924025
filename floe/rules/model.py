"""The neutral project model the rule engine reads.

A dbt project (files or `target/manifest.json`) and the platform team's inline test
cases both become a `Project`; the rules never see dbt's own shapes. Paths are POSIX
and relative to the project root so findings are stable across machines.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from floe.rules.props import NO_PROPS, Exposure, NodeProps

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    description: str | None = None
    data_type: str | None = None
    classification: str | None = None
    tests: tuple[str, ...] = ()  # normalized test names: not_null, unique, dbt_utils.recency
    line: int = 1  # line of the column entry in its schema YAML


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    file: str  # schema YAML that describes the model, else its .sql (POSIX, relative)
    line: int  # line of the model entry in that YAML, or 1 in the .sql
    sql_file: str | None = None
    layer: str | None = None  # explicit (config.meta.layer) or inferred by the reader
    schema: str | None = None  # the configured custom schema (namespace), if any
    description: str | None = None
    columns: tuple[Column, ...] = ()
    # Model-level tests, plus markers the reader derives: "freshness" when the model
    # has a freshness config (meta/config freshness or a recency test).
    tests: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()  # names of models/seeds this model selects from via ref()
    grants: dict[str, tuple[str, ...]] = field(default_factory=dict)  # privilege -> roles
    meta: dict[str, Any] = field(default_factory=dict)
    materialized: str | None = None
    primary_key: str | None = None
    # Folder parts between the model path and the .sql file (models/silver/x.sql -> silver).
    folders: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # "source_name.table" read via source()
    layer_source: Literal["meta", "folder", "prefix"] | None = None
    props: NodeProps = NO_PROPS  # access, group, contract, versions, SQL (catalogue rules)
    # ---- what dbt builds (the sound gate; all optional, additive) ----
    # The schema dbt resolved through generate_schema_name (manifest mode), else None.
    resolved_schema: str | None = None
    resource_type: Literal["model", "snapshot"] = "model"
    package: str | None = None  # the dbt package the node comes from (None: this project)
    version: str | None = None  # model versions: each version is its own Model
    # Config arguments floe could not evaluate in files mode: (key, line, expression).
    unresolved: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # "source_name.table"
    file: str
    line: int
    columns: tuple[Column, ...] = ()
    freshness: bool = False  # a freshness block (table or source level) is configured
    description: str | None = None
    loader: str | None = None


@dataclass(frozen=True, slots=True)
class Seed:
    name: str
    file: str
    line: int
    columns: tuple[Column, ...] = ()
    schema: str | None = None
    description: str | None = None
    csv_file: str | None = None  # the seed's CSV (its header gives the real columns)


@dataclass(frozen=True, slots=True)
class Project:
    name: str
    root: Path
    models: dict[str, Model]
    sources: dict[str, Source] = field(default_factory=dict)
    seeds: dict[str, Seed] = field(default_factory=dict)
    origin: Literal["files", "manifest", "inline"] = "files"
    config_file: str = "dbt_project.yml"  # where project-wide findings (coverage) point
    exposures: tuple[Exposure, ...] = ()
    # The target's default schema when known (run/--parse: floe's profile), for resolved
    # schemas `<target>_<custom>` made by dbt's default generate_schema_name.
    target_schema: str | None = None
    # Where the models came from: {"kind": "files"|"manifest"|"dbt-parse", ...} (reports).
    read_from: dict[str, Any] = field(default_factory=dict)
    # Findings the reader itself makes (a stale manifest, unparsable SQL, ...).
    reader_findings: tuple[Finding, ...] = ()
    # Manifest mode: the names of the model nodes dbt builds as relations (not ephemeral,
    # any package), so an orchestrator lists its assets without parsing the manifest again.
    built_models: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    model: str | None
    file: str | None
    line: int | None
    message: str
    hint: str
    # A governed waiver covers this finding: {rule, model, reason, owner, expires, file, line}.
    waiver: dict[str, Any] | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None

    def sort_key(self) -> tuple[str, int, str, str, str]:
        return (self.file or "", self.line or 0, self.rule_id, self.model or "", self.message)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "model": self.model,
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }
        if self.waiver is not None:
            out["waived"] = True
            out["waiver"] = dict(self.waiver)
        return out


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a big acyclic structure.

    Reading 10,000 models allocates about a million objects; each full collection walks
    all of them, which made reading superlinear. Reference counting still frees memory.
    What was built is then frozen (`gc.freeze`: moved out of the collected generations),
    else the next collections walk it all anyway (10,000 models: ~1.5 s of collections
    after the pause). Frozen objects are still freed by reference counting; only a cycle
    among them would outlive its use, and these structures hold none.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
