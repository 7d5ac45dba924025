"""The authoring schema of the catalogue rule families (`rules:` in manifest.yaml).

    rules:
      preset: medallion-standard          # optional: a documented set (floe/rules/presets.py)
      contracts:
        required: {layers: [gold, silver]}  # overrides this one field of the preset
        columns_match: {severity: error}

Every rule and field of the compiled families (floe/tree/rule_families.py) may be set;
each authoring model is the compiled one with every field optional, strict (no type
coercion) and closed (unknown keys get a did-you-mean from manifest.py). A field the
manifest sets replaces the preset's value of that field; the rest of the preset stays.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from floe.rules.presets import PRESETS
from floe.tree import rule_families as families

if TYPE_CHECKING:
    from floe.platform.manifest import LoadedManifest

PresetName = Literal["medallion-standard", "medallion-strict", "kimball-standard"]

# manifest section -> (PlatformTree field, compiled family model)
SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "contracts": ("contracts", families.Contracts),
    "governance": ("model_governance", families.ModelGovernance),
    "metadata": ("metadata_rules", families.Metadata),
    "lineage": ("lineage", families.Lineage),
    "structure": ("structure", families.Structure),
    "sources": ("sources", families.Sources),
    "sql": ("sql", families.Sql),
}
_AUTHORING = ConfigDict(extra="forbid", strict=True, frozen=True)


def _optional(info: FieldInfo) -> FieldInfo:
    """The same field (description, bounds), but optional: unset means 'keep the preset'."""
    return FieldInfo.merge_field_infos(info, default=None, default_factory=None)


def _partial(model: type[BaseModel], name: str) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _partial(annotation, f"{name}{_camel(field_name)}")
        if field_name == "severity":  # YAML 1.1 reads a bare `off` as false: accept it
            annotation = annotation | Literal[False]
        fields[field_name] = (annotation | None, _optional(info))
    return create_model(name, __config__=_AUTHORING, **fields)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_SECTION_MODELS = {
    section: _partial(model, f"{_camel(section)}RulesSpec")
    for section, (_, model) in SECTIONS.items()
}

_RULES_FIELDS: dict[str, Any] = {
    "preset": (
        PresetName | None,
        Field(None, description="medallion-standard | medallion-strict | kimball-standard"),
    ),
    **{
        section: (model | None, Field(None, description=f"The {section} rules."))
        for section, model in _SECTION_MODELS.items()
    },
}
_RULES_SPEC = create_model(
    "RulesSpec",
    __config__=_AUTHORING,
    __doc__="Catalogue rule families: a preset, then rule-by-rule, field-by-field overrides.",
    **_RULES_FIELDS,
)
if TYPE_CHECKING:
    RulesSpec = BaseModel
else:
    RulesSpec = _RULES_SPEC


def merged_sections(spec: BaseModel | None) -> dict[str, dict[str, Any]]:
    """The preset, overridden field by field by what the manifest sets (plain dicts)."""
    if spec is None:
        return {}
    preset = getattr(spec, "preset", None)
    base = PRESETS[preset] if preset else {}
    merged: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        rules = {key: dict(value) for key, value in base.get(section, {}).items()}
        given = getattr(spec, section)
        if given is not None:
            for key, fields in given.model_dump(exclude_unset=True).items():
                if (fields or {}).get("severity") is False:
                    fields["severity"] = "off"
                rules.setdefault(key, {}).update(fields or {})
        if rules:
            merged[section] = rules
    return merged


def build_families(spec: BaseModel | None) -> dict[str, BaseModel]:
    """tree path -> compiled family, for the families with at least one rule on."""
    merged = merged_sections(spec)
    out: dict[str, BaseModel] = {}
    for path, field_name, model in families.FAMILY_FILES:
        section = next(s for s, (f, _) in SECTIONS.items() if f == field_name)
        family = model.model_validate(merged.get(section, {}))
        if families.enabled(family):
            out[path] = family
    return out


def layer_references(merged: dict[str, dict[str, Any]]) -> list[tuple[tuple[str, ...], str]]:
    """(manifest path, layer) of every layer a rule names, for the compile-time check."""
    found: list[tuple[tuple[str, ...], str]] = []
    for section, rules in merged.items():
        for key, fields in rules.items():
            for name in ("layers", "allowed", "keys"):
                value = fields.get(name)
                if section == "governance" and key == "access" and name == "allowed":
                    layers = list(value or {})
                elif section in ("lineage", "structure") and name == "allowed":
                    layers = list(value or {})
                    if section == "lineage":
                        layers += [item for items in (value or {}).values() for item in items]
                elif name == "keys" and isinstance(value, dict):
                    layers = [layer for layer in value if layer != "*"]
                elif name == "layers" and isinstance(value, list):
                    layers = list(value)
                else:
                    continue
                found.extend(((section, key, name), layer) for layer in layers)
    return found


def compile_families(loaded: LoadedManifest) -> dict[str, BaseModel]:
    """The family files of a loaded manifest; a rule naming an unknown layer is refused."""
    spec = loaded.model.rules
    merged = merged_sections(spec)
    arch = loaded.model.data_architecture
    known = set(arch.prefixes()) | set(arch.layers)
    for path, layer in layer_references(merged):
        if layer in known:
            continue
        close = difflib.get_close_matches(layer, sorted(known), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else ""
        given = _get(loaded.raw, ("rules", *path)) is not None
        where: tuple[str, ...] = ("rules", *path) if given else ("rules", "preset")
        loaded.source_map.fail(
            where,
            f"layer {layer!r} is not a layer of this platform{guess} "
            f"(layers: {', '.join(sorted(known))})",
        )
    return build_families(spec)


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
