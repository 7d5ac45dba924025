"""Presets: documented sets of catalogue rules a platform adopts with one line.

`rules: {preset: medallion-standard}` in the manifest expands into the dicts below; any
field the manifest sets on a rule (`rules.contracts.required.layers: [gold, silver]`)
overrides the preset's value of that field alone. docs/rules.md prints these tables.
"""

from __future__ import annotations

from typing import Any

MEDALLION_ACCESS = {
    "bronze": ["private", "protected"],
    "silver": ["private", "protected"],
    "gold": ["protected", "public"],
}
MEDALLION_UPSTREAM = {"bronze": [], "silver": ["bronze", "silver"], "gold": ["silver", "gold"]}

MEDALLION_STANDARD: dict[str, dict[str, dict[str, Any]]] = {
    "contracts": {
        "required": {"severity": "error", "layers": ["gold"], "access": ["public"]},
        "data_types": {"severity": "error"},
        "constraints": {"severity": "warn"},
        "columns_match": {"severity": "warn"},
    },
    "governance": {
        "access": {"severity": "error", "allowed": MEDALLION_ACCESS},
        "public_models": {"severity": "error"},
        "private_refs": {"severity": "error"},
        "latest_version": {"severity": "error"},
        "deprecation_date": {"severity": "warn"},
    },
    "metadata": {
        "required_keys": {"severity": "error", "keys": {"gold": ["owner"]}},
        "owner_format": {"severity": "error", "email": True},
    },
    "lineage": {
        "upstream_layers": {"severity": "error", "allowed": MEDALLION_UPSTREAM},
        "source_layers": {"severity": "error", "layers": ["bronze"]},
        "deprecated_refs": {"severity": "warn"},
        "exposures_public": {"severity": "error"},
        "chained_views": {"severity": "warn", "max": 4},
    },
    "structure": {
        "layer_folders": {"severity": "warn"},
        "file_names": {"severity": "error"},
        "incremental_unique_key": {"severity": "error"},
    },
    "sources": {"freshness": {"severity": "warn"}, "description": {"severity": "warn"}},
    "sql": {
        "select_star": {"severity": "warn", "layers": ["gold"]},
        "hardcoded_relations": {"severity": "error"},
        "cartesian_joins": {"severity": "warn"},
    },
}

MEDALLION_STRICT: dict[str, dict[str, dict[str, Any]]] = {
    "contracts": {
        "required": {"severity": "error", "layers": ["gold"], "access": ["public"]},
        "data_types": {"severity": "error"},
        "constraints": {"severity": "error"},
        "columns_match": {"severity": "error"},
    },
    "governance": {
        "access": {"severity": "error", "allowed": MEDALLION_ACCESS},
        "group_required": {"severity": "error"},
        "public_models": {"severity": "error"},
        "private_refs": {"severity": "error"},
        "latest_version": {"severity": "error"},
        "deprecation_date": {"severity": "error"},
        "version_pins": {"severity": "error"},
    },
    "metadata": {
        "required_keys": {"severity": "error", "keys": {"*": ["owner"], "gold": ["domain"]}},
        "owner_format": {"severity": "error", "email": True},
    },
    "lineage": {
        "upstream_layers": {"severity": "error", "allowed": MEDALLION_UPSTREAM},
        "source_layers": {"severity": "error", "layers": ["bronze"]},
        "deprecated_refs": {"severity": "error"},
        "exposures_public": {"severity": "error"},
        "chained_views": {"severity": "error", "max": 3},
        "fanout": {"severity": "warn", "max": 10},
    },
    "structure": {
        "layer_folders": {"severity": "error"},
        "file_names": {"severity": "error"},
        "properties_files": {"severity": "error"},
        "materializations": {
            "severity": "error",
            "allowed": {
                "bronze": ["view", "table"],
                "silver": ["view", "table", "incremental"],
                "gold": ["table", "incremental"],
            },
        },
        "incremental_unique_key": {"severity": "error"},
    },
    "sources": {
        "freshness": {"severity": "error"},
        "loader": {"severity": "error"},
        "description": {"severity": "error"},
    },
    "sql": {
        "select_star": {"severity": "error", "layers": ["silver", "gold"]},
        "hardcoded_relations": {"severity": "error"},
        "cartesian_joins": {"severity": "error"},
    },
}

KIMBALL_STANDARD: dict[str, dict[str, dict[str, Any]]] = {
    "contracts": {
        "required": {"severity": "error", "layers": ["dimension", "fact"], "access": ["public"]},
        "data_types": {"severity": "error"},
        "constraints": {"severity": "warn"},
        "columns_match": {"severity": "warn"},
    },
    "governance": {
        "access": {
            "severity": "error",
            "allowed": {
                "staging": ["private", "protected"],
                "intermediate": ["private", "protected"],
                "dimension": ["protected", "public"],
                "fact": ["protected", "public"],
            },
        },
        "public_models": {"severity": "error"},
        "private_refs": {"severity": "error"},
        "latest_version": {"severity": "error"},
        "deprecation_date": {"severity": "warn"},
    },
    "metadata": {
        "required_keys": {"severity": "error", "keys": {"dimension": ["owner"], "fact": ["owner"]}},
        "owner_format": {"severity": "error", "email": True},
    },
    "lineage": {
        "upstream_layers": {
            "severity": "error",
            "allowed": {
                "staging": [],
                "intermediate": ["staging", "intermediate"],
                "dimension": ["staging", "intermediate", "dimension"],
                "fact": ["staging", "intermediate", "dimension"],
            },
        },
        "source_layers": {"severity": "error", "layers": ["staging"]},
        "deprecated_refs": {"severity": "warn"},
        "exposures_public": {"severity": "error"},
        "chained_views": {"severity": "warn", "max": 4},
    },
    "structure": {
        "layer_folders": {"severity": "warn"},
        "file_names": {"severity": "error"},
        "incremental_unique_key": {"severity": "error"},
    },
    "sources": {"freshness": {"severity": "warn"}, "description": {"severity": "warn"}},
    "sql": {
        "select_star": {"severity": "warn", "layers": ["dimension", "fact"]},
        "hardcoded_relations": {"severity": "error"},
        "cartesian_joins": {"severity": "warn"},
    },
}

PRESETS: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
    "medallion-standard": MEDALLION_STANDARD,
    "medallion-strict": MEDALLION_STRICT,
    "kimball-standard": KIMBALL_STANDARD,
}
