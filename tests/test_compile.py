"""`floe platform compile`: transcript output, determinism, contract, secrets, atomic writes."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from manifest_helpers import MINIMAL, compile_in, compile_json, tree_bytes, write_manifest

from floe.tree import model as tree

TRANSCRIPT = """\
[1/4] Validating manifest.yaml
  ✓ Schema validation passed
  ✓ Plugin references valid

[2/4] Recording plugins (resolved against the environment by `floe compile`)
  orchestrator: dagster -> dagster, dagster-dbt any version (floe writes a Dagster code location)
  catalog: polaris (recorded metadata; floe does not act on it)
  compute: duckdb -> dbt-duckdb any version (dbt adapter; floe writes its profile)

[3/4] Building governance policies
  ✓ classification.json
  ✓ access-control.json
  ✓ quality-gates.json
  ✓ namespaces.json
  ✓ schema-registry.json

[4/4] Building architecture rules
  ✓ naming-rules.json
  ✓ layer-constraints.json

Artifacts built: .floe/artifacts/
"""


def _copy_acme(tmp_path: Path) -> Path:
    """The example platform (manifest + policy files) at the same relative layout."""
    shutil.copytree(REPO_ROOT / "manifests" / "acme", tmp_path / "manifests" / "acme")
    shutil.copytree(REPO_ROOT / "policies" / "acme", tmp_path / "policies" / "acme")
    return tmp_path / "manifests" / "acme" / "manifest.yaml"


def test_seed_manifest_prints_the_transcript(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    result = compile_in(tmp_path)
    assert result.exit_code == 0, result.output
    digest = tree.load_tree(tmp_path / ".floe" / "artifacts").manifest.metadata.digest
    assert result.stdout == TRANSCRIPT + f"Content digest: {digest}\n"


def test_tree_matches_the_contract(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    assert compile_in(tmp_path).exit_code == 0
    out = tmp_path / ".floe" / "artifacts"
    files = tree_bytes(out)
    assert sorted(files) == sorted(tree.TREE_FILES)
    parsed = tree.load_tree(out)
    assert parsed.manifest.metadata.digest == tree.content_digest(files)
    assert parsed.manifest.metadata.created == "1970-01-01T00:00:00Z"
    assert parsed.manifest.plugins == {
        "compute": "duckdb",
        "orchestrator": "dagster",
        "catalog": "polaris",
    }
    assert parsed.naming_rules.prefixes == {
        "bronze": "bronze_",
        "silver": "silver_",
        "gold": "gold_",
    }
    assert parsed.quality_gates.minimum_test_coverage == 80
    assert parsed.classification.levels == ["public", "internal", "confidential", "pii", "phi"]
    for name, data in files.items():
        assert data == tree.dump_json(json.loads(data)), f"{name} is not in canonical form"


def test_acme_example_compiles_with_policy_files(tmp_path: Path) -> None:
    manifest = _copy_acme(tmp_path)
    result = compile_in(tmp_path, str(manifest.relative_to(tmp_path)))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[1/4] Validating manifests/acme/manifest.yaml\n")
    parsed = tree.load_tree(tmp_path / ".floe" / "artifacts")
    assert parsed.manifest.metadata.created == "2024-01-15T10:30:00Z"
    assert parsed.access_control.roles == ["data_engineer", "analyst", "admin"]
    assert parsed.classification.rules["phi"].forbidden_layers == ["gold"]
    assert parsed.layer_constraints.layers["silver"].required_tests == [
        "not_null_pk",
        "unique_pk",
        "freshness",
    ]
    assert parsed.manifest.security.require_signed_artifacts is True


def test_default_manifest_is_the_only_one_under_manifests(tmp_path: Path) -> None:
    _copy_acme(tmp_path)
    assert compile_in(tmp_path).exit_code == 0
    write_manifest(tmp_path / "manifests" / "other")
    result = compile_in(tmp_path)
    assert result.exit_code == 2
    assert "error[manifest_ambiguous]" in result.stderr
    assert "error[manifest_missing]" in compile_in(tmp_path / "manifests").stderr


def test_compiling_twice_gives_identical_bytes(tmp_path: Path) -> None:
    manifest = _copy_acme(tmp_path)
    rel = str(manifest.relative_to(tmp_path))
    assert compile_in(tmp_path, rel, "--out", "a").exit_code == 0
    assert compile_in(tmp_path, rel, "--out", "b").exit_code == 0
    first, second = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert first == second
    assert compile_in(tmp_path, rel, "--out", "a").exit_code == 0
    assert tree_bytes(tmp_path / "a") == first


def test_reordered_yaml_keys_give_identical_output(tmp_path: Path) -> None:
    write_manifest(tmp_path / "one")
    reordered = """\
governance:
  quality_gates: {block_on_failure: true, minimum_test_coverage: 80}
data_architecture:
  naming:
    enforcement: strict
  pattern: medallion
plugins:
  catalog: {type: polaris}
  orchestrator: {type: dagster}
  compute: {type: duckdb}
metadata:
  scope: enterprise
  version: "1.2.3"
  name: acme-data-platform
kind: Manifest
apiVersion: floe.dev/v1
"""
    write_manifest(tmp_path / "two", reordered)
    assert compile_in(tmp_path / "one").exit_code == 0
    assert compile_in(tmp_path / "two").exit_code == 0
    one = tree_bytes(tmp_path / "one" / ".floe" / "artifacts")
    assert one == tree_bytes(tmp_path / "two" / ".floe" / "artifacts")


def test_created_comes_from_source_date_epoch_then_the_manifest(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    result = compile_json(tmp_path)
    assert result["created"] == "1970-01-01T00:00:00Z"
    epoch = compile_in(tmp_path, "--out", "e", env={"SOURCE_DATE_EPOCH": "1705314600"})
    assert epoch.exit_code == 0
    assert tree.load_tree(tmp_path / "e").manifest.metadata.created == "2024-01-15T10:30:00Z"
    write_manifest(
        tmp_path, MINIMAL.replace("  scope: enterprise\n", "  created: 2024-02-01T12:00:00+01:00\n")
    )
    pinned = compile_in(tmp_path, "--out", "p", env={"SOURCE_DATE_EPOCH": "1705314600"})
    assert pinned.exit_code == 0
    assert tree.load_tree(tmp_path / "p").manifest.metadata.created == "2024-02-01T11:00:00Z"
    bad = compile_in(tmp_path, "--out", "x", env={"SOURCE_DATE_EPOCH": "soon"})
    assert bad.exit_code == 0  # the manifest's created wins; the variable is not consulted
    write_manifest(tmp_path)
    bad = compile_in(tmp_path, "--out", "x", env={"SOURCE_DATE_EPOCH": "soon"})
    assert bad.exit_code == 2
    assert "error[source_date_epoch_invalid]" in bad.stderr


def test_json_output_lists_files_and_digests(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    data = compile_json(tmp_path)
    out = tmp_path / ".floe" / "artifacts"
    assert data["event"] == "platform_compiled"
    assert [f["path"] for f in data["files"]] == sorted(tree.TREE_FILES)
    for entry in data["files"]:
        raw = (out / entry["path"]).read_bytes()
        assert entry["digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert entry["size"] == len(raw)
    assert data["content_digest"] == tree.content_digest(tree_bytes(out))
    assert [(p["slot"], p["type"], p["version"]) for p in data["plugins"]] == [
        ("orchestrator", "dagster", ""),
        ("catalog", "polaris", ""),
        ("compute", "duckdb", ""),
    ]
    assert "recorded metadata" in data["plugins"][1]["line"]


def _with_compute_config(config: str) -> str:
    return MINIMAL.replace("    type: duckdb\n", "    type: duckdb\n    config:\n" + config)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("      password: hunter2\n", "12:17: plugins.compute.config.password: key 'password'"),
        ("      clientSecret: abc\n", "plugins.compute.config.clientSecret: key 'clientSecret'"),
        ("      s3:\n        api_key: abc\n", "13:18: plugins.compute.config.s3.api_key"),
        (
            "      settings: {s3_access_key_id: AKIAIOSFODNN7EXAMPLE}\n",
            "12:36: plugins.compute.config.settings.s3_access_key_id: value looks like an AWS",
        ),
        ("      auth: ghp_" + "a1B2" * 9 + "\n", "looks like a GitHub token"),
        ("      hook: xoxb-1234567890-abcdefghij\n", "looks like a Slack token"),
        (
            "      session: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3\n",
            "looks like a JSON Web Token",
        ),
        (
            '      pem: "-----BEGIN EC PRIVATE KEY-----\\nMHc\\n-----END EC PRIVATE KEY-----"\n',
            "looks like a PEM private key",
        ),
        ("      url: postgres://app:hunter2@db:5432/x\n", "looks like a URL with an embedded"),
        ("      opaque: Zx9Qk2Lm8Rt4Vw7Yb3Nc6Hd1Jf5Gs0Ae\n", "looks like a long random string"),
        ("      extensions: [parquet, AKIAIOSFODNN7EXAMPLE]\n", "config.extensions[1]"),
        ("      db_password: 123456\n", "config.db_password: key 'db_password'"),
        ("      tokens: [abc, def]\n", "config.tokens[0]: key 'tokens'"),
    ],
)
def test_secrets_are_refused(tmp_path: Path, config: str, expected: str) -> None:
    write_manifest(tmp_path, _with_compute_config(config))
    result = compile_in(tmp_path, "--out", "out")
    assert result.exit_code == 2, result.output
    assert "error[compile_secret_detected]" in result.stderr
    assert expected in result.stderr
    assert "hunter2" not in result.stderr and "AKIA" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_env_references_and_ordinary_values_are_kept(tmp_path: Path) -> None:
    config = (
        "      path: ${env:FLOE_DUCKDB_PATH}\n"
        "      password: ${env:DUCKDB_PASSWORD}\n"
        "      url: postgres://app:${env:PGPASSWORD}@db:5432/x\n"
        "      token_url: https://auth.example.com/oauth/token\n"
        "      token_ttl: 3600\n"
        "      digest: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n"
        "      threads: 4\n"
    )
    write_manifest(tmp_path, _with_compute_config(config))
    result = compile_in(tmp_path)
    assert result.exit_code == 0, result.output
    parsed = tree.load_tree(tmp_path / ".floe" / "artifacts")
    config_out = parsed.manifest.plugin_details["compute"].config
    assert config_out["path"] == "${env:FLOE_DUCKDB_PATH}"
    assert config_out["password"] == "${env:DUCKDB_PASSWORD}"
    assert config_out["threads"] == 4


def test_trusted_keys_are_inlined_and_private_keys_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_bytes(public)
    text = (
        MINIMAL + "security:\n  require_signed_artifacts: true\n  trusted_keys: [keys/cosign.pub]\n"
    )
    write_manifest(tmp_path, text)
    assert compile_in(tmp_path).exit_code == 0
    security = tree.load_tree(tmp_path / ".floe" / "artifacts").manifest.security
    assert security.trusted_keys == [public.decode()]
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (tmp_path / "keys" / "cosign.pub").write_bytes(private)
    result = compile_in(tmp_path)
    assert result.exit_code == 2
    assert "manifest.yaml:27:18: security.trusted_keys[0]: this is a private key" in result.stderr
    write_manifest(tmp_path, text.replace("keys/cosign.pub", "keys/missing.pub"))
    assert "public key file 'keys/missing.pub' not found" in compile_in(tmp_path).stderr


def test_atomic_replace_leaves_no_temp_dirs(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    for _ in range(2):
        assert compile_in(tmp_path).exit_code == 0
    assert sorted(p.name for p in (tmp_path / ".floe").iterdir()) == ["artifacts"]
    write_manifest(tmp_path, MINIMAL.replace("80", "180"))
    assert compile_in(tmp_path).exit_code == 2
    assert sorted(p.name for p in (tmp_path / ".floe").iterdir()) == ["artifacts"]
    tree.load_tree(tmp_path / ".floe" / "artifacts")  # the previous tree is intact


def test_refuses_to_replace_a_directory_that_is_not_a_tree(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "important.py").write_text("keep me\n")
    result = compile_in(tmp_path, "--out", "src")
    assert result.exit_code == 2
    assert "error[compile_out_invalid]" in result.stderr
    assert (tmp_path / "src" / "important.py").read_text() == "keep me\n"


def test_equal_numbers_and_v_prefixed_versions_compile_identically(tmp_path: Path) -> None:
    write_manifest(tmp_path / "a")
    variant = MINIMAL.replace("coverage: 80", "coverage: 80.0").replace('"1.2.3"', "v1.2.3")
    write_manifest(tmp_path / "b", variant)
    assert compile_in(tmp_path / "a").exit_code == 0
    assert compile_in(tmp_path / "b").exit_code == 0
    first = tree_bytes(tmp_path / "a" / ".floe" / "artifacts")
    assert first == tree_bytes(tmp_path / "b" / ".floe" / "artifacts")
    assert b'"minimum_test_coverage": 80,' in first[tree.QUALITY_GATES_FILE]
    assert b'"version": "1.2.3"' in first[tree.MANIFEST_FILE]


def test_refuses_the_working_directory_as_output(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write_manifest(tmp_path)
    result = compile_in(tmp_path / "empty", "../manifest.yaml", "--out", ".")
    assert result.exit_code == 2
    assert "it is the working directory" in result.stderr


def test_duckdb_config_types_are_checked(tmp_path: Path) -> None:
    write_manifest(tmp_path, _with_compute_config("      threads: four\n"))
    result = compile_in(tmp_path)
    assert result.exit_code == 2
    assert (
        "manifest.yaml:12:16: plugins.compute.config.threads: duckdb expects a whole number "
        "(got 'four' (a string))" in result.stderr
    )


def test_missing_manifest_is_a_usage_error(tmp_path: Path) -> None:
    result = compile_in(tmp_path, "nope.yaml")
    assert result.exit_code == 2
    assert "error[manifest_missing]: nope.yaml: no such manifest file" in result.stderr


def test_secret_in_a_policy_file_or_registry_names_its_place(tmp_path: Path) -> None:
    (tmp_path / "ac.yaml").write_text(
        "roles: [analyst]\npermissions:\n  analyst: [AKIAIOSFODNN7EXAMPLE]\n"
    )
    text = MINIMAL.replace("governance:\n", "governance:\n  access_control: {from: ac.yaml}\n")
    write_manifest(tmp_path, text)
    result = compile_in(tmp_path)
    assert result.exit_code == 2
    assert "compile_secret_detected]: ac.yaml:3:13: governance.access_control.permissions" in (
        result.stderr
    )
    registry = MINIMAL + "artifacts:\n  registry: oci://bot:s3cr3t@registry.example.com/acme\n"
    write_manifest(tmp_path, registry)
    result = compile_in(tmp_path)
    assert result.exit_code == 2
    assert "manifest.yaml:26:13: artifacts.registry: value looks like a URL with an embedded" in (
        result.stderr
    )
    assert "s3cr3t" not in result.stderr
