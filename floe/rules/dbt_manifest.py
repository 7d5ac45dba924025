"""Read models from dbt's `target/manifest.json` (used when it is fresher than the files).

dbt has already rendered every config there (Jinja, `+` folder configs, `config()`
calls), so the values are exactly what dbt will build. Test nodes are attached to
their model and column through `attached_node` (or `depends_on`) and `column_name`.
Line numbers are not in the manifest: the schema YAML files are scanned for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from floe.errors import UsageError
from floe.rules.dbt_reader import SLUG, grants_of, load_schema_file, primary_key
from floe.rules.model import Column, Finding, Model, Project, Seed, Source
from floe.rules.props_reader import manifest_exposures, props_from_node, schema_exposures
from floe.rules.schema_yaml import classification_of, schema_entries, schema_sources, str_or_none

if TYPE_CHECKING:
    from floe.rules.manifest_stream import SlimCache

_GOVERNED = ("model", "snapshot")


def read_manifest(
    root: Path,
    path: Path,
    name: str,
    yml_files: list[str],
    known: Mapping[str, str],
    cache: SlimCache | None = None,
) -> Project:
    """The Project of a manifest.json, read once (streamed, slimmed; see manifest_stream),
    with `read_from` saying what was read: path, digest, dbt's timestamp. With a `cache`
    an unchanged file's slim document is loaded, not streamed again."""
    from floe.rules.manifest_stream import read_slim_cached

    try:
        manifest, digest = read_slim_cached(path, cache)
    except (OSError, ValueError) as exc:
        raise _unreadable(f"cannot read: {exc}") from None
    origin = _origin(root, path, manifest, digest)
    try:  # the slim document is ours: each node goes as soon as its Model is built
        project = _project(root, manifest, name, yml_files, known, consume=True)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _unreadable(f"unexpected shape ({type(exc).__name__}: {exc})") from None
    return replace(project, read_from=origin)


def project_from_manifest(
    root: Path, manifest: Any, name: str, yml_files: list[str], known: Mapping[str, str]
) -> Project:
    """The Project of a manifest document (a file, or dbt's in-process parse as a dict)."""
    try:
        return _project(root, manifest, name, yml_files, known)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # A manifest from another dbt version, or edited by hand: not the shapes we read.
        raise _unreadable(f"unexpected shape ({type(exc).__name__}: {exc})") from None


def _origin(root: Path, path: Path, manifest: Any, digest: str) -> dict[str, Any]:
    """What compiled.json says about a manifest it read: path, digest, dbt's timestamp."""
    metadata = manifest.get("metadata") if isinstance(manifest, dict) else None
    generated = metadata.get("generated_at") if isinstance(metadata, dict) else None
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(path)
    return {
        "kind": "manifest",
        "path": shown,
        "digest": digest,
        "generated_at": generated,
        "mtime": path.stat().st_mtime,
    }


def stale_finding(root: Path, path: Path, newest_file: str) -> Finding:
    """target/manifest.json is older than a project file: the files were read instead."""
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(path)
    return Finding(
        "project.manifest_stale",
        "warning",
        None,
        shown,
        1,
        f"{shown} is older than {newest_file}; floe read the files, not the manifest",
        "run `floe compile --parse` (or `dbt parse`) so the manifest matches the files, "
        "or delete it",
    )


def node_key(node: dict[str, Any]) -> str:
    """The project-wide name of a node: `name`, `name.v2` for a model version."""
    version = node.get("version")
    return f"{node['name']}.v{version}" if version is not None else str(node["name"])


def _unreadable(why: str) -> UsageError:
    return UsageError(
        SLUG, f"target/manifest.json: {why}", hint="delete target/ or run `dbt parse` again"
    )


def _project(
    root: Path,
    manifest: Any,
    name: str,
    yml_files: list[str],
    known: Mapping[str, str],
    *,
    consume: bool = False,
) -> Project:
    """`consume`: pop each node from `manifest` once read (memory: one copy, not two)."""
    nodes: dict[str, Any] = manifest.get("nodes") or {}
    lines = _Lines(root, yml_files)
    model_tests, column_tests = _tests_by_node(nodes)
    models: dict[str, Model] = {}
    seeds: dict[str, Seed] = {}
    keys = _keys(nodes, manifest.get("sources") or {})
    built = {
        str(node.get("name"))
        for node in nodes.values()
        if isinstance(node, dict)
        and node.get("resource_type") == "model"
        and (node.get("config") or {}).get("materialized") != "ephemeral"
    }
    for unique_id in sorted(nodes):
        node = nodes.pop(unique_id) if consume else nodes[unique_id]
        kind = node.get("resource_type")
        if kind in _GOVERNED:
            model = _model(node, unique_id, model_tests, column_tests, lines, known)
            model = _resolved(model, node, name, keys)
            models[model.name] = model
        elif kind == "seed":
            columns = _columns(
                node, column_tests.get(unique_id, {}), lines.columns.get(("seed", node["name"]), {})
            )
            file, line = lines.models.get(("seed", node["name"]), (node["original_file_path"], 1))
            seeds[node["name"]] = Seed(
                node["name"],
                file,
                line,
                columns,
                str_or_none((node.get("config") or {}).get("schema")),
                str_or_none(node.get("description")),
                node.get("original_file_path"),
            )
    sources: dict[str, Source] = {}
    for unique_id in sorted(manifest.get("sources") or {}):
        node = manifest["sources"][unique_id]
        source_name = f"{node['source_name']}.{node['name']}"
        file, line = lines.sources.get(source_name, (node.get("original_file_path", ""), 1))
        freshness = node.get("freshness") or {}
        sources[source_name] = Source(
            source_name,
            file,
            line,
            _columns(node, {}, {}),
            bool(freshness.get("warn_after", {}).get("count"))
            or bool(freshness.get("error_after", {}).get("count")),
            str_or_none(node.get("description")),
            str_or_none(node.get("loader")),
        )
    exposures = manifest_exposures(manifest, lines.exposures)
    return Project(
        name,
        root,
        models,
        sources,
        seeds,
        "manifest",
        exposures=exposures,
        built_models=tuple(sorted(built)),
    )


def _keys(nodes: dict[str, Any], sources: dict[str, Any]) -> dict[str, str]:
    """unique_id -> the name a Project uses for it (models, seeds, snapshots, sources)."""
    keys = {uid: node_key(node) for uid, node in nodes.items() if "name" in node}
    for uid, source in sources.items():
        keys[uid] = "source:" + f"{source['source_name']}.{source['name']}"
    return keys


def _resolved(model: Model, node: dict[str, Any], name: str, keys: dict[str, str]) -> Model:
    """What dbt resolved: schema, version, package, exact upstreams from depends_on."""
    upstream = (node.get("depends_on") or {}).get("nodes") or []
    depends = [keys[uid] for uid in upstream if uid in keys]
    package = node.get("package_name")
    version = node.get("version")
    where: dict[str, Any] = {}
    if package not in (None, name):  # a package node: its own files, under dbt_packages/
        sql_file = f"dbt_packages/{package}/{node.get('original_file_path', '')}"
        where = {"file": sql_file, "line": 1, "sql_file": sql_file}
    return replace(
        model,
        **where,
        name=node_key(node),
        resolved_schema=str_or_none(node.get("schema")),
        resource_type="snapshot" if node.get("resource_type") == "snapshot" else "model",
        package=None if package in (None, name) else str(package),
        version=None if version is None else str(version),
        refs=tuple(sorted({d for d in depends if not d.startswith("source:")}))
        if upstream
        else model.refs,
        sources=tuple(sorted({d[7:] for d in depends if d.startswith("source:")}))
        if upstream
        else model.sources,
    )


class _Lines:
    """Where each model, seed, column and source table sits in the schema YAML."""

    def __init__(self, root: Path, yml_files: list[str]) -> None:
        self.models: dict[tuple[str, str], tuple[str, int]] = {}
        self.columns: dict[tuple[str, str], dict[str, int]] = {}
        self.sources: dict[str, tuple[str, int]] = {}
        self.exposures: dict[str, tuple[str, int]] = {}
        for rel in yml_files:  # each file parsed once, for every kind of entry
            doc = load_schema_file(root, rel)
            if not isinstance(doc.data, dict):
                continue
            for kind, label in (("models", "model"), ("snapshots", "model"), ("seeds", "seed")):
                for entry in schema_entries(doc, rel, kind):
                    key = (label, str(entry.data["name"]))
                    self.models.setdefault(key, (rel, entry.line))
                    self.columns.setdefault(key, {c.name: c.line for c in entry.columns})
            for source in schema_sources(doc, rel):
                self.sources.setdefault(source.name, (source.file, source.line))
            for exposure in schema_exposures(doc, rel):
                self.exposures.setdefault(exposure.name, (exposure.file, exposure.line))


def _tests_by_node(
    nodes: dict[str, Any],
) -> tuple[dict[str, list[str]], dict[str, dict[str, list[str]]]]:
    """Test names per model node, and per model node and column."""
    model_tests: dict[str, list[str]] = {}
    column_tests: dict[str, dict[str, list[str]]] = {}
    for unique_id in sorted(nodes):
        node = nodes[unique_id]
        metadata = node.get("test_metadata")
        if node.get("resource_type") != "test" or not isinstance(metadata, dict):
            continue
        attached = node.get("attached_node") or next(
            iter((node.get("depends_on") or {}).get("nodes") or []), None
        )
        if not attached:
            continue
        test = metadata["name"]
        if metadata.get("namespace"):
            test = f"{metadata['namespace']}.{test}"
        column = node.get("column_name") or (metadata.get("kwargs") or {}).get("column_name")
        if column:
            column_tests.setdefault(attached, {}).setdefault(str(column), []).append(test)
        else:
            model_tests.setdefault(attached, []).append(test)
    return model_tests, column_tests


def _model(
    node: dict[str, Any],
    unique_id: str,
    model_tests: dict[str, list[str]],
    column_tests: dict[str, dict[str, list[str]]],
    lines: _Lines,
    known: Mapping[str, str],
) -> Model:
    name = node["name"]
    config = node.get("config") or {}
    meta = {**(node.get("meta") or {}), **(config.get("meta") or {})}
    sql_file = node.get("original_file_path")
    file, line = lines.models.get(("model", name), (sql_file or "", 1))
    fqn = node.get("fqn") or []
    dirs = tuple(fqn[1:-1])
    columns = _columns(
        node, column_tests.get(unique_id, {}), lines.columns.get(("model", name), {})
    )
    tests = list(model_tests.get(unique_id, []))
    if "freshness" in meta or config.get("freshness"):
        tests.append("freshness")
    layer, how = _layer(name, dirs, meta, known)
    refs = sorted({ref["name"] if isinstance(ref, dict) else ref[-1] for ref in node["refs"]})
    node_sources = sorted(".".join(source[-2:]) for source in node.get("sources") or [])
    return Model(
        name=name,
        file=file,
        line=line,
        sql_file=sql_file,
        layer=layer,
        schema=str_or_none(config.get("schema")),
        description=str_or_none(node.get("description")),
        columns=columns,
        tests=tuple(tests),
        refs=tuple(refs),
        grants=grants_of(config.get("grants")),
        meta=meta,
        materialized=str_or_none(config.get("materialized")),
        primary_key=primary_key(meta, {"constraints": node.get("constraints") or []}),
        folders=dirs,
        sources=tuple(node_sources),
        layer_source=how,
        props=props_from_node(node),
    )


def _columns(
    node: dict[str, Any], tests: dict[str, list[str]], lines: dict[str, int]
) -> tuple[Column, ...]:
    columns: list[Column] = []
    for column_name, column in (node.get("columns") or {}).items():
        constraint_tests = [
            c["type"] for c in column.get("constraints") or [] if c.get("type") != "check"
        ]
        names = [*tests.get(column_name, []), *_constraint_names(constraint_tests)]
        columns.append(
            Column(
                name=column_name,
                description=str_or_none(column.get("description")),
                data_type=str_or_none(column.get("data_type")),
                classification=classification_of(column),
                tests=tuple(names),
                line=lines.get(column_name, 1),
            )
        )
    return tuple(columns)


def _constraint_names(types: list[str]) -> list[str]:
    names: list[str] = []
    for kind in types:
        if kind in ("not_null", "unique"):
            names.append(kind)
        elif kind == "primary_key":
            names.extend(("not_null", "unique"))
    return names


def _layer(
    name: str, dirs: tuple[str, ...], meta: dict[str, Any], known: Mapping[str, str]
) -> tuple[str | None, Literal["meta", "folder", "prefix"] | None]:
    if isinstance(meta.get("layer"), str) and meta["layer"]:
        return meta["layer"], "meta"
    for part in reversed(dirs):
        if part in known:
            return part, "folder"
    for layer, prefix in sorted(known.items(), key=lambda item: -len(item[1])):
        if prefix and name.startswith(prefix):
            return layer, "prefix"
    return None, None
