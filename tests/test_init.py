"""floe init / floe platform pull against a real registry (and the embedded layout)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from lifecycle_helpers import files_under, make_signer, make_tree, publish

from floe.project.lifecycle import load_verified_platform
from floe.release.lockfile import read_lock

pytestmark = pytest.mark.registry

VERSIONS = ("1.2.2", "1.2.3", "1.3.0", "2.0.0-rc.1")


@pytest.fixture
def platform_repo(registry: Any, repo_name: str) -> str:
    """A registry repository with v1.2.2, v1.2.3, v1.3.0 and v2.0.0-rc.1 (unsigned)."""
    for version in VERSIONS:
        publish(registry.ref(repo_name), make_tree(version))
    return str(registry.ref(repo_name))


def _init(project: Path, constraint: str, repo: str, *extra: str) -> Any:
    project.mkdir(exist_ok=True)
    return run_floe("init", f"--platform={constraint}", "--registry", repo, *extra, cwd=project)


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("v1.2.3", "v1.2.3"),
        ("1.2.3", "v1.2.3"),
        ("v1.2.*", "v1.2.3"),
        ("v1.*.*", "v1.3.0"),
        ("^1.2", "v1.3.0"),
        ("~1.2.2", "v1.2.3"),
        (">=1.2,<2", "v1.3.0"),
        ("latest", "v1.3.0"),
        ("v2.0.0-rc.1", "v2.0.0-rc.1"),
    ],
)
def test_init_picks_the_right_version(
    tmp_path: Path, platform_repo: str, constraint: str, expected: str
) -> None:
    result = _init(tmp_path / "p", constraint, platform_repo)
    assert result.exit_code == 0, result.output
    loaded = load_verified_platform(tmp_path / "p")
    assert loaded.version == expected
    assert loaded.tree.manifest.metadata.version == expected[1:]
    lock = read_lock(tmp_path / "p" / ".floe" / "cache" / "artifacts.lock")
    assert lock is not None and lock.platform.constraint == constraint


def test_init_output_matches_the_transcript(tmp_path: Path, platform_repo: str) -> None:
    result = _init(tmp_path / "p", "v1.2.3", platform_repo)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Pulling platform artifacts from {platform_repo}:v1.2.3"
    assert lines[1] == "  ! Unsigned artifact (require_signed_artifacts: false)"
    assert lines[2].startswith("  ✓ Downloading artifacts (") and lines[2].endswith(" KB)")
    assert lines[3] == (
        "  ! A newer version v1.3.0 exists outside v1.2.3: "
        "change platform.version in floe.yaml to use it"
    )
    assert lines[4:] == [
        "",
        "Platform: acme-data-platform v1.2.3",
        "Compute: duckdb",
        "Orchestrator: dagster",
        "Catalog: polaris",
        "Pattern: medallion (strict enforcement)",
        "",
        "Created: floe.yaml .floe/platform/v1.2.3/",
    ]
    floe_yaml = (tmp_path / "p" / "floe.yaml").read_text()
    assert f"  ref: {platform_repo}:v1.2.3\n" in floe_yaml
    assert '  version: "v1.2.3"\n' in floe_yaml


def test_no_match_lists_versions(tmp_path: Path, platform_repo: str) -> None:
    result = _init(tmp_path / "p", "v3.*.*", platform_repo)
    assert result.exit_code == 2
    assert "constraint_unsatisfied" in result.stderr
    assert "v1.3.0, v1.2.3, v1.2.2" in result.stderr
    assert files_under(tmp_path / "p") == []


def test_init_twice_is_byte_identical_and_needs_no_network(
    tmp_path: Path, registry_factory: Callable[..., Any]
) -> None:
    reg = registry_factory()
    publish(reg.ref("acme/platform"), make_tree("1.2.3"))
    project = tmp_path / "p"
    assert _init(project, "v1.2.*", reg.ref("acme/platform")).exit_code == 0
    lock_bytes = (project / ".floe/cache/artifacts.lock").read_bytes()
    yaml_bytes = (project / "floe.yaml").read_bytes()
    reg.stop()
    again = run_floe("init", "--platform=v1.2.*", "--offline", cwd=project)
    assert again.exit_code == 0, again.output
    assert "Up to date" in again.stdout
    assert (project / ".floe/cache/artifacts.lock").read_bytes() == lock_bytes
    assert (project / "floe.yaml").read_bytes() == yaml_bytes
    # Even without --offline the lock is enough: the registry is down and nothing fails.
    assert run_floe("init", "--platform=v1.2.*", cwd=project).exit_code == 0
    assert run_floe("platform", "pull", "--offline", cwd=project).exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"


def test_signed_platform_with_trusted_key(tmp_path: Path, registry: Any, repo_name: str) -> None:
    signer, pub = make_signer(tmp_path / "keys")
    publish(registry.ref(repo_name), make_tree("1.2.3"), signer=signer)
    project = tmp_path / "p"
    result = _init(project, "v1.2.3", registry.ref(repo_name), "--key", str(pub))
    assert result.exit_code == 0, result.output
    assert "  ✓ Verifying signature" in result.stdout.splitlines()
    loaded = load_verified_platform(project)
    assert loaded.signer is not None and loaded.signer == signer.fingerprint
    text = (project / "floe.yaml").read_text()
    assert "require_signed_artifacts: true" in text and "keys/cosign.pub" in text


@pytest.mark.parametrize("case", ["unsigned", "wrong_key", "platform_requires"])
def test_rejected_platform_writes_nothing(
    tmp_path: Path, registry: Any, repo_name: str, case: str
) -> None:
    import os

    signer, _ = make_signer(tmp_path / "publisher")
    make_signer(tmp_path / "team", name="other")
    security = {"require_signed_artifacts": True} if case == "platform_requires" else None
    publish(
        registry.ref(repo_name),
        make_tree("1.2.3", security=security),
        signer=signer if case == "wrong_key" else None,
    )
    project = tmp_path / "p"
    project.mkdir()
    ours = (
        "# ours\nsecurity:\n  require_signed_artifacts: true\n  trusted_keys: [../team/other.pub]\n"
    )
    (project / "floe.yaml").write_text("# ours\n" if case == "platform_requires" else ours)
    before = (project / "floe.yaml").read_bytes()
    result = _init(project, "v1.2.3", registry.ref(repo_name))
    assert result.exit_code == 1, result.output
    slug = "signature_untrusted" if case == "wrong_key" else "signature_missing"
    assert f"error[{slug}]" in result.stderr
    assert not (project / ".floe").exists()
    assert (project / "floe.yaml").read_bytes() == before
    assert files_under(Path(os.environ["XDG_CACHE_HOME"])) == []


def _pull(project: Path, *args: str) -> Any:
    return run_floe("platform", "pull", *args, cwd=project)


def test_moved_tag_is_lock_drift(tmp_path: Path, registry: Any, repo_name: str) -> None:
    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"))
    project = tmp_path / "p"
    assert _init(project, "v1.2.*", repo).exit_code == 0
    locked = load_verified_platform(project).manifest_digest
    moved = publish(repo, make_tree("1.2.3", min_coverage=10))  # same tag, other content
    assert moved != locked
    result = _pull(project)
    assert result.exit_code == 1, result.output
    assert "error[lock_drift]" in result.stderr and moved in result.stderr
    assert _pull(project, "--upgrade").exit_code == 1
    # Nothing was followed: the project still has the locked content.
    assert load_verified_platform(project).manifest_digest == locked
    assert load_verified_platform(project).tree.quality_gates.minimum_test_coverage == 80


def test_rollback_is_lock_downgrade(tmp_path: Path, platform_repo: str) -> None:
    project = tmp_path / "p"
    assert _init(project, "v1.2.*", platform_repo).exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"
    result = _init(project, "v1.2.2", platform_repo)
    assert result.exit_code == 1 and "error[lock_downgrade]" in result.stderr
    floe_yaml = project / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace('"v1.2.*"', '"<1.2.3"'))
    stale = _pull(project)
    assert stale.exit_code == 1 and "error[lock_stale]" in stale.stderr
    refused = _pull(project, "--upgrade")
    assert refused.exit_code == 1 and "error[lock_downgrade]" in refused.stderr
    accepted = _pull(project, "--upgrade", "--allow-downgrade")
    assert accepted.exit_code == 0, accepted.output
    assert load_verified_platform(project).version == "v1.2.2"


def test_pull_upgrade_moves_only_when_asked(tmp_path: Path, registry: Any, repo_name: str) -> None:
    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"))
    project = tmp_path / "p"
    assert _init(project, "^1.2", repo).exit_code == 0
    publish(repo, make_tree("1.4.0"))
    assert _pull(project).exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"
    result = _pull(project, "--upgrade", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"version": "v1.4.0"' in result.stdout
    assert load_verified_platform(project).version == "v1.4.0"
    assert 'version: "^1.2"' in (project / "floe.yaml").read_text()


def test_force_pull_restores_a_hand_edited_file(tmp_path: Path, platform_repo: str) -> None:
    from lifecycle_helpers import force_writable

    project = tmp_path / "p"
    assert _init(project, "v1.2.3", platform_repo).exit_code == 0
    target = project / ".floe/platform/v1.2.3/policies/quality-gates.json"
    original = target.read_bytes()
    force_writable(target)
    target.write_bytes(original.replace(b"80", b"0"))
    with pytest.raises(Exception) as info:
        load_verified_platform(project)
    assert getattr(info.value, "slug", None) == "cache_corrupt"
    result = _pull(project, "--force")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == original
    assert load_verified_platform(project).version == "v1.2.3"


def test_force_pull_repairs_a_corrupt_blob_in_both_caches(
    tmp_path: Path, platform_repo: str
) -> None:
    import os

    project = tmp_path / "p"
    assert _init(project, "v1.2.3", platform_repo).exit_code == 0
    digest = load_verified_platform(project).manifest_digest
    shared = tmp_path / "home"  # conftest's isolated HOME is elsewhere; find it via env
    shared = Path(os.environ["XDG_CACHE_HOME"]) / "floe" / "oci" / "blobs" / "sha256"
    local = project / ".floe/cache/oci/blobs/sha256"
    lock = read_lock(project / ".floe/cache/artifacts.lock")
    assert lock is not None
    layer = next(f for f in lock.platform.files if f.path.endswith("quality-gates.json"))
    for folder in (shared, local):
        blob = folder / layer.digest.split(":")[1]
        blob.write_bytes(b"x" * layer.size)  # same size, wrong bytes
    assert _pull(project, "--force").exit_code == 0
    for folder in (shared, local):
        data = (folder / layer.digest.split(":")[1]).read_bytes()
        assert data != b"x" * layer.size
    assert load_verified_platform(project).manifest_digest == digest


def test_second_project_reuses_the_user_wide_cache(
    tmp_path: Path, registry_factory: Callable[..., Any]
) -> None:
    signer, pub = make_signer(tmp_path / "keys")
    reg = registry_factory()
    publish(reg.ref("acme/platform"), make_tree("1.2.3"), signer=signer)
    first = _init(tmp_path / "one", "v1.2.3", reg.ref("acme/platform"), "--key", str(pub))
    assert first.exit_code == 0, first.output
    before = len(reg.request_log())
    assert any(r.startswith("GET") and "/blobs/" in r for r in reg.request_log())
    second = _init(tmp_path / "two", "v1.2.3", reg.ref("acme/platform"), "--key", str(pub))
    assert second.exit_code == 0, second.output
    requests = reg.request_log()[before:]
    assert requests, "the registry was consulted for tags and signatures"
    assert [r for r in requests if r.startswith("GET") and "/blobs/" in r] == []
    assert "Artifacts already cached" in second.stdout
    assert "✓ Verifying signature" in second.stdout
    assert load_verified_platform(tmp_path / "two").signer == signer.fingerprint


def test_embedded_layout_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = tmp_path / "demo" / ".registry"
    publish(f"oci-layout://{layout}", make_tree("1.2.3"))
    project = tmp_path / "demo" / "customer-360"
    project.mkdir(parents=True)
    monkeypatch.setenv("FLOE_REGISTRY", "oci-layout://../.registry")
    monkeypatch.chdir(project)
    result = run_floe("init", "--platform=v1.2.3", cwd=project)
    assert result.exit_code == 0, result.output
    assert "ref: oci-layout://../.registry:v1.2.3" in (project / "floe.yaml").read_text()
    monkeypatch.delenv("FLOE_REGISTRY")
    # From elsewhere, with --dir: the stored relative path is relative to the project.
    monkeypatch.chdir(tmp_path)
    assert run_floe("platform", "pull", "--force", "--dir", str(project)).exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"


def test_cache_list_and_clear(tmp_path: Path, platform_repo: str) -> None:
    import json

    project = tmp_path / "p"
    assert _init(project, "v1.2.2", platform_repo).exit_code == 0
    assert _init(project, "v1.2.3", platform_repo).exit_code == 0
    listing = run_floe("platform", "cache", "list", "--format", "json", cwd=project)
    data = json.loads(listing.stdout)
    rows = {r["version"]: r for r in data["versions"]}
    assert set(rows) == {"v1.2.2", "v1.2.3"}
    assert rows["v1.2.3"]["locked"] and rows["v1.2.3"]["status"] == "verified"
    assert rows["v1.2.3"]["manifest_digest"] == load_verified_platform(project).manifest_digest
    assert data["global_size"] > 0 and data["project_oci_size"] > 0
    text = run_floe("platform", "cache", "list", cwd=project)
    assert "v1.2.3 (locked)" in text.stdout

    refused = run_floe("platform", "cache", "clear", cwd=project)
    assert refused.exit_code == 2 and "confirmation_required" in refused.stderr
    assert (project / ".floe/platform/v1.2.2").exists()

    one = run_floe("platform", "cache", "clear", "--version", "v1.2.2", "--yes", cwd=project)
    assert one.exit_code == 0 and not (project / ".floe/platform/v1.2.2").exists()
    assert load_verified_platform(project).version == "v1.2.3"

    assert run_floe("platform", "cache", "clear", "--yes", cwd=project).exit_code == 0
    assert (project / ".floe/cache/artifacts.lock").exists()
    assert not (project / ".floe/platform").exists()
    with pytest.raises(Exception) as info:
        load_verified_platform(project)
    assert getattr(info.value, "slug", None) == "cache_corrupt"
    # The lock survived, so a plain pull restores exactly the locked content.
    assert _pull(project).exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"

    assert (
        run_floe("platform", "cache", "clear", "--all", "--global", "--yes", cwd=project).exit_code
        == 0
    )
    assert not (project / ".floe/cache").exists()
    again = run_floe("platform", "cache", "list", "--format", "json", cwd=project)
    assert json.loads(again.stdout)["global_size"] == 0
    missing = _pull(project)
    assert missing.exit_code == 0  # no lock: resolves floe.yaml again


def test_offline_init_and_compile_with_the_registry_stopped(
    tmp_path: Path, registry_factory: Callable[..., Any]
) -> None:
    import shutil

    from conftest import REPO_ROOT

    reg = registry_factory()
    publish(reg.ref("acme/platform"), make_tree("1.2.3"))
    project = tmp_path / "customer-360"
    shutil.copytree(
        REPO_ROOT / "demo" / "customer-360",
        project,
        ignore=shutil.ignore_patterns("floe.yaml", ".floe", "target", "*.duckdb", "profiles.yml"),
    )
    assert _init(project, "v1.2.*", reg.ref("acme/platform")).exit_code == 0
    reg.stop()
    offline = run_floe("init", "--platform=v1.2.*", "--offline", cwd=project)
    assert offline.exit_code == 0, offline.output
    compiled = run_floe("compile", cwd=project)
    # The platform loads from the lock with no registry; the verdict is the rules' business.
    assert "✓ Platform: acme-data-platform v1.2.3" in compiled.stdout, compiled.output
    assert compiled.exit_code in (0, 1), compiled.output
    assert "network" not in compiled.output
    # Offline re-resolution is refused loudly rather than guessed.
    upgrade = run_floe("platform", "pull", "--upgrade", "--offline", cwd=project)
    assert upgrade.exit_code == 2 and "network_forbidden" in upgrade.stderr


def test_damaged_project_blob_is_reported_and_force_repairs(
    tmp_path: Path, platform_repo: str
) -> None:
    project = tmp_path / "p"
    assert _init(project, "v1.2.3", platform_repo).exit_code == 0
    lock = read_lock(project / ".floe/cache/artifacts.lock")
    assert lock is not None
    layer = lock.platform.files[0]
    (project / ".floe/cache/oci/blobs/sha256" / layer.digest.split(":")[1]).write_bytes(
        b"y" * layer.size
    )
    from floe.release.cache import remove_tree

    remove_tree(project / ".floe/platform/v1.2.3")
    damaged = _pull(project)
    assert damaged.exit_code == 1 and "error[cache_corrupt]" in damaged.stderr
    assert "--force" in damaged.stderr
    assert _pull(project, "--force").exit_code == 0
    assert load_verified_platform(project).version == "v1.2.3"


def test_init_json_output_and_json_errors(tmp_path: Path, platform_repo: str) -> None:
    import json

    project = tmp_path / "p"
    project.mkdir()
    (project / "floe.yaml").write_text("name: shop  # ours\nmodels_dir: models\n")
    bad = run_floe(
        "init", "--platform=v1.2.3", "--registry", platform_repo, "--format", "json", cwd=project
    )
    event = json.loads(bad.stdout)
    assert bad.exit_code == 2 and event["event"] == "floe_yaml_invalid"
    assert "floe.yaml:2" in event["message"]
    (project / "floe.yaml").write_text("name: shop  # ours\n")
    good = run_floe(
        "init", "--platform=v1.2.*", "--registry", platform_repo, "--format", "json", cwd=project
    )
    assert good.exit_code == 0, good.output
    data = json.loads(good.stdout)
    assert data["event"] == "initialized" and data["version"] == "v1.2.3"
    assert data["signed"] is False and data["signer"] is None
    assert data["platform"]["plugins"]["compute"] == "duckdb"
    assert (project / "floe.yaml").read_text().startswith("name: shop  # ours\nplatform:\n")


def test_embedded_default_registry_when_nothing_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "floe-home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    publish(f"oci-layout://{tmp_path / 'floe-home' / 'registry'}", make_tree("1.2.3"))
    project = tmp_path / "p"
    project.mkdir()
    result = run_floe("init", "--platform=latest", cwd=project)
    assert result.exit_code == 0, result.output
    assert f"oci-layout://{tmp_path / 'floe-home' / 'registry'}:v1.2.3" in result.stdout


def test_killed_writer_leftovers_are_removed_by_the_next_writer(
    tmp_path: Path, platform_repo: str
) -> None:
    project = tmp_path / "p"
    assert _init(project, "v1.2.3", platform_repo).exit_code == 0
    leftovers = [
        project / ".floe/platform/.tmp-dead",
        project / ".floe/cache/.tmp-dead",
        project / ".floe/cache/oci/blobs/sha256/.tmp-dead",
        project / ".floe/cache/oci/.index.json.dead",
    ]
    leftovers[0].mkdir()
    leftovers[1].mkdir()
    for path in leftovers[2:]:
        path.write_bytes(b"half")
    assert _pull(project).exit_code == 0
    assert [p for p in leftovers if p.exists()] == []


def test_signed_but_no_trusted_key_is_said_plainly(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    signer, _ = make_signer(tmp_path / "keys")
    publish(registry.ref(repo_name), make_tree("1.2.3"), signer=signer)
    result = _init(tmp_path / "p", "v1.2.3", registry.ref(repo_name))
    assert result.exit_code == 0, result.output
    assert "  ! Signature not checked: no trusted key" in result.stdout
    assert load_verified_platform(tmp_path / "p").signer is None
