"""Helpers for the catalogue tests: a platform with the catalogue families turned on."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rules_helpers import FIXTURES, make_tree

from floe.platform.rule_families import SECTIONS, RulesSpec, merged_sections
from floe.tree.model import PlatformTree

STRICT_EXTRAS: dict[str, Any] = {
    "metadata": {"allowed_tags": {"severity": "error", "tags": ["crm", "finance"]}},
}


def catalogue_tree(rules: dict[str, Any] | None = None, **sections: Any) -> PlatformTree:
    """make_tree() plus `rules:` as a manifest would author them (default: medallion-strict
    with allowed tags)."""
    spec = RulesSpec.model_validate(
        rules if rules is not None else {"preset": "medallion-strict", **STRICT_EXTRAS}
    )
    families = {
        SECTIONS[section][0]: SECTIONS[section][1].model_validate(values)
        for section, values in merged_sections(spec).items()
    }
    return make_tree(**families, **sections)


def catalogue_project(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(FIXTURES / "catalogue", root)
    return root


def acme_catalogue() -> dict[str, Any]:
    """The catalogue families of manifests/acme/manifest.yaml, as make_tree() sections."""
    from floe.platform.manifest import load_manifest
    from floe.platform.rule_families import build_families
    from floe.tree.rule_families import FAMILY_FILES

    loaded = load_manifest(Path(__file__).resolve().parent.parent / "manifests/acme/manifest.yaml")
    built = build_families(loaded.model.rules)
    return {field: built[path] for path, field, _ in FAMILY_FILES if path in built}
