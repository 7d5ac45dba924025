"""Helpers for the OCI transport tests: build a valid compiled tree without the compiler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floe.tree import model as t


def tree_files(version: str = "1.2.3", name: str = "acme", note: str = "") -> dict[str, bytes]:
    """The files of a valid compiled tree (content digest filled in)."""
    files: dict[str, bytes] = {
        t.CLASSIFICATION_FILE: t.model_bytes(
            t.Classification(levels=["public", "internal", "pii"], default_level="internal")
        ),
        t.ACCESS_CONTROL_FILE: t.model_bytes(
            t.AccessControl(roles=["analyst", "engineer"], permissions={"analyst": ["select"]})
        ),
        t.QUALITY_GATES_FILE: t.model_bytes(
            t.QualityGates(minimum_test_coverage=80, required_tests=["not_null"])
        ),
        t.NAMESPACES_FILE: t.model_bytes(t.Namespaces(namespaces=["bronze", "silver", "gold"])),
        t.SCHEMA_REGISTRY_FILE: t.model_bytes(
            t.SchemaRegistry(require_column_descriptions=bool(note))
        ),
        t.NAMING_RULES_FILE: t.model_bytes(
            t.NamingRules(
                pattern="medallion",
                enforcement="strict",
                prefixes={"bronze": "brz_", "silver": "slv_", "gold": "gld_"},
            )
        ),
        t.LAYER_CONSTRAINTS_FILE: t.model_bytes(
            t.LayerConstraints(layers={"gold": t.LayerConstraint(required_tests=["unique"])})
        ),
    }
    manifest: dict[str, Any] = {
        "apiVersion": t.API_VERSION,
        "kind": t.ARTIFACT_KIND,
        "metadata": {
            "name": name,
            "version": version,
            "created": "2026-01-01T00:00:00Z",
            "digest": t.content_digest(files),
        },
        "plugins": {"compute": "duckdb"},
    }
    files[t.MANIFEST_FILE] = t.dump_json(manifest)
    t.parse_tree(files)  # the helper must produce what the real compiler produces
    return files


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_dir(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
