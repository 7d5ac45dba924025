"""The rule catalogue: every rule of the catalogue families, with what, why and fix.

One table feeds the engine (rule ids, which families run), `floe rules list|explain`,
the SARIF rule summaries and docs/rules.md (tests check that the docs name every id).
A family runs only when the platform turned at least one of its rules on, so a report
never shows a check that nothing checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from floe.rules.model import Finding, Severity
from floe.tree.model import PlatformTree
from floe.tree.rule_families import Rule, enabled

SEVERITY: dict[str, Severity] = {"error": "error", "warn": "warning"}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    rule_id: str
    family: str  # PlatformTree field of the family (contracts, model_governance, ...)
    key: str  # the rule's key in the family (manifest `rules.<section>.<key>`)
    what: str
    why: str
    fix: str


def _r(rule_id: str, family: str, key: str, what: str, why: str, fix: str) -> RuleInfo:
    return RuleInfo(rule_id, family, key, what, why, fix)


RULES: tuple[RuleInfo, ...] = (
    _r(
        "contract.required",
        "contracts",
        "required",
        "Models of the named layers or access levels enforce a dbt model contract",
        "consumers of gold and public models rely on their shape; a contract makes dbt "
        "refuse a build whose columns or types drift",
        "add `config: {contract: {enforced: true}}` to the model's properties",
    ),
    _r(
        "contract.data_type",
        "contracts",
        "data_types",
        "Every column of a contracted model declares its data_type",
        "dbt cannot enforce a contract on a column without a type",
        "add `data_type:` to each column of the contracted model",
    ),
    _r(
        "contract.constraint",
        "contracts",
        "constraints",
        "Contracted models declare a primary_key constraint and not_null on its columns",
        "the key is the promise consumers join on; constraints put it in the table DDL",
        "add `constraints: [{type: primary_key}, {type: not_null}]` to the key column",
    ),
    _r(
        "contract.columns_match",
        "contracts",
        "columns_match",
        "A contracted model's declared columns are exactly the columns its SQL selects",
        "a contract that names columns the SQL does not produce fails at build time; "
        "an undeclared output column escapes the contract",
        "declare every selected column in the properties file and select every declared one",
    ),
    _r(
        "governance.access",
        "model_governance",
        "access",
        "A model's access (private, protected, public) is allowed in its layer",
        "only curated layers may be public; raw layers stay private to their group",
        "set `access:` on the model to a level the platform allows for its layer",
    ),
    _r(
        "governance.group_required",
        "model_governance",
        "group_required",
        "Models belong to a dbt group",
        "a group names the team that owns a model and scopes private access",
        "add `group: <name>` to the model (and define the group in a `groups:` block)",
    ),
    _r(
        "governance.public_model",
        "model_governance",
        "public_models",
        "Public models have a description, an owner and an enforced contract",
        "a public model is an interface other teams build on",
        "describe the model, set `meta.owner` and enforce its contract",
    ),
    _r(
        "governance.private_ref",
        "model_governance",
        "private_refs",
        "A private model is referenced only from models of its own group",
        "private means internal to the owning team; dbt refuses such refs at build time",
        "make the upstream model protected or public, or move the consumer into its group",
    ),
    _r(
        "governance.latest_version",
        "model_governance",
        "latest_version",
        "Versioned models set latest_version",
        "without it the newest version becomes the default silently when it is added",
        "add `latest_version: N` next to `versions:`",
    ),
    _r(
        "governance.deprecation_date",
        "model_governance",
        "deprecation_date",
        "A model's deprecation_date is a valid date in the future",
        "a past deprecation date means the model should be gone; consumers must move",
        "remove the deprecated model, or set a future `deprecation_date:` (YYYY-MM-DD)",
    ),
    _r(
        "governance.version_pin",
        "model_governance",
        "version_pins",
        "References to a versioned model pin a version",
        "an unpinned ref follows latest_version and breaks when a new version lands",
        "write `ref('model', v=N)`",
    ),
    _r(
        "metadata.required_key",
        "metadata_rules",
        "required_keys",
        "Models carry the meta keys their layer requires (owner, domain, ...)",
        "ownership and domain metadata route incidents and questions",
        "add the key under the model's `config: {meta: {...}}`",
    ),
    _r(
        "metadata.owner_format",
        "metadata_rules",
        "owner_format",
        "The owner meta value is an email address or a known group",
        "an owner nobody can reach is no owner",
        "set `meta.owner` to an email address or one of the platform's groups",
    ),
    _r(
        "metadata.tag_not_allowed",
        "metadata_rules",
        "allowed_tags",
        "Models use only the platform's tags",
        "tags select models in jobs and policies; a typo silently drops a model",
        "use one of the allowed tags, or ask the platform team to add one",
    ),
    _r(
        "lineage.upstream_layer",
        "lineage",
        "upstream_layers",
        "A model refs only the layers its layer may read (gold reads silver and gold)",
        "skipping a layer bypasses its cleaning, tests and classification",
        "ref a model of an allowed layer, or move the logic to the right layer",
    ),
    _r(
        "lineage.source_outside_layer",
        "lineage",
        "source_layers",
        "Only the named layers read source() directly",
        "raw data enters through one layer, where it is typed, tested and classified",
        "read the raw table in a bronze model and ref() that model",
    ),
    _r(
        "lineage.deprecated_ref",
        "lineage",
        "deprecated_refs",
        "No model refs a model that has a deprecation_date",
        "new dependencies on deprecated models make their removal harder",
        "ref the model's replacement",
    ),
    _r(
        "lineage.exposure_not_public",
        "lineage",
        "exposures_public",
        "Exposures (dashboards, apps) depend only on public models",
        "an exposure outside the public interface breaks when internals change",
        "point the exposure at a public model, or make its model public",
    ),
    _r(
        "lineage.chained_views",
        "lineage",
        "chained_views",
        "Chains of views are no longer than the platform's limit",
        "each query of a long view chain recomputes every view in it",
        "materialize an intermediate model as a table",
    ),
    _r(
        "lineage.fanout",
        "lineage",
        "fanout",
        "A model has no more direct children than the platform's limit",
        "a wide fan-out usually means missing shared intermediate models",
        "factor common logic into an intermediate model",
    ),
    _r(
        "structure.layer_folder",
        "structure",
        "layer_folders",
        "A model's file lives under a folder named after its layer (models/<layer>/)",
        "people and selectors find models by folder",
        "move the model file into models/<layer>/",
    ),
    _r(
        "structure.file_name",
        "structure",
        "file_names",
        "The model file's name is the model's name",
        "dbt names models after their file; anything else confuses readers and tools",
        "rename the file to <model name>.sql (versions: <name>_v<N>.sql)",
    ),
    _r(
        "structure.properties_file",
        "structure",
        "properties_files",
        "The models of one folder are described in one properties file in that folder",
        "one place per folder to look for a model's documentation and tests",
        "move the model's entry into the properties file of its folder",
    ),
    _r(
        "structure.materialization",
        "structure",
        "materializations",
        "A model's materialization is allowed in its layer",
        "layers have cost and freshness contracts (views in silver, tables in gold)",
        "set `materialized:` to one the platform allows for the layer",
    ),
    _r(
        "structure.unique_key",
        "structure",
        "incremental_unique_key",
        "Incremental models set unique_key",
        "without a key an incremental run appends duplicates",
        "add `unique_key:` to the model's config",
    ),
    _r(
        "source.freshness",
        "sources",
        "freshness",
        "Sources declare a freshness check (warn_after or error_after)",
        "stale raw data silently yields stale marts",
        "add `freshness: {warn_after: {count: 24, period: hour}}` and a loaded_at_field",
    ),
    _r(
        "source.loader",
        "sources",
        "loader",
        "Sources name their loader",
        "the loader is who to call when raw data is late or wrong",
        "add `loader: <tool>` to the source",
    ),
    _r(
        "source.description",
        "sources",
        "description",
        "Source tables are described",
        "raw tables are the least obvious data in the project",
        "add a `description:` to the source table",
    ),
    _r(
        "sql.select_star",
        "sql",
        "select_star",
        "Models of the named layers select named columns, not *",
        "a star passes every upstream column (and classification) through unseen",
        "list the columns the model needs",
    ),
    _r(
        "sql.hardcoded_relation",
        "sql",
        "hardcoded_relations",
        "Models read other relations only through ref() and source()",
        "a hard-coded name escapes lineage, environments and the platform's rules",
        "replace the name with {{ ref('model') }} or {{ source('name', 'table') }}",
    ),
    _r(
        "sql.cartesian_join",
        "sql",
        "cartesian_joins",
        "Joins have a join condition (no cross or comma joins)",
        "a cartesian product multiplies rows and cost by the size of the other table",
        "add an `on` or `using` condition",
    ),
)
BY_ID = {rule.rule_id: rule for rule in RULES}
RULE_IDS = frozenset(BY_ID)

# (family field, summary name, rule-id prefixes) in report order.
FAMILIES: tuple[tuple[str, str, str], ...] = (
    ("contracts", "Model contracts", "contract"),
    ("model_governance", "Model governance", "governance"),
    ("metadata_rules", "Ownership and metadata", "metadata"),
    ("lineage", "Lineage architecture", "lineage"),
    ("structure", "Structure and materialization", "structure"),
    ("sources", "Sources", "source"),
    ("sql", "SQL", "sql"),
)


def rule_config(platform: PlatformTree, info: RuleInfo) -> Rule:
    rule = getattr(getattr(platform, info.family), info.key)
    assert isinstance(rule, Rule)
    return rule


def severity(rule: Rule) -> Severity | None:
    """The finding severity of a rule, or None when the platform turned it off."""
    return SEVERITY.get(rule.severity)


def active_checks(
    platform: PlatformTree,
) -> list[tuple[str, str, Callable[..., list[Finding]]]]:
    """(summary name, rule prefix, family check) of every family the platform turned on."""
    from floe.rules import contracts, governance, lineage_arch, metadata, sources_sql, structure

    checks = {
        "contracts": contracts.check,
        "model_governance": governance.check,
        "metadata_rules": metadata.check,
        "lineage": lineage_arch.check,
        "structure": structure.check,
        "sources": sources_sql.check_sources,
        "sql": sources_sql.check_sql,
    }
    return [
        (name, prefix, checks[family])
        for family, name, prefix in FAMILIES
        if enabled(getattr(platform, family))
    ]
