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

import ast
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from floe.errors import UsageError
from floe.rules.model import Column, Model, Project, Seed, Source, paused_gc
from floe.rules.props import Exposure
from floe.rules.props_reader import props_from_files, schema_exposures, source_loader
from floe.rules.yaml_lines import LinedYaml, load_yaml

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
_CONFIG = re.compile(r"\{\{-?\s*config\s*\((.*?)\)\s*-?\}\}", re.DOTALL)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_CLASSIFICATION_TAG = "classification:"
_READ_CHUNK = 1 << 16
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation by os.read


@dataclass
class _Entry:
    """One `models:` / `seeds:` entry of a schema YAML file, with where it came from."""

    data: dict[str, Any]
    file: str
    line: int
    columns: tuple[Column, ...] = ()
    tests: tuple[str, ...] = ()


@dataclass
class _Scan:
    sql: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # name->(file,dirs)
    yml: list[str] = field(default_factory=list)
    csv: dict[str, str] = field(default_factory=dict)
    newest: float = 0.0


def read_project(root: Path, *, layers: Mapping[str, str] | None = None) -> Project:
    """Read the dbt project at `root`; `layers` maps known layer -> name prefix."""
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
    manifest = root / "target" / "manifest.json"
    has_manifest = manifest.is_file()
    # Modification times only matter against a manifest: without one, skip 10k stat calls.
    scan = _scan(root, model_paths, seed_paths, with_mtimes=has_manifest)
    scan.newest = max(scan.newest, config_file.stat().st_mtime)
    if has_manifest and manifest.stat().st_mtime > scan.newest:
        from floe.rules.dbt_manifest import read_manifest

        with paused_gc():
            return read_manifest(root, manifest, name, scan.yml, known)
    with paused_gc():
        return _Reader(root, name, config, known).read(scan)


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
            scan.newest = max(scan.newest, mtime)
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
        models_yaml: dict[str, _Entry] = {}
        seeds_yaml: dict[str, _Entry] = {}
        sources: dict[str, Source] = {}
        exposures: list[Exposure] = []
        for rel in scan.yml:
            doc = load_schema_file(self.root, rel)
            if not isinstance(doc.data, dict):
                continue
            exposures.extend(schema_exposures(doc, rel))
            for entry in schema_entries(doc, rel, "models"):
                models_yaml.setdefault(str(entry.data["name"]), entry)
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
        self, name: str, sql_file: str, dirs: tuple[str, ...], entry: _Entry | None
    ) -> Model | None:
        text = _read_text(self.root, sql_file)
        code = _JINJA_COMMENT.sub("", text) if "{#" in text else text
        inline = _inline_config(code)
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
            props=props_from_files(config, yaml_data, code),
        )

    def _seed(self, name: str, csv: str, entry: _Entry | None) -> Seed:
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


# ---- schema YAML ----------------------------------------------------------------------


def schema_entries(doc: LinedYaml, rel: str, kind: str) -> Iterator[_Entry]:
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
        yield _Entry(item, rel, line, columns, tests)


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


def _inline_config(code: str) -> dict[str, Any]:
    """Literal keyword arguments of `{{ config(...) }}`; anything dynamic is skipped."""
    if "config" not in code:
        return {}
    config: dict[str, Any] = {}
    for match in _CONFIG.finditer(code):
        try:
            call = ast.parse(f"f({match.group(1)})", mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            if keyword.arg is None:
                continue
            try:
                config[keyword.arg] = _literal(keyword.value)
            except ValueError:
                continue
    return config


_JINJA_NAMES = {"true": True, "false": False, "none": None, "True": True, "False": False}


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Name) and node.id in _JINJA_NAMES:
        return _JINJA_NAMES[node.id]
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item) for item in node.elts]
    return ast.literal_eval(node)


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


def str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
