"""Helpers for the `floe compile` / `floe run` tests: an acme-like tree and dbt projects."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from floe.tree import model as t

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "demo"
LEVELS = ["public", "internal", "confidential", "pii", "phi"]


def acme_files(
    compute_config: dict[str, Any] | None = None,
    *,
    compute: str = "duckdb",
    version: str = "1.2.3",
) -> dict[str, bytes]:
    """A compiled tree shaped like manifests/acme (medallion strict, coverage 80)."""
    files: dict[str, bytes] = {
        t.CLASSIFICATION_FILE: t.model_bytes(
            t.Classification(
                levels=LEVELS,
                rules={
                    "pii": t.ClassificationRule(forbidden_layers=["gold"]),
                    "phi": t.ClassificationRule(forbidden_layers=["silver", "gold"]),
                },
            )
        ),
        t.ACCESS_CONTROL_FILE: t.model_bytes(
            t.AccessControl(
                roles=["data_engineer", "analyst", "admin"],
                permissions={
                    "data_engineer": ["select", "insert", "update"],
                    "analyst": ["select"],
                    "admin": ["select", "insert", "update", "delete"],
                },
            )
        ),
        t.QUALITY_GATES_FILE: t.model_bytes(
            t.QualityGates(
                minimum_test_coverage=80,
                required_tests=["not_null", "unique"],
                block_on_failure=True,
            )
        ),
        t.NAMESPACES_FILE: t.model_bytes(t.Namespaces(namespaces=["bronze", "silver", "gold"])),
        t.SCHEMA_REGISTRY_FILE: t.model_bytes(t.SchemaRegistry()),
        t.NAMING_RULES_FILE: t.model_bytes(
            t.NamingRules(
                pattern="medallion",
                enforcement="strict",
                prefixes={"bronze": "bronze_", "silver": "silver_", "gold": "gold_"},
            )
        ),
        t.LAYER_CONSTRAINTS_FILE: t.model_bytes(
            t.LayerConstraints(
                layers={
                    "bronze": t.LayerConstraint(required_tests=["not_null_pk"]),
                    "silver": t.LayerConstraint(
                        required_tests=["not_null_pk", "unique_pk", "freshness"]
                    ),
                    "gold": t.LayerConstraint(
                        required_tests=["not_null_pk", "unique_pk", "freshness", "documentation"]
                    ),
                }
            )
        ),
    }
    config = (
        {"path": "target/warehouse.duckdb", "threads": 2}
        if compute_config is None
        else compute_config
    )
    manifest = t.PlatformManifest(
        metadata=t.ArtifactMetadata(
            name="acme-data-platform",
            version=version,
            created="2024-01-15T10:30:00Z",
            digest=t.content_digest(files),
        ),
        plugins={"compute": compute, "orchestrator": "dagster", "catalog": "polaris"},
        plugin_details={
            "compute": t.PluginDetail(type=compute, version="1.0.0", config=config),
        },
    )
    files[t.MANIFEST_FILE] = t.model_bytes(manifest)
    return files


def acme_tree(compute_config: dict[str, Any] | None = None, **kwargs: Any) -> t.PlatformTree:
    return t.parse_tree(acme_files(compute_config, **kwargs))


def copy_demo(name: str, dest: Path) -> Path:
    """A copy of demo/<name> without build leftovers (target, logs, .floe, profiles)."""
    ignore = shutil.ignore_patterns("target", "logs", ".floe", "profiles.yml", "*.duckdb*")
    shutil.copytree(DEMO_DIR / name, dest, ignore=ignore)
    return dest


TINY_MODEL = """select
    n as number_id,
    n * n as square,
    current_timestamp::timestamp as _loaded_at
from range(1, 6) as t(n)
"""

TINY_SCHEMA = """version: 2

models:
  - name: {name}
    description: The numbers one to five and their squares.
    meta: {{primary_key: number_id}}
    columns:
      - name: number_id
        description: The number (primary key).
        meta: {{classification: internal}}
        data_tests: [not_null, unique]
      - name: square
        description: The number squared.
        meta: {{classification: internal}}
        data_tests: [not_null]
      - name: _loaded_at
        description: Load time.
        meta: {{classification: internal}}
        data_tests: [not_null]
"""


def write_tiny_project(root: Path, *, model: str = "bronze_numbers") -> Path:
    """A one-model dbt project that passes acme_files() (or not, with a bad model name)."""
    (root / "models" / "bronze").mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0.0'\nconfig-version: 2\nprofile: tiny\n"
        "models:\n  tiny:\n    bronze:\n      +schema: bronze\n      +materialized: table\n"
    )
    (root / "models" / "bronze" / f"{model}.sql").write_text(TINY_MODEL)
    (root / "models" / "bronze" / "_bronze.yml").write_text(TINY_SCHEMA.format(name=model))
    return root
