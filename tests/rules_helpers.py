"""Helpers for the rule-engine, dbt-reader and platform-test tests.

`make_tree()` builds an ACME-like PlatformTree in memory (override any section);
`shop_project(tmp_path)` copies the passing `tests/fixtures/projects/shop` project so a
test can break one file and assert the exact `file:line` of the finding.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from lifecycle_helpers import write_tree as write_files

from floe.rules.dbt_reader import read_project
from floe.rules.engine import EnforcementResult, evaluate
from floe.rules.model import Finding
from floe.tree.model import (
    AccessControl,
    ArtifactMetadata,
    Classification,
    ClassificationRule,
    LayerConstraint,
    LayerConstraints,
    Namespaces,
    NamingRules,
    PlatformManifest,
    PlatformTree,
    QualityGates,
    SchemaRegistry,
    content_digest,
    model_bytes,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "projects"


def make_tree(**sections: Any) -> PlatformTree:
    """An ACME-like platform; pass e.g. naming_rules=NamingRules(...) to override."""
    defaults: dict[str, Any] = {
        "manifest": PlatformManifest(
            metadata=ArtifactMetadata(
                name="acme-data-platform",
                version="1.2.3",
                created="2024-01-15T10:30:00Z",
                digest="sha256:" + "0" * 64,
            ),
            plugins={"compute": "duckdb"},
        ),
        "classification": Classification(
            levels=["public", "internal", "confidential", "pii", "phi"],
            default_level="internal",
            rules={
                "pii": ClassificationRule(
                    forbidden_namespaces=["gold_public"], requires_description=True
                ),
                "phi": ClassificationRule(
                    forbidden_layers=["gold"], forbidden_namespaces=["gold_public"]
                ),
            },
        ),
        "access_control": AccessControl(
            roles=["data_engineer", "analyst", "admin"],
            permissions={
                "data_engineer": ["select", "insert", "update"],
                "analyst": ["select"],
                "admin": ["all"],
            },
        ),
        "quality_gates": QualityGates(
            minimum_test_coverage=80, required_tests=["not_null", "unique"]
        ),
        "namespaces": Namespaces(
            namespaces=["bronze", "silver", "gold", "gold_public"],
            grants={
                "bronze": {"data_engineer": ["select", "insert", "update"]},
                "silver": {"analyst": ["select"], "data_engineer": ["select", "insert"]},
                "gold": {"analyst": ["select"], "data_engineer": ["select", "insert"]},
            },
        ),
        "schema_registry": SchemaRegistry(column_name_pattern="^[a-z_][a-z0-9_]*$"),
        "naming_rules": NamingRules(
            pattern="medallion",
            enforcement="strict",
            prefixes={"bronze": "bronze_", "silver": "silver_", "gold": "gold_"},
        ),
        "layer_constraints": LayerConstraints(
            layers={
                "bronze": LayerConstraint(required_tests=["not_null_pk"]),
                "silver": LayerConstraint(required_tests=["not_null_pk", "unique_pk", "freshness"]),
                "gold": LayerConstraint(
                    required_tests=["not_null_pk", "unique_pk", "freshness", "documentation"]
                ),
            }
        ),
    }
    defaults.update(sections)
    return PlatformTree(**defaults)


def write_tree(tree: PlatformTree, root: Path) -> Path:
    """Write `tree` as a compiled tree directory (with a correct content digest)."""
    files = {
        "policies/classification.json": model_bytes(tree.classification),
        "policies/access-control.json": model_bytes(tree.access_control),
        "policies/quality-gates.json": model_bytes(tree.quality_gates),
        "catalog/namespaces.json": model_bytes(tree.namespaces),
        "catalog/schema-registry.json": model_bytes(tree.schema_registry),
        "architecture/naming-rules.json": model_bytes(tree.naming_rules),
        "architecture/layer-constraints.json": model_bytes(tree.layer_constraints),
    }
    files.update(catalogue_files(tree))  # the catalogue families that are on
    manifest = tree.manifest.model_dump(mode="json")
    manifest["metadata"]["digest"] = content_digest(files)
    files["manifest.json"] = json.dumps(manifest).encode()
    return write_files(root, files)


def catalogue_files(tree: PlatformTree) -> dict[str, bytes]:
    from floe.tree.rule_families import FAMILY_FILES, enabled

    return {
        path: model_bytes(getattr(tree, field))
        for path, field, _ in FAMILY_FILES
        if enabled(getattr(tree, field))
    }


def shop_project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(FIXTURES / "shop", root)
    return root


def edit(root: Path, rel: str, old: str, new: str) -> str:
    """Replace `old` (must occur) in a project file; returns the new text."""
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    text = text.replace(old, new, 1)
    path.write_text(text)
    return text


def line_of(root: Path, rel: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    for number, line in enumerate((root / rel).read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {rel}")


def where(finding: Finding) -> tuple[str, int, str | None]:
    """Where a finding points: (file, line, model)."""
    return (finding.file, finding.line, finding.model)


def at(root: Path, rel: str, needle: str, model: str | None) -> tuple[str, int, str | None]:
    """The (file, line, model) of the first line of `rel` containing `needle`."""
    return (rel, line_of(root, rel, needle), model)


def enforce(root: Path, tree: PlatformTree | None = None) -> EnforcementResult:
    return evaluate(read_project(root), tree or make_tree())


def only(result: EnforcementResult, rule_id: str) -> list[Finding]:
    return [finding for finding in result.findings if finding.rule_id == rule_id]


def blocking_rules(result: EnforcementResult) -> set[str]:
    return result.rule_ids("error")
