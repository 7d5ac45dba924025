"""Validation of the source manifest: every section, YAML problems, positions, `from:` files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_floe
from manifest_helpers import MINIMAL, compile_in, write_manifest

from floe.errors import UsageError
from floe.platform.manifest import load_manifest
from floe.yaml_loader import load_yaml_with_positions, parse_yaml_with_positions


def _fails(tmp_path: Path, text: str, slug: str = "manifest_invalid") -> str:
    write_manifest(tmp_path, text)
    result = compile_in(tmp_path, "--out", "out")
    assert result.exit_code == 2, result.output
    assert f"error[{slug}]" in result.stderr
    assert not (tmp_path / "out").exists()
    return result.stderr


def _replace(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new)


def test_minimal_manifest_is_valid(tmp_path: Path) -> None:
    loaded = load_manifest(write_manifest(tmp_path))
    assert loaded.model.metadata.name == "acme-data-platform"
    assert loaded.model.governance.quality_gates.minimum_test_coverage == 80
    assert loaded.model.data_architecture.prefixes()["gold"] == "gold_"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # metadata
        ('version: "1.2.3"', "version: banana", "manifest.yaml:5:12: metadata.version: 'banana'"),
        ('version: "1.2.3"', "version: 1.2", "manifest.yaml:5:12: metadata.version: Input should"),
        ("name: acme-data-platform", "name: Acme_Platform", "manifest.yaml:4:9: metadata.name"),
        ("scope: enterprise", "scope: galaxy", "manifest.yaml:6:10: metadata.scope"),
        (
            "scope: enterprise",
            "scope: enterprise\n  created: yesterday",
            "manifest.yaml:7:12: metadata.created: 'yesterday' is not an RFC 3339",
        ),
        (
            "kind: Manifest",
            "kind: Manifests",
            "manifest.yaml:2:7: kind: Input should be 'Manifest'",
        ),
        ("apiVersion: floe.dev/v1", "apiVersion: floe.dev/v2", "manifest.yaml:1:13: apiVersion"),
        # plugins
        ("type: duckdb", "type: duckd", "manifest.yaml:10:11: plugins.compute.type: unknown"),
        (
            "type: dagster",
            "type: dagster\n    version: '>>9'",
            "manifest.yaml:13:14: plugins.orchestrator.version: '>>9' is not a version range "
            "like '>=1.10,<2'",
        ),
        ("type: polaris", "type: 42", "manifest.yaml:14:11: plugins.catalog.type: Input should"),
        # data_architecture
        (
            "pattern: medallion",
            "pattern: lakehouse",
            "manifest.yaml:17:12: data_architecture.pattern",
        ),
        (
            "enforcement: strict",
            "enforcement: strct",
            "manifest.yaml:19:18: data_architecture.naming.enforcement: Input should be 'strict'",
        ),
        (
            "enforcement: strict",
            "enforcement: strict\n    custom_regex: '[a-'",
            "manifest.yaml:20:19: data_architecture.naming.custom_regex: not a valid regular",
        ),
        (
            "    enforcement: strict",
            "    enforcement: strict\n  layers:\n    gold: {required_tests: not_a_list}",
            "manifest.yaml:21:28: data_architecture.layers.gold.required_tests",
        ),
        # governance
        (
            "minimum_test_coverage: 80",
            "minimum_test_coverage: 180",
            "manifest.yaml:23:28: governance.quality_gates.minimum_test_coverage: Input should be "
            "less than or equal to 100",
        ),
        (
            "minimum_test_coverage: 80",
            "minimum_test_coverage: '80'",
            "manifest.yaml:23:28: governance.quality_gates.minimum_test_coverage",
        ),
        (
            "block_on_failure: true",
            "block_on_failure: sometimes",
            "manifest.yaml:24:23: governance.quality_gates.block_on_failure",
        ),
        (
            "governance:\n",
            "governance:\n  classification:\n    levels: [public, public]\n",
            "manifest.yaml:23:13: governance.classification.levels: duplicate level 'public'",
        ),
        (
            "governance:\n",
            "governance:\n  access_control:\n    roles: analyst\n",
            "manifest.yaml:23:12: governance.access_control.roles: Input should be a valid list",
        ),
        # catalog, security, artifacts
        (
            "governance:\n",
            "catalog:\n  grants: {gold: {analyst: select}}\ngovernance:\n",
            "manifest.yaml:22:28: catalog.grants.gold.analyst",
        ),
        (
            "governance:\n",
            "security:\n  trusted_identities:\n    - issuer: https://x\ngovernance:\n",
            "manifest.yaml:23:7: security.trusted_identities[0]: give exactly one of subject",
        ),
        (
            "governance:\n",
            "security:\n  require_signed_artifacts: 1\ngovernance:\n",
            "manifest.yaml:22:29: security.require_signed_artifacts",
        ),
        (
            "governance:\n",
            "artifacts:\n  registry: https://example.com/x\ngovernance:\n",
            "manifest.yaml:22:13: artifacts.registry: 'https://example.com/x' must start with oci://",
        ),
    ],
)
def test_bad_value_names_file_line_column_and_path(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert expected in _fails(tmp_path, _replace(old, new))


def test_unknown_key_suggests_the_closest_name(tmp_path: Path) -> None:
    stderr = _fails(tmp_path, _replace("minimum_test_coverage", "minimum_test_coverag"))
    assert (
        "manifest.yaml:23:5: governance.quality_gates.minimum_test_coverag: unknown key" in stderr
    )
    assert "did you mean 'minimum_test_coverage'?" in stderr


def test_unknown_top_level_key_lists_alternatives(tmp_path: Path) -> None:
    stderr = _fails(tmp_path, MINIMAL + "zzz: 1\n")
    assert "manifest.yaml:25:1: zzz: unknown key 'zzz'; allowed: apiVersion, kind" in stderr


def test_missing_required_section(tmp_path: Path) -> None:
    text = MINIMAL.replace("plugins:\n  compute:\n    type: duckdb\n", "plugins:\n")
    stderr = _fails(tmp_path, text)
    assert "manifest.yaml:8:1: plugins.compute: missing required key 'compute'" in stderr


def test_tabs_are_rejected_with_position(tmp_path: Path) -> None:
    stderr = _fails(tmp_path, _replace("  quality_gates:", "\tquality_gates:"))
    assert "manifest.yaml:22:1: tab character in indentation" in stderr


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    stderr = _fails(tmp_path, MINIMAL + "governance:\n  quality_gates: {}\n")
    assert (
        "manifest.yaml:25:1: governance: duplicate key 'governance' (first defined at line 21)"
        in (stderr)
    )


def test_syntax_error_and_non_mapping_root(tmp_path: Path) -> None:
    assert "manifest.yaml:3:1: not valid YAML" in _fails(tmp_path, "a: [1,\nb: 2\n")
    assert "must be a mapping" in _fails(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in _fails(tmp_path, "")


def test_json_error_lists_every_problem(tmp_path: Path) -> None:
    text = _replace("enforcement: strict", "enforcement: nope").replace("80", "101")
    write_manifest(tmp_path, text)
    result = compile_in(tmp_path, "--format", "json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["event"] == "manifest_invalid"
    assert [(e["line"], e["path"]) for e in data["errors"]] == [
        (19, "data_architecture.naming.enforcement"),
        (23, "governance.quality_gates.minimum_test_coverage"),
    ]
    assert "(+1 more)" in data["message"]


def test_from_sections_load_policy_files(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "classification.yaml").write_text(
        "levels: [public, pii]\nrules:\n  pii: {forbidden_layers: [gold]}\n"
    )
    text = _replace(
        "governance:\n", "governance:\n  classification:\n    from: policies/classification.yaml\n"
    )
    loaded = load_manifest(write_manifest(tmp_path, text))
    assert loaded.model.governance.classification.levels == ["public", "pii"]
    assert loaded.model.governance.classification.rules["pii"].forbidden_layers == ["gold"]


def test_errors_in_policy_files_name_that_file(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "access.yaml").write_text("roles: [analyst]\npermisions: {}\n")
    text = _replace(
        "governance:\n", "governance:\n  access_control: {from: policies/access.yaml}\n"
    )
    stderr = _fails(tmp_path, text)
    assert "policies/access.yaml:2:1: governance.access_control.permisions: unknown key" in stderr
    assert "did you mean 'permissions'?" in stderr


def test_missing_policy_file_points_at_from(tmp_path: Path) -> None:
    text = _replace("governance:\n", "governance:\n  classification:\n    from: nope.yaml\n")
    stderr = _fails(tmp_path, text)
    assert (
        "manifest.yaml:23:11: governance.classification.from: policy file nope.yaml not found"
        in (stderr)
    )


def test_from_with_other_keys_is_rejected(tmp_path: Path) -> None:
    text = _replace(
        "governance:\n", "governance:\n  classification:\n    from: x.yaml\n    levels: [a]\n"
    )
    assert "a section with `from:` may hold no other keys" in _fails(tmp_path, text)


def test_loader_positions_and_timestamps_stay_text(tmp_path: Path) -> None:
    doc = parse_yaml_with_positions("a:\n  b: [x, {c: 2024-01-15T10:30:00Z}]\n", "f.yaml")
    assert doc.data == {"a": {"b": ["x", {"c": "2024-01-15T10:30:00Z"}]}}
    assert doc.where(("a", "b", 1, "c")) == "f.yaml:2:14"
    assert doc.where(("a", "b"), key=True) == "f.yaml:2:3"
    assert doc.where(("a", "missing")) == "f.yaml:2:3"


def test_loader_uses_the_callers_slug(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text("platform:\n  ref: a\n  ref: b\n")
    with pytest.raises(UsageError) as caught:
        load_yaml_with_positions(path, slug="floe_yaml_invalid", display="floe.yaml")
    assert caught.value.slug == "floe_yaml_invalid"
    assert caught.value.message.startswith("floe.yaml:3:3: platform.ref: duplicate key")


def test_acme_example_manifest_is_valid() -> None:
    loaded = load_manifest(REPO_ROOT / "manifests" / "acme" / "manifest.yaml")
    model = loaded.model
    assert model.metadata.version == "1.2.3"
    assert model.governance.classification.levels[-1] == "phi"
    assert model.governance.access_control.roles == ["data_engineer", "analyst", "admin"]
    assert model.governance.quality_gates.minimum_test_coverage == 80
    assert model.data_architecture.layers["gold"].required_tests[-1] == "documentation"


def test_schema_export_matches_committed_schema(tmp_path: Path) -> None:
    result = run_floe("schema", "export", "--out", str(tmp_path / "schema.json"))
    assert result.exit_code == 0, result.output
    committed = REPO_ROOT / "docs" / "manifest.schema.json"
    assert (tmp_path / "schema.json").read_bytes() == committed.read_bytes(), (
        "docs/manifest.schema.json is stale: run `make schema`"
    )
    assert run_floe("schema", "export").stdout.encode() == committed.read_bytes()


def test_schema_accepts_the_example_and_rejects_unknown_keys() -> None:
    import jsonschema

    schema = json.loads((REPO_ROOT / "docs" / "manifest.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    manifest = REPO_ROOT / "manifests" / "acme" / "manifest.yaml"
    data = load_yaml_with_positions(manifest).data
    assert list(validator.iter_errors(data)) == []
    data["governance"]["quality_gatez"] = {}
    assert any("quality_gatez" in e.message for e in validator.iter_errors(data))
