"""The compiled shapes of the catalogue rule families (contracts, governance, ...).

One JSON file per family. The files are optional in a tree: a tree without them (every
tree compiled before the catalogue existed) loads with every rule of the family `off`.
`floe platform compile` writes a family's file only when at least one of its rules is on,
so a tree lists exactly the families it enforces. Every rule has a `severity`
(`error` fails the gate, `warn` reports, `off` skips) and its own parameters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RuleSeverity = Literal["error", "warn", "off"]

CONTRACTS_FILE = "policies/contracts.json"
MODEL_GOVERNANCE_FILE = "policies/model-governance.json"
METADATA_FILE = "policies/metadata.json"
SOURCES_FILE = "catalog/sources.json"
LINEAGE_FILE = "architecture/lineage.json"
STRUCTURE_FILE = "architecture/structure.json"
SQL_FILE = "architecture/sql.json"


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Rule(_Rules):
    severity: RuleSeverity = Field("off", description="error fails the gate, warn reports.")


class LayerScoped(Rule):
    layers: list[str] | None = Field(
        None, description="Layers the rule applies to; omitted: every layer."
    )


# ---- contracts --------------------------------------------------------------------


class ContractRequired(Rule):
    layers: list[str] = Field(default_factory=list, description="Layers whose models need one.")
    access: list[str] = Field(
        default_factory=list, description="Access levels (public, ...) whose models need one."
    )


class ContractConstraints(Rule):
    primary_key: bool = Field(True, description="A primary_key constraint is declared.")
    not_null_key: bool = Field(True, description="The key columns carry not_null.")


class Contracts(_Rules):
    required: ContractRequired = Field(default_factory=ContractRequired)
    data_types: Rule = Field(default_factory=Rule)
    constraints: ContractConstraints = Field(default_factory=ContractConstraints)
    columns_match: Rule = Field(default_factory=Rule)


# ---- model governance ---------------------------------------------------------------


class AccessByLayer(Rule):
    allowed: dict[str, list[str]] = Field(
        default_factory=dict,
        description="layer -> allowed access levels (private, protected, public).",
    )


class PublicModel(Rule):
    description: bool = True
    owner: bool = True
    contract: bool = True


class ModelGovernance(_Rules):
    access: AccessByLayer = Field(default_factory=AccessByLayer)
    group_required: LayerScoped = Field(default_factory=LayerScoped)
    public_models: PublicModel = Field(default_factory=PublicModel)
    private_refs: Rule = Field(default_factory=Rule)
    latest_version: Rule = Field(default_factory=Rule)
    deprecation_date: Rule = Field(default_factory=Rule)
    version_pins: Rule = Field(default_factory=Rule)


# ---- ownership and metadata ---------------------------------------------------------


class RequiredMeta(Rule):
    keys: dict[str, list[str]] = Field(
        default_factory=dict, description='layer (or "*" for every layer) -> meta keys.'
    )


class OwnerFormat(Rule):
    key: str = Field("owner", description="The meta key that names the owner.")
    email: bool = Field(True, description="An email address is a valid owner.")
    groups: list[str] = Field(default_factory=list, description="Known owning groups.")


class AllowedTags(Rule):
    tags: list[str] = Field(default_factory=list)


class Metadata(_Rules):
    required_keys: RequiredMeta = Field(default_factory=RequiredMeta)
    owner_format: OwnerFormat = Field(default_factory=OwnerFormat)
    allowed_tags: AllowedTags = Field(default_factory=AllowedTags)


# ---- lineage architecture -----------------------------------------------------------


class UpstreamLayers(Rule):
    allowed: dict[str, list[str]] = Field(
        default_factory=dict, description="layer -> layers its models may ref()."
    )


class SourceLayers(Rule):
    layers: list[str] = Field(default_factory=list, description="Layers that may read source().")


class Limit(Rule):
    max: int = Field(4, ge=0)


class Lineage(_Rules):
    upstream_layers: UpstreamLayers = Field(default_factory=UpstreamLayers)
    source_layers: SourceLayers = Field(default_factory=SourceLayers)
    deprecated_refs: Rule = Field(default_factory=Rule)
    exposures_public: Rule = Field(default_factory=Rule)
    chained_views: Limit = Field(default_factory=Limit)
    fanout: Limit = Field(default_factory=lambda: Limit(max=10))


# ---- structure and materialization --------------------------------------------------


class Materializations(Rule):
    allowed: dict[str, list[str]] = Field(
        default_factory=dict, description="layer -> allowed materializations."
    )


class Structure(_Rules):
    layer_folders: Rule = Field(default_factory=Rule)
    file_names: Rule = Field(default_factory=Rule)
    properties_files: Rule = Field(default_factory=Rule)
    materializations: Materializations = Field(default_factory=Materializations)
    incremental_unique_key: Rule = Field(default_factory=Rule)


# ---- sources and SQL ----------------------------------------------------------------


class Sources(_Rules):
    freshness: Rule = Field(default_factory=Rule)
    loader: Rule = Field(default_factory=Rule)
    description: Rule = Field(default_factory=Rule)


class Sql(_Rules):
    select_star: LayerScoped = Field(default_factory=LayerScoped)
    hardcoded_relations: LayerScoped = Field(default_factory=LayerScoped)
    cartesian_joins: LayerScoped = Field(default_factory=LayerScoped)


# (tree path, PlatformTree field, model) of every optional family file, in report order.
FAMILY_FILES: tuple[tuple[str, str, type[_Rules]], ...] = (
    (CONTRACTS_FILE, "contracts", Contracts),
    (MODEL_GOVERNANCE_FILE, "model_governance", ModelGovernance),
    (METADATA_FILE, "metadata_rules", Metadata),
    (LINEAGE_FILE, "lineage", Lineage),
    (STRUCTURE_FILE, "structure", Structure),
    (SOURCES_FILE, "sources", Sources),
    (SQL_FILE, "sql", Sql),
)
OPTIONAL_TREE_FILES = tuple(path for path, _, _ in FAMILY_FILES)


def enabled(family: BaseModel) -> bool:
    """True when at least one rule of the family is not off."""
    return any(getattr(rule, "severity", "off") != "off" for rule in dict(family).values())
