"""The compiled platform tree: its exact file names, its JSON shapes, its content digest.

This module is the contract between the platform side (`floe platform compile`
writes these files) and everything that reads them (`floe platform test`,
`floe compile`, pull and cache). Models are strict (`extra="forbid"`) so an
artifact written by an incompatible floe is rejected loudly, not half-read.

Two ways in: `parse_tree` validates every field (an artifact from a registry, a tree
being compiled or published); `load_locked_tree` builds the same objects from files
whose bytes the project's lock pins (they were validated by `parse_tree` when they were
installed), checking shape and keys but running no pydantic validation. The models
defer their schema build (`defer_build`), so a warm `floe compile` never builds one.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from floe.errors import GateError
from floe.signing.trust_policy import TrustedIdentity as TrustedIdentity
from floe.signing.trust_policy import TrustPolicy as TrustPolicy
from floe.tree.files import MANIFEST_FILE as MANIFEST_FILE
from floe.tree.files import content_digest as content_digest
from floe.tree.files import read_tree_files as read_tree_files
from floe.tree.rule_families import FAMILY_FILES
from floe.tree.rule_families import OPTIONAL_TREE_FILES as OPTIONAL_TREE_FILES
from floe.tree.rule_families import Contracts as Contracts
from floe.tree.rule_families import Lineage as Lineage
from floe.tree.rule_families import Metadata as MetadataRules
from floe.tree.rule_families import ModelGovernance as ModelGovernance
from floe.tree.rule_families import Sources as Sources
from floe.tree.rule_families import Sql as Sql
from floe.tree.rule_families import Structure as Structure

CLASSIFICATION_FILE = "policies/classification.json"
ACCESS_CONTROL_FILE = "policies/access-control.json"
QUALITY_GATES_FILE = "policies/quality-gates.json"
NAMESPACES_FILE = "catalog/namespaces.json"
SCHEMA_REGISTRY_FILE = "catalog/schema-registry.json"
NAMING_RULES_FILE = "architecture/naming-rules.json"
LAYER_CONSTRAINTS_FILE = "architecture/layer-constraints.json"

TREE_FILES = (
    MANIFEST_FILE,
    CLASSIFICATION_FILE,
    ACCESS_CONTROL_FILE,
    QUALITY_GATES_FILE,
    NAMESPACES_FILE,
    SCHEMA_REGISTRY_FILE,
    NAMING_RULES_FILE,
    LAYER_CONSTRAINTS_FILE,
)

API_VERSION = "floe.dev/v1"
ARTIFACT_KIND = "PlatformArtifact"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# ---- manifest.json -------------------------------------------------------------


class ArtifactMetadata(_Strict):
    name: str
    version: str  # semver without the leading "v"
    created: str  # RFC 3339 UTC, pinned (manifest or SOURCE_DATE_EPOCH), never the clock
    digest: str  # content digest of every other file (see content_digest)
    scope: str | None = None


class PluginDetail(_Strict):
    type: str
    version: str
    config: dict[str, Any] = Field(default_factory=dict)


class ParentRelease(_Strict):
    """A platform this tree extends, as `floe platform compile` verified it."""

    ref: str  # oci://host/repo:v1.2.3
    manifest_digest: str
    content_digest: str
    name: str
    version: str  # semver without the leading "v"


class SharedTest(_Strict):
    """A policy-test case file a parent ships so every platform extending it runs it too."""

    platform: str = Field(pattern=r"^[a-z0-9-]{1,63} v[0-9A-Za-z.+-]{1,64}$")  # "name vX.Y.Z"
    file: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")  # its name in that platform's tests/
    text: str  # the YAML case file, as written (limits checked where it runs)


class Inheritance(_Strict):
    parents: list[ParentRelease] = Field(default_factory=list)  # nearest first
    tests: list[SharedTest] = Field(default_factory=list)


class PlatformManifest(_Strict):
    apiVersion: Literal["floe.dev/v1"] = "floe.dev/v1"
    kind: Literal["PlatformArtifact"] = "PlatformArtifact"
    metadata: ArtifactMetadata
    plugins: dict[str, str]  # slot (compute|orchestrator|catalog) -> plugin type
    plugin_details: dict[str, PluginDetail] = Field(default_factory=dict)
    security: TrustPolicy = Field(default_factory=TrustPolicy)
    artifacts: dict[str, str] = Field(default_factory=dict)  # e.g. {"registry": "oci://..."}
    # Only written when the platform extends another or shares its tests (older trees: absent).
    inheritance: Inheritance | None = Field(None, exclude_if=lambda value: value is None)


# ---- policies/ -----------------------------------------------------------------


class ClassificationRule(_Strict):
    """Where columns of one classification level may appear."""

    forbidden_layers: list[str] = Field(default_factory=list)
    forbidden_namespaces: list[str] = Field(default_factory=list)
    requires_description: bool = False


class Classification(_Strict):
    levels: list[str]
    default_level: str | None = None
    propagate: bool = True  # downstream columns of the same name inherit through ref()
    rules: dict[str, ClassificationRule] = Field(default_factory=dict)  # level -> rule


class AccessControl(_Strict):
    roles: list[str]
    permissions: dict[str, list[str]] = Field(default_factory=dict)  # role -> privileges


class WaiverPolicy(_Strict):
    allowed: list[str] = Field(default_factory=list)  # waivable rule ids (`family.*` globs)
    max_days: int = Field(90, ge=1, le=3650)  # longest expiry from today


class GovernancePolicy(_Strict):
    waivers: WaiverPolicy | None = None  # None: no finding may be waived
    exempt_packages: list[str] = Field(default_factory=list)  # dbt packages not governed


class QualityGates(_Strict):
    minimum_test_coverage: int | float = 0  # percent, 0..100; integral values stay ints
    required_tests: list[str] = Field(default_factory=list)
    block_on_failure: bool = True
    governance: GovernancePolicy | None = None  # sound gate: waivers, exempt packages

    @model_serializer(mode="wrap")
    def _omit_unset_governance(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Trees without governance keep their bytes (and content digest) unchanged.
        data = handler(self)
        if isinstance(data, dict) and data.get("governance") is None:
            data.pop("governance", None)
        return data


# ---- catalog/ ------------------------------------------------------------------


class Namespaces(_Strict):
    namespaces: list[str]
    grants: dict[str, dict[str, list[str]]] = Field(default_factory=dict)  # ns -> role -> privs


class SchemaRegistry(_Strict):
    require_column_descriptions: bool = False
    require_column_data_types: bool = False
    column_name_pattern: str | None = None  # regex every column name must match


# ---- architecture/ -------------------------------------------------------------


class NamingRules(_Strict):
    pattern: Literal["medallion", "kimball", "custom"]
    enforcement: Literal["strict", "warn", "off"]
    prefixes: dict[str, str] = Field(default_factory=dict)  # layer -> prefix
    custom_regex: str | None = None  # pattern == custom: every model name must match


class LayerConstraint(_Strict):
    required_tests: list[str] = Field(default_factory=list)


class LayerConstraints(_Strict):
    layers: dict[str, LayerConstraint] = Field(default_factory=dict)


class PlatformTree(_Strict):
    """Everything in a compiled tree, parsed."""

    manifest: PlatformManifest
    classification: Classification
    access_control: AccessControl
    quality_gates: QualityGates
    namespaces: Namespaces
    schema_registry: SchemaRegistry
    naming_rules: NamingRules
    layer_constraints: LayerConstraints
    # Catalogue families (floe/tree/rule_families.py): optional files, default all off.
    contracts: Contracts = Field(default_factory=Contracts)
    model_governance: ModelGovernance = Field(default_factory=ModelGovernance)
    metadata_rules: MetadataRules = Field(default_factory=MetadataRules)
    lineage: Lineage = Field(default_factory=Lineage)
    structure: Structure = Field(default_factory=Structure)
    sources: Sources = Field(default_factory=Sources)
    sql: Sql = Field(default_factory=Sql)


_FILE_MODELS: dict[str, tuple[str, type[BaseModel]]] = {
    MANIFEST_FILE: ("manifest", PlatformManifest),
    CLASSIFICATION_FILE: ("classification", Classification),
    ACCESS_CONTROL_FILE: ("access_control", AccessControl),
    QUALITY_GATES_FILE: ("quality_gates", QualityGates),
    NAMESPACES_FILE: ("namespaces", Namespaces),
    SCHEMA_REGISTRY_FILE: ("schema_registry", SchemaRegistry),
    NAMING_RULES_FILE: ("naming_rules", NamingRules),
    LAYER_CONSTRAINTS_FILE: ("layer_constraints", LayerConstraints),
    **{path: (name, family) for path, name, family in FAMILY_FILES},
}


def dump_json(data: Any) -> bytes:
    """The one serialization of tree files: sorted keys, 2-space indent, UTF-8, final newline."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def model_bytes(model: BaseModel) -> bytes:
    return dump_json(model.model_dump(mode="json"))


def _check_file_set(files: dict[str, bytes], origin: str) -> None:
    missing = [name for name in TREE_FILES if name not in files]
    if missing:
        raise GateError("tree_invalid", f"{origin} lacks {', '.join(missing)}")
    extra = sorted(set(files) - set(TREE_FILES) - set(OPTIONAL_TREE_FILES))
    if extra:
        raise GateError("tree_invalid", f"{origin} has unexpected files: {', '.join(extra)}")


def _check_digest(tree: PlatformTree, files: dict[str, bytes], origin: str) -> PlatformTree:
    expected = content_digest(files)
    if tree.manifest.metadata.digest != expected:
        raise GateError(
            "tree_digest_mismatch",
            f"{origin}: content digest {expected} does not match manifest.json "
            f"({tree.manifest.metadata.digest})",
            hint="the tree was edited after compile; recompile or pull it again",
        )
    return tree


def parse_tree(files: dict[str, bytes], origin: str = "platform tree") -> PlatformTree:
    """Parse and cross-check a tree held in memory; the content digest must match."""
    _check_file_set(files, origin)
    parsed: dict[str, BaseModel] = {}
    for name, (field_name, model) in _FILE_MODELS.items():
        if name not in files:  # an optional family file: the family is off
            continue
        try:
            parsed[field_name] = model.model_validate_json(files[name])
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise GateError("tree_invalid", f"{origin}/{name}: {where}: {first['msg']}") from None
    tree = PlatformTree.model_validate(parsed)
    return _check_digest(tree, files, origin)


def load_tree(root: Path) -> PlatformTree:
    return parse_tree(read_tree_files(root), origin=str(root))


def load_locked_tree(files: dict[str, bytes], origin: str = "platform tree") -> PlatformTree:
    """A tree whose every file the lock pinned (read_verified_tree checked the digests):
    the same objects as parse_tree, built without validation, after the same checks of
    the file set, of every object's keys (unknown or missing required ones are
    `tree_invalid`) and of the content digest."""
    _check_file_set(files, origin)
    parsed: dict[str, Any] = {}
    for name, (field_name, model) in _FILE_MODELS.items():
        if name not in files:
            continue
        try:
            data = json.loads(files[name])
        except (ValueError, RecursionError):
            raise GateError("tree_invalid", f"{origin}/{name}: not valid JSON") from None
        parsed[field_name] = _construct(model, data, f"{origin}/{name}")
    tree = _construct(PlatformTree, parsed, origin)
    return _check_digest(tree, files, origin)


_M = TypeVar("_M", bound=BaseModel)


def _construct(model: type[_M], data: Any, where: str) -> _M:
    """`model` from already-validated JSON data: nested models built field by field."""
    if isinstance(data, BaseModel):  # a family parsed above, placed into PlatformTree
        return typing.cast(_M, data)
    if not isinstance(data, dict):
        raise GateError("tree_invalid", f"{where}: expected an object")
    fields = model.model_fields
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise GateError("tree_invalid", f"{where}: unexpected keys: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, info in fields.items():
        if name in data:
            values[name] = _value(info.annotation, data[name], f"{where}.{name}")
        elif info.is_required():
            raise GateError("tree_invalid", f"{where}: {name}: Field required")
    return model.model_construct(**values)


def _value(annotation: Any, value: Any, where: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _construct(annotation, value, where)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return _construct(models[0], value, where) if models else value
    if origin is list and isinstance(value, list):
        return [_value(args[0], item, f"{where}[{n}]") for n, item in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {key: _value(args[1], item, f"{where}.{key}") for key, item in value.items()}
    return value
