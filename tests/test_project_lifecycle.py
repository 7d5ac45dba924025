"""Stage-then-commit, release integrity, accept-drift and the hostile filesystem (init/pull)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from lifecycle_helpers import make_signer, make_tree, publish, tree_hashes

from floe.errors import UsageError
from floe.files import recover_dir, replace_dir
from floe.project.lifecycle import load_verified_platform, read_project
from floe.release.cache import ProjectPaths


def _caches(project: Path) -> dict[str, str]:
    return tree_hashes(project / ".floe", Path(os.environ["XDG_CACHE_HOME"]))


@pytest.mark.registry
def test_retag_attack_is_refused_and_caches_unchanged(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    from floe.oci.copy import copy_graph
    from floe.oci.resolve import open_target

    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.0.0"))
    project = tmp_path / "p"
    project.mkdir()
    assert run_floe("init", "--platform=v1.0.0", "--registry", repo, cwd=project).exit_code == 0
    target, _ = open_target(repo)
    copy_graph(target, target, target.resolve("v1.0.0"), tag="v9.9.9")
    before = _caches(project)
    yaml_before = (project / "floe.yaml").read_bytes()
    result = run_floe("init", "--platform=v9.*", "--registry", repo, cwd=project)
    assert result.exit_code == 1, result.output
    assert "error[artifact_version_mismatch]" in result.stderr
    assert _caches(project) == before
    assert (project / "floe.yaml").read_bytes() == yaml_before
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    again = run_floe("init", "--platform=v9.*", "--registry", repo, cwd=fresh)
    assert again.exit_code == 1 and "artifact_version_mismatch" in again.stderr
    assert not (fresh / ".floe").exists()


@pytest.mark.registry
def test_accept_drift_keeps_the_locked_signer(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    signer, pub = make_signer(tmp_path / "k1")
    other, other_pub = make_signer(tmp_path / "k2", name="other")
    both = {"trusted_keys": [pub.read_text(), other_pub.read_text()]}
    publish(repo, make_tree("1.2.3", security=both), signer=signer)
    project = tmp_path / "p"
    project.mkdir()
    assert run_floe("init", "--platform=v1.2.*", "--registry", repo, cwd=project).exit_code == 0
    moved = publish(repo, make_tree("1.2.3", security=both, min_coverage=50), signer=signer)
    assert run_floe("platform", "pull", cwd=project).exit_code == 1
    accepted = run_floe("platform", "pull", "--accept-drift", "--format", "json", cwd=project)
    assert accepted.exit_code == 0, accepted.output
    assert load_verified_platform(project).manifest_digest == moved
    assert load_verified_platform(project).tree.quality_gates.minimum_test_coverage == 50
    _, lock = read_project(ProjectPaths(project))
    assert len(lock.platform.signers) == 1
    publish(repo, make_tree("1.2.3", security=both, min_coverage=20), signer=other)
    before = _caches(project)
    refused = run_floe("platform", "pull", "--accept-drift", cwd=project)
    assert refused.exit_code == 1 and "error[signature_untrusted]" in refused.stderr
    assert _caches(project) == before
    publish(repo, make_tree("1.3.0", security=both), signer=other)
    upgrade = run_floe("init", "--platform=v1.3.0", cwd=project)
    assert upgrade.exit_code == 1 and "error[signature_untrusted]" in upgrade.stderr


@pytest.mark.registry
def test_pull_says_a_newer_version_exists(tmp_path: Path, registry: Any, repo_name: str) -> None:
    import json

    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"))
    project = tmp_path / "p"
    project.mkdir()
    assert run_floe("init", "--platform=^1.2", "--registry", repo, cwd=project).exit_code == 0
    publish(repo, make_tree("1.4.0"))
    publish(repo, make_tree("2.0.0"))
    text = run_floe("platform", "pull", cwd=project)
    assert "A newer version v1.4.0 matches ^1.2" in text.stdout, text.output
    assert "v2.0.0 exists outside ^1.2" in text.stdout
    data = json.loads(run_floe("platform", "pull", "--format", "json", cwd=project).stdout)
    assert data["newer"] == {"matching": "v1.4.0", "outside_constraint": "v2.0.0"}
    offline = run_floe("platform", "pull", "--offline", "--format", "json", cwd=project)
    assert json.loads(offline.stdout)["newer"] is None


@pytest.mark.parametrize("link", [".floe", ".floe/platform", ".floe/cache"])
def test_symlinked_project_folders_are_refused(tmp_path: Path, link: str) -> None:
    project = tmp_path / "p"
    project.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    (project / link).parent.mkdir(parents=True, exist_ok=True)
    (project / link).symlink_to(outside)
    result = run_floe("init", "--platform=v1.2.3", "--registry", "oci-layout://x", cwd=project)
    assert result.exit_code == 2 and "error[path_symlinked]" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]


def test_symlinked_user_cache_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "floe"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.symlink_to(outside)
    project = tmp_path / "p"
    project.mkdir()
    result = run_floe("init", "--platform=v1.2.3", "--registry", "oci-layout://x", cwd=project)
    assert result.exit_code == 2 and "error[path_symlinked]" in result.stderr


def test_remove_tree_never_follows_links(tmp_path: Path) -> None:
    from floe.files import remove_tree

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "link").symlink_to(outside)
    (tree / "sub" / "f").write_text("x")
    os.chmod(tree / "sub", 0o555)
    remove_tree(tree)
    assert not tree.exists() and (outside / "keep").read_text() == "mine"


def test_half_swapped_out_dir_is_restored(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = tmp_path / ".out.old-dead"
    (old / "tree").mkdir(parents=True)
    (old / "tree" / "a").write_text("old")
    (tmp_path / ".out.tmp-dead").mkdir()
    recover_dir(out)
    assert (out / "a").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    staging = tmp_path / ".out.tmp-new"
    staging.mkdir()
    (staging / "b").write_text("new")
    replace_dir(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# ---- seeded mutation fuzzers: floe.yaml and artifacts.lock through read_project ------------

GOOD_YAML = (
    "name: shop\nplatform:\n  ref: oci://127.0.0.1:5000/floe-platform:v1.2.3\n"
    '  version: "v1.2.*"\nsecurity:\n  require_signed_artifacts: true\n'
    "  trusted_keys: [keys/cosign.pub]\n"
)
TOKENS = [
    "!!timestamp 2020-01-01",
    "&a [*a]",
    "{",
    "]",
    ": :",
    "\t",
    "\x00",
    "- ",
    "'",
    '"',
    "*x",
    "? ",
    "%YAML 1.2\n",
    "\ufeff",
    "9" * 400,
    "[" * 200,
    "null",
    "~",
    "---\n",
    "é",
]


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        at = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 1:
            chars[at:at] = list(rng.choice(TOKENS))
        elif op == 2 and chars:
            chars[min(at, len(chars) - 1)] = chr(rng.randrange(32, 127))
        else:
            lo = rng.randrange(len(chars) + 1)
            chars[lo:at] = chars[lo:at][::-1]
    return "".join(chars)


def _good_lock(tmp_path: Path) -> bytes:
    from lifecycle_helpers import install_state

    install_state(tmp_path / "seed", make_tree("1.2.3"))
    return (tmp_path / "seed" / ".floe/cache/artifacts.lock").read_bytes()


def _contract(project: Path) -> None:
    try:
        read_project(ProjectPaths(project))
    except UsageError:
        return  # exit 2 with a slug: the contract for a bad local file


def test_floe_yaml_and_lock_fuzz(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    lock = _good_lock(tmp_path).decode()
    project = tmp_path / "p"
    (project / ".floe/cache").mkdir(parents=True)
    lock_path = project / ".floe/cache/artifacts.lock"
    for _ in range(2000):
        (project / "floe.yaml").write_text(_mutate(rng, GOOD_YAML), encoding="utf-8")
        lock_path.write_text(lock, encoding="utf-8")
        _contract(project)
    (project / "floe.yaml").write_text(GOOD_YAML)
    for _ in range(2000):
        lock_path.write_bytes(_mutate(rng, lock).encode("utf-8", "surrogatepass"))
        _contract(project)


def test_fuzzed_files_through_the_cli_print_no_traceback(tmp_path: Path) -> None:
    rng = random.Random(7)
    lock = _good_lock(tmp_path).decode()
    project = tmp_path / "p"
    (project / ".floe/cache").mkdir(parents=True)
    for _ in range(15):
        (project / "floe.yaml").write_text(_mutate(rng, GOOD_YAML), encoding="utf-8")
        (project / ".floe/cache/artifacts.lock").write_text(_mutate(rng, lock), encoding="utf-8")
        result = run_floe("platform", "pull", "--offline", cwd=project)
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1, 2), result.output


def test_untitled_layer_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    import json

    from floe.artifact.pack import pack_tree
    from floe.oci.copy import StaticTarget, copy_graph
    from floe.oci.layout import LayoutTarget
    from floe.oci.target import Descriptor

    packed = pack_tree(make_tree("1.2.3"), "v1.2.3")
    blobs = dict(packed.blobs())
    extra = b"x" * 4096
    layer = Descriptor.for_bytes("application/octet-stream", extra)
    manifest = json.loads(packed.manifest)
    manifest["layers"].append(layer.to_json())
    data = json.dumps(manifest, sort_keys=True).encode()
    desc = Descriptor.for_bytes(packed.descriptor.media_type, data)
    blobs[layer.digest], blobs[desc.digest] = extra, data
    registry = LayoutTarget(tmp_path / "registry")
    copy_graph(StaticTarget(blobs), registry, desc, tag="v1.2.3")
    project = tmp_path / "p"
    project.mkdir()
    before = _caches(project)
    result = run_floe(
        "init", "--platform=v1.2.3", "--registry", f"oci-layout://{registry.path}", cwd=project
    )
    assert result.exit_code == 1 and "error[artifact_layer_untitled]" in result.stderr
    assert _caches(project) == before == {}
    assert not (project / ".floe").exists()
