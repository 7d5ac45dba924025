"""`floe compile --platform VERSION`: the upgrade preview, against a real registry.

The candidate is verified and cached as `floe init` would, never locked; the preview
lists the findings it adds, removes and changes on the Customer 360 demo, exits 1 when
the candidate would block, and writes none of the outputs a build writes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from compile_helpers import REPO_ROOT, copy_demo, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import make_signer, make_tree, publish, tree_hashes

from floe.project.lifecycle import load_verified_platform
from floe.project.preview import diff_findings
from floe.release.cache import ProjectPaths, global_cache_dir
from floe.rules.model import Finding
from floe.tree import model as t
from floe.tree.model import read_tree_files


@pytest.fixture(scope="module")
def acme_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The committed acme manifest (v1.2.3), compiled by `floe platform compile`."""
    out = tmp_path_factory.mktemp("acme") / "artifacts"
    manifest = REPO_ROOT / "manifests" / "acme" / "manifest.yaml"
    result = run_floe("platform", "compile", str(manifest), "--out", str(out))
    assert result.exit_code == 0, result.output
    return read_tree_files(out)


def release(
    files: dict[str, bytes],
    version: str,
    edits: dict[str, dict[str, Any]] | None = None,
    *,
    key: Path | None = None,
) -> dict[str, bytes]:
    """`files` as release `version`, each file's JSON fields updated, `key` added to its
    trusted keys (as demo/run-demo.sh adds the demo key); content digest recomputed."""
    body = {name: data for name, data in files.items() if name != t.MANIFEST_FILE}
    for name, fields in (edits or {}).items():
        body[name] = t.dump_json({**json.loads(body[name]), **fields})
    manifest = t.PlatformManifest.model_validate_json(files[t.MANIFEST_FILE])
    metadata = manifest.metadata.model_copy(
        update={"version": version, "digest": t.content_digest(body)}
    )
    update: dict[str, Any] = {"metadata": metadata}
    if key is not None:
        keys = [*manifest.security.trusted_keys, key.read_text()]
        update["security"] = manifest.security.model_copy(update={"trusted_keys": keys})
    body[t.MANIFEST_FILE] = t.model_bytes(manifest.model_copy(update=update))
    t.parse_tree(body)  # a tree floe would accept
    return body


# v1.3.0 tightens two rules: every column tested, and gold models need a contract test
TIGHTER = {
    t.QUALITY_GATES_FILE: {"minimum_test_coverage": 100},
    t.LAYER_CONSTRAINTS_FILE: {
        "layers": {
            "bronze": {"required_tests": ["not_null_pk"]},
            "silver": {"required_tests": ["not_null_pk", "unique_pk", "freshness"]},
            "gold": {
                "required_tests": [
                    "not_null_pk", "unique_pk", "freshness", "documentation", "relationships"
                ]
            },
        }
    },
}  # fmt: skip


def _state(project: Path) -> dict[str, str]:
    """Everything a build or an init writes: floe.yaml, the lock, trees, reports, profile."""
    state = tree_hashes(project / ".floe" / "platform", project / "target")
    for name in ("floe.yaml", ".floe/cache/artifacts.lock", "profiles.yml"):
        path = project / name
        state[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "-"
    return state


def _caches(project: Path) -> dict[str, str]:
    return tree_hashes(project / ".floe", Path(os.environ["XDG_CACHE_HOME"]))


def _init_demo(tmp_path: Path, repo: str, files: dict[str, bytes], signer: Any, pub: Path) -> Path:
    publish(repo, files, signer=signer)
    project = copy_demo("customer-360", tmp_path / "customer-360")
    init = run_floe("init", "--platform=v1.2.3", "--registry", repo, "--key", str(pub), cwd=project)
    assert init.exit_code == 0, init.output
    built = run_floe("compile", "--dir", str(project))
    assert built.exit_code == 0, built.output
    return project


@pytest.mark.registry
def test_preview_lists_the_new_findings_on_customer_360_without_locking(
    tmp_path: Path, registry: Any, repo_name: str, acme_files: dict[str, bytes]
) -> None:
    from floe.oci.layout import LayoutTarget

    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "keys")
    project = _init_demo(tmp_path, repo, release(acme_files, "1.2.3", key=pub), signer, pub)
    candidate = publish(repo, release(acme_files, "1.3.0", TIGHTER, key=pub), signer=signer)
    before = _state(project)
    assert (project / "target" / "floe" / "compiled.json").is_file()

    text = run_floe("compile", "--dir", str(project), "--platform", "v1.3.0")
    assert text.exit_code == 1, text.output
    out = text.stdout
    assert "Upgrade preview: acme-data-platform v1.2.3 (locked) -> v1.3.0" in out
    assert "✓ v1.2.3 (locked): passed, 0 error(s)" in out
    assert "✗ v1.3.0 (candidate): blocked" in out and "(minimum 100%)" in out
    assert "  ✓ Verifying signature" in out
    assert "v1.3.0 would block this project" in out
    added_lines = [line for line in out.splitlines() if line.startswith("  + ")]
    assert any("quality.coverage" in line for line in added_lines), out
    relationships = [line for line in added_lines if "relationships" in line]
    assert relationships and all("models/gold/" in line for line in relationships), out
    assert "Findings v1.3.0 removes: 0" in out
    assert _state(project) == before  # no lock, floe.yaml, tree, report or profile written

    seen = len(registry.request_log())
    data = json.loads(
        run_floe("compile", "--dir", str(project), "--platform=^1.3", "--format", "json").stdout
    )
    asked = [r for r in registry.request_log()[seen:] if repo_name in r]
    assert any("/tags/list" in r for r in asked), asked  # resolved against the registry
    assert not [r for r in asked if "/blobs/" in r], asked  # every blob from the cache
    assert data["event"] == "upgrade_preview" and data["kind"] == "UpgradePreview"
    assert data["status"] == "blocked" and data["lock_written"] is False
    assert data["locked"]["version"] == "v1.2.3" and data["locked"]["status"] == "passed"
    assert data["candidate"]["version"] == "v1.3.0"
    assert data["candidate"]["manifest_digest"] == candidate
    assert data["candidate"]["trust"] == "floe.yaml" and data["candidate"]["signer"]
    rules = {f["rule_id"] for f in data["added"]}
    assert "quality.coverage" in rules and "layer.required_test" in rules, rules
    assert len(added_lines) == len(data["added"])
    assert data["removed"] == [] and data["changed"] == []
    assert all(f["severity"] == "error" for f in data["added"])
    assert _state(project) == before

    # verified and cached (content-addressed), so `floe init` later needs no new download
    paths = ProjectPaths(project)
    for layout in (LayoutTarget(paths.oci_dir), LayoutTarget(global_cache_dir())):
        assert layout.resolve(candidate).digest == candidate
    assert load_verified_platform(project).version == "v1.2.3"
    assert run_floe("compile", "--dir", str(project)).exit_code == 0

    sarif = json.loads(
        run_floe("compile", "--dir", str(project), "--platform=v1.3.0", "--format=sarif").stdout
    )
    assert len(sarif["runs"][0]["results"]) == len(data["added"])
    github = run_floe("compile", "--dir", str(project), "--platform=v1.3.0", "--format=github")
    assert github.exit_code == 1
    assert len(github.stdout.splitlines()) == len(data["added"])
    assert all(line.startswith("::error ") for line in github.stdout.splitlines())

    # pinning it afterwards verifies it again from the caches, and the build says the same
    pinned = run_floe("init", "--platform=v1.3.0", cwd=project)
    assert pinned.exit_code == 0, pinned.output
    assert "✓ Artifacts already cached" in pinned.stdout
    built = run_floe("compile", "--dir", str(project), "--format=json")
    assert built.exit_code == 1
    found = {(f["rule_id"], f["model"], f["message"]) for f in json.loads(built.stdout)["findings"]}
    assert found == {(f["rule_id"], f["model"], f["message"]) for f in data["added"]}


@pytest.mark.registry
def test_preview_of_the_same_release_changes_nothing_and_passes(
    tmp_path: Path, registry: Any, repo_name: str, acme_files: dict[str, bytes]
) -> None:
    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "keys")
    project = _init_demo(tmp_path, repo, release(acme_files, "1.2.3", key=pub), signer, pub)
    publish(repo, release(acme_files, "1.2.4", key=pub), signer=signer)  # a neutral patch
    publish(repo, release(acme_files, "2.0.0", key=pub), signer=signer)
    before = _state(project)
    result = run_floe("compile", "--dir", str(project), "--platform", "v1.2.*")
    assert result.exit_code == 0, result.output
    assert "Findings v1.2.4 adds: 0" in result.stdout
    assert "Findings v1.2.4 removes: 0" in result.stdout
    assert "  ! A newer version v2.0.0 exists outside v1.2.*" in result.stdout
    assert "v1.2.4 would pass; `floe init --platform=v1.2.*` pins it" in result.stdout
    assert _state(project) == before
    data = json.loads(
        run_floe("compile", "--dir", str(project), "--platform=v1.2.*", "--format=json").stdout
    )
    assert data["candidate"]["newer"] == {"matching": None, "outside_constraint": "v2.0.0"}
    assert data["status"] == "passed" and data["candidate"]["read_from"]["kind"] == "files"
    same = run_floe("compile", "--dir", str(project), "--platform=v1.2.3", "--format=json")
    assert same.exit_code == 0, same.output
    itself = json.loads(same.stdout)
    assert itself["candidate"]["manifest_digest"] == itself["locked"]["manifest_digest"]
    assert itself["added"] == itself["removed"] == itself["changed"] == []
    assert _state(project) == before


@pytest.mark.registry
@pytest.mark.dbt
@pytest.mark.slow
def test_preview_with_dbt_parse_sees_what_dbt_resolved(
    tmp_path: Path, registry: Any, repo_name: str, acme_files: dict[str, bytes]
) -> None:
    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "keys")
    project = _init_demo(tmp_path, repo, release(acme_files, "1.2.3", key=pub), signer, pub)
    publish(repo, release(acme_files, "1.3.0", TIGHTER, key=pub), signer=signer)
    reports = tree_hashes(project / "target" / "floe")
    profile = (project / "profiles.yml").read_bytes()
    files_mode = json.loads(
        run_floe("compile", "--dir", str(project), "--platform=v1.3.0", "--format=json").stdout
    )
    result = run_floe(
        "compile", "--dir", str(project), "--platform=v1.3.0", "--parse", "--format=json"
    )
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    for side in ("locked", "candidate"):
        read_from = data[side]["read_from"]
        assert read_from["kind"] == "dbt-parse" and read_from["digest"].startswith("sha256:")
    assert data["locked"]["status"] == "passed"
    key = ("rule_id", "model", "message")
    assert sorted(tuple(f[k] for k in key) for f in data["added"]) == sorted(
        tuple(f[k] for k in key) for f in files_mode["added"]
    )
    assert tree_hashes(project / "target" / "floe") == reports  # no report of a build rewritten
    assert (project / "profiles.yml").read_bytes() == profile
    manifest = project / "target" / "manifest.json"  # what dbt's parse left
    given = run_floe(
        "compile", "--dir", str(project), "--platform=v1.3.0", "--manifest", str(manifest),
        "--format=json",
    )  # fmt: skip
    assert given.exit_code == 1, given.output
    from_manifest = json.loads(given.stdout)
    assert from_manifest["candidate"]["read_from"]["kind"] == "manifest"
    assert len(from_manifest["added"]) == len(data["added"])


@pytest.mark.registry
def test_init_says_a_newer_release_outside_its_constraint(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    for version in ("1.2.3", "1.4.0", "2.0.0", "3.0.0-rc.1"):
        publish(repo, make_tree(version))
    project = tmp_path / "p"
    project.mkdir()
    text = run_floe("init", "--platform=^1.2", "--registry", repo, cwd=project)
    assert text.exit_code == 0, text.output
    assert "A newer version v2.0.0 exists outside ^1.2" in text.stdout  # prereleases never
    assert "matches ^1.2" not in text.stdout  # init takes the highest match itself
    latest = tmp_path / "latest"
    latest.mkdir()
    data = json.loads(
        run_floe(
            "init", "--platform=latest", "--registry", repo, "--format=json", cwd=latest
        ).stdout
    )
    assert data["version"] == "v2.0.0"
    assert data["newer"] == {"matching": None, "outside_constraint": None}


@pytest.mark.registry
def test_loosened_enforcement_shows_errors_becoming_warnings(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    strict = make_tree("1.2.3")
    publish(repo, strict)
    project = write_tiny_project(tmp_path / "tiny", model="numbers")  # no layer prefix
    assert run_floe("init", "--platform=v1.2.3", "--registry", repo, cwd=project).exit_code == 0
    assert run_floe("compile", "--dir", str(project)).exit_code == 1
    loose = release(strict, "1.3.0", {t.NAMING_RULES_FILE: {"enforcement": "warn"}})
    publish(repo, loose)
    result = run_floe("compile", "--dir", str(project), "--platform=v1.3.0", "--format=json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["locked"]["status"] == "blocked" and data["candidate"]["status"] == "passed"
    changed = [c for c in data["changed"] if c["rule_id"] == "naming.prefix"]
    assert changed and all(c["was"] == "error" and c["now"] == "warning" for c in changed)
    text = run_floe("compile", "--dir", str(project), "--platform=v1.3.0")
    assert "  ~ models/bronze/numbers.sql" in text.stdout and "(was error)" in text.stdout


@pytest.mark.registry
def test_candidate_signed_by_another_key_is_refused_and_caches_unchanged(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "k1")
    other, other_pub = make_signer(tmp_path / "k2", name="other")
    both = {"trusted_keys": [pub.read_text(), other_pub.read_text()]}
    publish(repo, make_tree("1.2.3", security=both), signer=signer)
    project = write_tiny_project(tmp_path / "tiny")
    assert run_floe("init", "--platform=^1.2", "--registry", repo, cwd=project).exit_code == 0
    # the lock recorded the signer; the tree itself lists both keys
    publish(repo, make_tree("1.3.0", security=both), signer=other)
    before = _caches(project)
    state = _state(project)
    result = run_floe("compile", "--dir", str(project), "--platform", "v1.3.0")
    assert result.exit_code == 1, result.output
    assert "error[signature_untrusted]" in result.stderr
    assert _caches(project) == before and _state(project) == state
    publish(repo, make_tree("1.4.0", security=both))  # unsigned
    refused = run_floe("compile", "--dir", str(project), "--platform=v1.4.0", "--format=json")
    assert refused.exit_code == 1, refused.output
    assert json.loads(refused.stdout)["event"] == "signature_missing"
    assert _caches(project) == before and _state(project) == state


@pytest.mark.registry
def test_a_retagged_candidate_is_refused_with_nothing_written(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    from floe.oci.copy import copy_graph
    from floe.oci.resolve import open_target

    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"))
    project = write_tiny_project(tmp_path / "tiny")
    assert run_floe("init", "--platform=v1.2.3", "--registry", repo, cwd=project).exit_code == 0
    target, _ = open_target(repo)
    copy_graph(target, target, target.resolve("v1.2.3"), tag="v9.9.9")
    before = _caches(project)
    result = run_floe("compile", "--dir", str(project), "--platform=v9.*")
    assert result.exit_code == 1 and "error[artifact_version_mismatch]" in result.stderr
    assert _caches(project) == before


@pytest.mark.parametrize(
    "flags",
    [
        ["--out", "elsewhere"],
        ["--profiles-dir", "p"],
        ["--baseline", "findings.json"],
        ["--compact"],
        ["--format", "junit"],
    ],
)
def test_build_only_flags_are_refused_with_a_preview(tmp_path: Path, flags: list[str]) -> None:
    result = run_floe("compile", "--dir", str(tmp_path), "--platform=v1.3.0", *flags)
    assert result.exit_code == 2, result.output
    assert "error[usage_invalid]" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_bad_constraint_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    result = run_floe("compile", "--dir", str(tmp_path), "--platform=v1.x; rm -rf /")
    assert result.exit_code == 2 and "error[constraint_invalid]" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_preview_needs_an_initialized_project(tmp_path: Path) -> None:
    project = write_tiny_project(tmp_path / "tiny")
    result = run_floe("compile", "--dir", str(project), "--platform=v1.3.0")
    assert result.exit_code == 2 and "error[platform_not_initialized]" in result.stderr
    assert not (project / ".floe").exists() and not (project / "target").exists()


def _finding(rule: str, message: str, severity: str = "error", line: int = 1) -> Finding:
    return Finding(rule, severity, "m", "models/m.sql", line, message, "fix")  # type: ignore[arg-type]


def test_findings_match_on_rule_model_file_and_message_not_line() -> None:
    before = [_finding("a.x", "one", line=3), _finding("a.x", "one", line=9), _finding("b", "two")]
    after = [
        _finding("a.x", "one", line=4),  # moved: the same finding
        _finding("b", "two", severity="warning"),  # changed severity
        _finding("c", "three"),  # new
    ]
    diff = diff_findings(before, after)
    assert [f.rule_id for f in diff.added] == ["c"]
    assert [(f.rule_id, f.line) for f in diff.removed] == [("a.x", 9)]
    assert [(c.before.severity, c.after.severity) for c in diff.changed] == [("error", "warning")]
    assert diff_findings(after, after).empty


@pytest.mark.registry
def test_accept_drift_as_documented(tmp_path: Path, registry: Any, repo_name: str) -> None:
    """docs/data-teams.md "Accepting a moved tag deliberately", claim by claim."""
    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "k1")
    trusted = {"trusted_keys": [pub.read_text()]}
    publish(repo, make_tree("1.2.3", security=trusted), signer=signer)
    project = write_tiny_project(tmp_path / "tiny")
    assert run_floe("init", "--platform=v1.2.*", "--registry", repo, cwd=project).exit_code == 0
    old = load_verified_platform(project).manifest_digest
    conflict = run_floe("platform", "pull", "--accept-drift", "--upgrade", cwd=project)
    assert conflict.exit_code == 2 and "error[pull_flags_conflict]" in conflict.stderr
    publish(repo, make_tree("1.2.3", security=trusted, min_coverage=50))  # moved, unsigned
    before = _caches(project)
    unsigned = run_floe("platform", "pull", "--accept-drift", cwd=project)
    assert unsigned.exit_code == 1 and "error[signature_missing]" in unsigned.stderr
    assert _caches(project) == before
    new = publish(repo, make_tree("1.2.3", security=trusted, min_coverage=40), signer=signer)
    drift = run_floe("platform", "pull", cwd=project)
    assert drift.exit_code == 1 and "error[lock_drift]" in drift.stderr
    accepted = run_floe("platform", "pull", "--accept-drift", cwd=project)
    assert accepted.exit_code == 0, accepted.output
    assert f"! Accepting v1.2.3 moved from {old} to {new}" in accepted.stderr
    assert load_verified_platform(project).manifest_digest == new
