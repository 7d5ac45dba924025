"""`rules:` in the platform manifest: strict schema, did-you-mean, presets, overrides,
unknown layers, and the optional tree files `floe platform compile` writes."""

from __future__ import annotations

import json
from pathlib import Path

from manifest_helpers import MINIMAL, compile_in, write_manifest

from floe.platform.manifest import manifest_json_schema
from floe.tree import model as tree


def _compile(tmp_path: Path, rules: str) -> tuple[int, str, Path]:
    write_manifest(tmp_path, MINIMAL + rules)
    result = compile_in(tmp_path)
    return result.exit_code, result.stderr, tmp_path / ".floe" / "artifacts"


def test_no_rules_section_writes_no_catalogue_file(tmp_path: Path) -> None:
    code, _, out = _compile(tmp_path, "")
    assert code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == sorted(
        tree.TREE_FILES
    )


def test_preset_with_a_field_override(tmp_path: Path) -> None:
    rules = (
        "rules:\n  preset: medallion-strict\n"
        "  contracts:\n    required: {layers: [gold, silver]}\n"
        "  sql:\n    select_star: {severity: off}\n"
    )
    code, stderr, out = _compile(tmp_path, rules)
    assert code == 0, stderr
    loaded = tree.load_tree(out)
    assert loaded.contracts.required.layers == ["gold", "silver"]
    assert loaded.contracts.required.severity == "error"  # from the preset
    assert loaded.contracts.required.access == ["public"]  # from the preset
    assert loaded.sql.select_star.severity == "off"
    assert loaded.sql.cartesian_joins.severity == "error"
    data = json.loads((out / "architecture/lineage.json").read_bytes())
    assert data["upstream_layers"]["allowed"]["gold"] == ["silver", "gold"]


def test_only_families_with_a_rule_on_are_written(tmp_path: Path) -> None:
    code, stderr, out = _compile(tmp_path, "rules:\n  sources:\n    loader: {severity: warn}\n")
    assert code == 0, stderr
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.json")}
    assert written - set(tree.TREE_FILES) == {"catalog/sources.json"}


def test_unknown_rule_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    code, stderr, _ = _compile(tmp_path, "rules:\n  contracts:\n    requird: {severity: error}\n")
    assert code == 2
    line = MINIMAL.count("\n") + 3
    assert f"manifest.yaml:{line}:5: rules.contracts.requird: unknown key 'requird'" in stderr
    assert "did you mean 'required'?" in stderr


def test_bad_severity_and_preset_are_refused(tmp_path: Path) -> None:
    code, stderr, _ = _compile(tmp_path, "rules:\n  sql:\n    select_star: {severity: block}\n")
    assert code == 2 and "error[manifest_invalid]" in stderr and "severity" in stderr
    code, stderr, _ = _compile(tmp_path, "rules:\n  preset: medallion-standrd\n")
    assert code == 2 and "rules.preset" in stderr


def test_unknown_layer_points_at_the_rule(tmp_path: Path) -> None:
    rules = "rules:\n  lineage:\n    source_layers: {severity: error, layers: [bronz]}\n"
    code, stderr, _ = _compile(tmp_path, rules)
    assert code == 2
    assert "rules.lineage.source_layers.layers" in stderr
    assert "layer 'bronz' is not a layer of this platform; did you mean 'bronze'?" in stderr


def test_kimball_preset_on_a_medallion_platform_is_refused(tmp_path: Path) -> None:
    code, stderr, _ = _compile(tmp_path, "rules:\n  preset: kimball-standard\n")
    assert code == 2 and "rules.preset" in stderr and "is not a layer" in stderr


def test_json_schema_describes_the_rules_section() -> None:
    schema = manifest_json_schema()
    assert "rules" in schema["properties"]
    defs = schema["$defs"]
    assert defs["RulesSpec"]["additionalProperties"] is False
    assert set(defs["RulesSpec"]["properties"]) == {
        "preset", "contracts", "governance", "metadata", "lineage", "structure", "sources", "sql",
    }  # fmt: skip
