"""Fill `NodeProps` and exposures from schema YAML + model files, or from manifest.json.

Called with one line from `dbt_reader` (files) and `dbt_manifest` (manifest). Values are
read defensively: a wrong type is treated as not declared (the rules then report it as
missing), never as a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from floe.rules.props import Constraint, Exposure, NodeProps
from floe.rules.yaml_lines import LinedYaml

_PINNED_REF = re.compile(
    r"""\bref\s*\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])[^'"]+\3\s*)?,\s*(?:v|version)\s*="""
)
_EXPOSURE_REF = re.compile(r"""\bref\s*\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])([^'"]+)\3)?""")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(str(item) for item in value if isinstance(item, str | int))
    return ()


def _constraints(model_level: Any, columns: Any) -> tuple[Constraint, ...]:
    found: list[Constraint] = []
    for item in model_level if isinstance(model_level, list) else ():
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            found.append(Constraint(item["type"], _names(item.get("columns"))))
    if isinstance(columns, dict):  # manifest: name -> column
        columns = [{"name": name, **_dict(column)} for name, column in columns.items()]
    for column in columns if isinstance(columns, list) else ():
        if not isinstance(column, dict) or column.get("name") is None:
            continue
        for item in column.get("constraints") or []:
            if isinstance(item, dict) and isinstance(item.get("type"), str):
                found.append(Constraint(item["type"], (str(column["name"]),)))
    return tuple(found)


def _pinned(code: str) -> tuple[str, ...]:
    if "ersion" not in code and "v=" not in code.replace(" ", ""):
        return ()
    return tuple(sorted({m.group(2) for m in _PINNED_REF.finditer(code)}))


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def props_from_files(config: dict[str, Any], yaml_data: dict[str, Any], code: str) -> NodeProps:
    """`config` merged as dbt does (folders, YAML config, `{{ config() }}`); `yaml_data`
    the model's schema YAML entry; `code` the model file's text."""
    contract = _dict(_first(config.get("contract"), _dict(yaml_data.get("config")).get("contract")))
    versions = yaml_data.get("versions")
    return NodeProps(
        access=_text(_first(config.get("access"), yaml_data.get("access"))),
        group=_text(_first(config.get("group"), yaml_data.get("group"))),
        contract_enforced=contract.get("enforced") is True,
        constraints=_constraints(yaml_data.get("constraints"), yaml_data.get("columns")),
        tags=tuple(sorted({*_names(config.get("tags")), *_names(yaml_data.get("tags"))})),
        unique_key=_names(config.get("unique_key")),
        versioned=isinstance(versions, list) and bool(versions),
        latest_version=_text(yaml_data.get("latest_version")),
        deprecation_date=_text(
            _first(yaml_data.get("deprecation_date"), config.get("deprecation_date"))
        ),
        pinned_refs=_pinned(code),
        sql=code,
    )


def props_from_node(node: dict[str, Any]) -> NodeProps:
    """A model node of dbt's manifest.json (configs already rendered by dbt)."""
    config = _dict(node.get("config"))
    contract = _dict(_first(node.get("contract"), config.get("contract")))
    refs = node.get("refs") or []
    pinned = sorted(
        {str(ref["name"]) for ref in refs if isinstance(ref, dict) and ref.get("version")}
    )
    return NodeProps(
        access=_text(_first(node.get("access"), config.get("access"))),
        group=_text(_first(node.get("group"), config.get("group"))),
        contract_enforced=contract.get("enforced") is True,
        constraints=_constraints(node.get("constraints"), node.get("columns")),
        tags=tuple(sorted({*_names(node.get("tags")), *_names(config.get("tags"))})),
        unique_key=_names(config.get("unique_key")),
        versioned=node.get("version") is not None,
        latest_version=_text(node.get("latest_version")),
        deprecation_date=_text(node.get("deprecation_date")),
        pinned_refs=tuple(pinned),
        sql=node.get("raw_code") if isinstance(node.get("raw_code"), str) else None,
    )


def source_loader(source: dict[str, Any], table: dict[str, Any]) -> str | None:
    return _text(_first(table.get("loader"), source.get("loader")))


def schema_exposures(doc: LinedYaml, rel: str) -> Iterator[Exposure]:
    """`exposures:` entries of one schema YAML file, with the models they ref()."""
    items = doc.data.get("exposures") if isinstance(doc.data, dict) else None
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        refs: set[str] = set()
        for dep in item.get("depends_on") or []:
            if isinstance(dep, str):
                refs.update(m.group(4) or m.group(2) for m in _EXPOSURE_REF.finditer(dep))
        yield Exposure(item["name"], rel, doc.line(item), tuple(sorted(refs)))


def manifest_exposures(
    manifest: dict[str, Any], lines: Mapping[str, tuple[str, int]]
) -> tuple[Exposure, ...]:
    """Exposures of dbt's manifest.json, each at its (file, line) in the schema YAML."""
    found: list[Exposure] = []
    exposures = _dict(manifest.get("exposures"))
    if not exposures:
        return ()
    for unique_id in sorted(exposures):
        node = _dict(exposures[unique_id])
        name = str(node.get("name") or unique_id)
        depends = _dict(node.get("depends_on")).get("nodes") or []
        models = sorted(
            str(dep).split(".")[2]
            for dep in depends
            if isinstance(dep, str) and dep.startswith("model.") and dep.count(".") >= 2
        )
        file, line = lines.get(name, (str(node.get("original_file_path") or ""), 1))
        found.append(Exposure(name, file, line, tuple(models)))
    return tuple(found)
