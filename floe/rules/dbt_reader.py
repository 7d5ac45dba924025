"""Read a dbt project into the neutral `Project` model, without dbt installed.

Sources of truth, in dbt's own precedence: `{{ config(...) }}` in the model file,
then the model's entry in schema YAML (`config:` or top-level keys), then the folder
blocks under `models:` in dbt_project.yml (`+schema`, `+materialized`, `+meta`, ...).

When `target/manifest.json` exists and is newer than dbt_project.yml and every file
under the model and seed paths, models come from it (configs there are already
rendered by dbt); schema YAML is still scanned for the line of each model and column.

Layer of a model: `meta.layer` (any config level); else a folder under the model path
that is a known layer (`models/silver/x.sql`); else a known layer prefix of its name.
The rule engine repeats the folder/prefix steps with the platform's own layer list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from floe.errors import UsageError
from floe.rules.dbt_config import inline_config, jinja_values
from floe.rules.model import Model, Project, Seed, Source, paused_gc
from floe.rules.props import Exposure
from floe.rules.props_reader import props_from_files, schema_exposures
from floe.rules.schema_yaml import (
    Entry,
    schema_entries,
    schema_sources,
    str_or_none,
)
from floe.rules.yaml_lines import LinedYaml, load_yaml

if TYPE_CHECKING:
    from floe.rules.manifest_stream import SlimCache

SLUG = "project_invalid"
DEFAULT_LAYER_PREFIXES: dict[str, str] = {
    "bronze": "bronze_",
    "silver": "silver_",
    "gold": "gold_",
    "staging": "stg_",
    "intermediate": "int_",
    "dimension": "dim_",
    "fact": "fct_",
}
_CONFIG_KEYS = frozenset(
    {"schema", "materialized", "meta", "grants", "tags", "enabled", "freshness", "docs"}
)
_REF = re.compile(r"""\bref\s*\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])([^'"]+)\3)?""")
_SOURCE = re.compile(r"""\bsource\s*\(\s*(['"])([^'"]+)\1\s*,\s*(['"])([^'"]+)\3""")
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_READ_CHUNK = 1 << 16
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation by os.read


@dataclass
class _Scan:
    sql: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # name->(file,dirs)
    yml: list[str] = field(default_factory=list)
    csv: dict[str, str] = field(default_factory=dict)
    newest: float = 0.0
    newest_file: str = "dbt_project.yml"


def read_project(
    root: Path,
    *,
    layers: Mapping[str, str] | None = None,
    manifest: Path | None = None,
    document: dict[str, Any] | None = None,
    manifest_cache: SlimCache | None = None,
) -> Project:
    """Read the dbt project at `root`; `layers` maps known layer -> name prefix.

    `document` is dbt's own parse (floe run, compile --parse); `manifest` a given
    manifest.json; else target/manifest.json when it is newer than every project file,
    else the files (a stale manifest is then reported as `project.manifest_stale`).
    `manifest_cache` keeps a manifest.json's slim document between compiles.
    """
    root = Path(root)
    known = dict(layers) if layers is not None else DEFAULT_LAYER_PREFIXES
    config_file = root / "dbt_project.yml"
    if not config_file.is_file():
        raise UsageError(
            SLUG,
            f"{root}: no dbt_project.yml",
            hint="run floe in the dbt project's root (where dbt_project.yml is)",
        )
    project_doc = load_schema_file(root, "dbt_project.yml")
    config = project_doc.data if isinstance(project_doc.data, dict) else {}
    name = str(config.get("name") or root.name)
    model_paths = _paths(config, "model-paths", "source-paths", default="models")
    seed_paths = _paths(config, "seed-paths", "data-paths", default="seeds")
    given = manifest is not None
    path = manifest if manifest is not None else root / "target" / "manifest.json"
    has_manifest = document is None and path.is_file()
    if given and not has_manifest:
        raise UsageError(
            SLUG, f"{path}: no such manifest", hint="run `dbt parse` or fix --manifest"
        )
    # Modification times only matter against a manifest: without one, skip 10k stat calls.
    scan = _scan(root, model_paths, seed_paths, with_mtimes=has_manifest)
    scan.newest = max(scan.newest, config_file.stat().st_mtime)
    from floe.rules import dbt_manifest as dm

    if document is not None:
        with paused_gc():
            project = dm.project_from_manifest(root, document, name, scan.yml, known)
        return replace(project, read_from={"kind": "dbt-parse"})
    if has_manifest and (given or path.stat().st_mtime > scan.newest):
        with paused_gc():
            return dm.read_manifest(root, path, name, scan.yml, known, manifest_cache)
    with paused_gc():
        project = _Reader(root, name, config, known).read(scan)
    if has_manifest:
        stale = dm.stale_finding(root, path, scan.newest_file)
        project = replace(project, reader_findings=(*project.reader_findings, stale))
    return project


def _version_files(entry: Entry) -> list[str]:
    """The model files of a versioned model: `defined_in`, else `<name>_v<v>`."""
    versions = entry.data.get("versions")
    stems: list[str] = []
    for version in versions if isinstance(versions, list) else ():
        if isinstance(version, dict) and version.get("v") is not None:
            defined = version.get("defined_in")
            stems.append(str(defined) if defined else f"{entry.data['name']}_v{version['v']}")
    return stems


def _paths(config: dict[str, Any], key: str, legacy: str, *, default: str) -> list[str]:
    value = config.get(key, config.get(legacy, [default]))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(SLUG, f"dbt_project.yml: {key} must be a list of folders")
    return [PurePosixPath(v).as_posix().rstrip("/") for v in value]


def _scan(
    root: Path, model_paths: list[str], seed_paths: list[str], *, with_mtimes: bool = True
) -> _Scan:
    """One walk over the model and seed folders (sorted, so results are deterministic)."""
    scan = _Scan()
    for base, is_model in [*((p, True) for p in model_paths), *((p, False) for p in seed_paths)]:
        for rel, dirs, mtime in _walk(root, base, with_mtimes):
            if mtime > scan.newest:
                scan.newest, scan.newest_file = mtime, rel
            stem, _, suffix = rel.rpartition("/")[2].rpartition(".")
            if suffix in ("yml", "yaml"):
                scan.yml.append(rel)
            elif is_model and suffix in ("sql", "py") and stem not in scan.sql:
                scan.sql[stem] = (rel, dirs)
            elif not is_model and suffix == "csv":
                scan.csv.setdefault(stem, rel)
    scan.yml = sorted(set(scan.yml))
    return scan


def _walk(
    root: Path, base: str, with_mtimes: bool = True
) -> Iterator[tuple[str, tuple[str, ...], float]]:
    top = root / base
    if not top.is_dir():
        return
    stack: list[tuple[Path, tuple[str, ...]]] = [(top, ())]
    while stack:
        folder, dirs = stack.pop()
        with os.scandir(folder) as entries:
            items = sorted(entries, key=lambda e: e.name)
        for entry in reversed(items):
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), (*dirs, entry.name)))
            elif entry.is_file():
                rel = "/".join((base, *dirs, entry.name))
                yield rel, dirs, entry.stat().st_mtime if with_mtimes else 0.0


def load_schema_file(root: Path, rel: str) -> LinedYaml:
    try:
        text = _read_utf8(os.path.join(root, rel))
    except UnicodeDecodeError:
        raise UsageError(SLUG, f"{rel}: not UTF-8", hint="save the file as UTF-8") from None
    except OSError as exc:
        raise UsageError(SLUG, f"{rel}: cannot read: {exc.strerror}") from None
    return load_yaml(text, rel, slug=SLUG)


class _Reader:
    def __init__(
        self, root: Path, name: str, config: dict[str, Any], known: Mapping[str, str]
    ) -> None:
        self.root = root
        self.name = name
        self.known = known
        self.prefixes = sorted(
            ((prefix, layer) for layer, prefix in known.items() if prefix),
            key=lambda item: -len(item[0]),
        )
        self.folder_configs = _folder_tree(config.get("models"), name)
        self.seed_configs = _folder_tree(config.get("seeds"), name)
        self.folder_cache: dict[tuple[str, ...], dict[str, Any]] = {}

    def read(self, scan: _Scan) -> Project:
        models_yaml: dict[str, Entry] = {}
        seeds_yaml: dict[str, Entry] = {}
        sources: dict[str, Source] = {}
        exposures: list[Exposure] = []
        for rel in scan.yml:
            doc = load_schema_file(self.root, rel)
            if not isinstance(doc.data, dict):
                continue
            exposures.extend(schema_exposures(doc, rel))
            for entry in schema_entries(doc, rel, "models"):
                models_yaml.setdefault(str(entry.data["name"]), entry)
                for stem in _version_files(entry):  # `versions:`: one .sql per version
                    models_yaml.setdefault(stem, entry)
            for entry in schema_entries(doc, rel, "seeds"):
                seeds_yaml.setdefault(str(entry.data["name"]), entry)
            for source in schema_sources(doc, rel):
                sources.setdefault(source.name, source)
        models: dict[str, Model] = {}
        for model_name in sorted(scan.sql):
            sql_file, dirs = scan.sql[model_name]
            model = self._model(model_name, sql_file, dirs, models_yaml.get(model_name))
            if model is not None:
                models[model_name] = model
        seeds = {
            seed_name: self._seed(seed_name, csv, seeds_yaml.get(seed_name))
            for seed_name, csv in sorted(scan.csv.items())
        }
        return Project(
            self.name, self.root, models, sources, seeds, "files", exposures=tuple(exposures)
        )

    def _model(
        self, name: str, sql_file: str, dirs: tuple[str, ...], entry: Entry | None
    ) -> Model | None:
        text = _read_text(self.root, sql_file)
        code = _JINJA_COMMENT.sub("", text) if "{#" in text else text
        inline, unresolved = inline_config(code)
        yaml_data = entry.data if entry else {}
        yaml_config = _dict(yaml_data.get("config"))
        config = _merge(
            self._folder_config(self.folder_configs, dirs),
            _config_subset(yaml_data),
            yaml_config,
            inline,
        )
        if config.get("enabled") is False:
            return None
        unresolved.extend((key, 1, text) for key, text in jinja_values(config))
        meta = _dict(config.get("meta"))
        layer, how = self._layer(name, dirs, meta)
        tests = list(entry.tests if entry else ())
        if "freshness" in meta or config.get("freshness") or "freshness" in yaml_data:
            tests.append("freshness")
        columns = entry.columns if entry else ()
        return Model(
            name=name,
            file=entry.file if entry else sql_file,
            line=entry.line if entry else 1,
            sql_file=sql_file,
            layer=layer,
            schema=str_or_none(config.get("schema")),
            description=str_or_none(yaml_data.get("description")),
            columns=columns,
            tests=tuple(tests),
            refs=_refs(code),
            grants=grants_of(config.get("grants")),
            meta=meta,
            materialized=str_or_none(config.get("materialized")),
            primary_key=primary_key(meta, yaml_data),
            folders=dirs,
            sources=_source_refs(code),
            layer_source=how,
            unresolved=tuple(unresolved),
            props=props_from_files(config, yaml_data, code),
        )

    def _seed(self, name: str, csv: str, entry: Entry | None) -> Seed:
        dirs = tuple(csv.split("/")[1:-1])
        yaml_data = entry.data if entry else {}
        yaml_config = _dict(yaml_data.get("config"))
        config = _merge(
            self._folder_config(self.seed_configs, dirs), _config_subset(yaml_data), yaml_config
        )
        return Seed(
            name=name,
            file=entry.file if entry else csv,
            line=entry.line if entry else 1,
            columns=entry.columns if entry else (),
            schema=str_or_none(config.get("schema")),
            description=str_or_none(yaml_data.get("description")),
            csv_file=csv,
        )

    def _folder_config(self, tree: dict[str, Any], dirs: tuple[str, ...]) -> dict[str, Any]:
        key = (str(id(tree)), *dirs)
        cached = self.folder_cache.get(key)
        if cached is None:
            cached = _resolve_folder(tree, dirs)
            self.folder_cache[key] = cached
        return cached

    def _layer(
        self, name: str, dirs: tuple[str, ...], meta: dict[str, Any]
    ) -> tuple[str | None, Literal["meta", "folder", "prefix"] | None]:
        if isinstance(meta.get("layer"), str) and meta["layer"]:
            return str(meta["layer"]), "meta"
        for part in reversed(dirs):
            if part in self.known:
                return part, "folder"
        for prefix, layer in self.prefixes:
            if name.startswith(prefix):
                return layer, "prefix"
        return None, None


# ---- dbt_project.yml folder configs -----------------------------------------------


def _folder_tree(block: Any, project: str) -> dict[str, Any]:
    """The `models:` block for this project (configs at its top apply to every model)."""
    if not isinstance(block, dict):
        return {}
    merged = {k: v for k, v in block.items() if _is_config_key(k)}
    own = block.get(project)
    if isinstance(own, dict):
        merged.update(own)
    return merged


def _is_config_key(key: Any) -> bool:
    return isinstance(key, str) and (key.startswith("+") or key in _CONFIG_KEYS)


def _resolve_folder(tree: dict[str, Any], dirs: tuple[str, ...]) -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    node: Any = tree
    levels.append(_level_config(node))
    for part in dirs:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            break
        levels.append(_level_config(node))
    return _merge(*levels)


def _level_config(node: dict[str, Any]) -> dict[str, Any]:
    return {k.lstrip("+"): v for k, v in node.items() if _is_config_key(k)}


def _merge(*configs: dict[str, Any]) -> dict[str, Any]:
    """Later configs win; `meta` and `grants` merge key by key, as dbt does."""
    out: dict[str, Any] = {}
    for config in configs:
        for key, value in config.items():
            if key in ("meta", "grants") and isinstance(value, dict):
                previous = out.get(key)
                out[key] = {**(previous if isinstance(previous, dict) else {}), **value}
            else:
                out[key] = value
    return out


def _config_subset(data: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys of a YAML entry that act as config (`meta:` beside `config:`)."""
    return {k: data[k] for k in ("meta", "grants") if isinstance(data.get(k), dict)}


# ---- model files ----------------------------------------------------------------------


def _read_utf8(path: str) -> str:
    """The file as text mode reads it (universal newlines), at a third of the cost of
    `open()`'s file objects: a 10,000-model project reads 10,000 files."""
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        data = os.read(fd, _READ_CHUNK)
        if len(data) == _READ_CHUNK:  # a big file: read on to the end
            parts = [data]
            while more := os.read(fd, _READ_CHUNK):
                parts.append(more)
            data = b"".join(parts)
    finally:
        os.close(fd)
    text = data.decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _read_text(root: Path, rel: str) -> str:
    try:
        return _read_utf8(os.path.join(root, rel))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(SLUG, f"{rel}: cannot read: {exc}") from None


def _refs(code: str) -> tuple[str, ...]:
    if "ref" not in code:
        return ()
    names = {match.group(4) or match.group(2) for match in _REF.finditer(code)}
    return tuple(sorted(names))


def _source_refs(code: str) -> tuple[str, ...]:
    if "source" not in code:
        return ()
    names = {f"{m.group(2)}.{m.group(4)}" for m in _SOURCE.finditer(code)}
    return tuple(sorted(names))


def grants_of(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        return {}
    grants: dict[str, tuple[str, ...]] = {}
    for privilege, roles in value.items():
        if isinstance(roles, str):
            grants[str(privilege)] = (roles,)
        elif isinstance(roles, list):
            grants[str(privilege)] = tuple(str(role) for role in roles)
    return grants


def primary_key(meta: dict[str, Any], data: dict[str, Any]) -> str | None:
    """`meta.primary_key`, else a single-column primary_key constraint."""
    declared = meta.get("primary_key")
    if isinstance(declared, list) and len(declared) == 1:
        declared = declared[0]
    if isinstance(declared, str) and declared:
        return declared
    for constraint in data.get("constraints") or []:
        if isinstance(constraint, dict) and constraint.get("type") == "primary_key":
            keys = constraint.get("columns") or []
            if isinstance(keys, list) and len(keys) == 1:
                return str(keys[0])
    for column in data.get("columns") or []:
        if isinstance(column, dict):
            for constraint in column.get("constraints") or []:
                if isinstance(constraint, dict) and constraint.get("type") == "primary_key":
                    return str(column.get("name"))
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_model_text(root: Path, rel: str) -> str | None:
    """A model file's text for lineage, or None when it cannot be read."""
    try:
        return _read_utf8(os.path.join(root, rel))
    except (OSError, UnicodeDecodeError):
        return None


def csv_header(root: Path, rel: str | None) -> tuple[str, ...] | None:
    """A seed CSV's column names (its first line), or None when unreadable."""
    import csv

    if not rel:
        return None
    try:
        with open(os.path.join(root, rel), encoding="utf-8", newline="") as handle:
            row = next(csv.reader([handle.readline()]), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    names = tuple(name.strip() for name in row or () if name.strip())
    return names or None
