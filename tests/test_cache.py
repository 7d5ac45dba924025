"""The project cache: load_verified_platform re-verifies every file against the lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from lifecycle_helpers import force_writable, install_state, make_tree

from floe.errors import FloeError, GateError, UsageError
from floe.project.lifecycle import load_verified_platform
from floe.release.cache import ProjectPaths, clean_leftovers, new_temp_dir, remove_tree


def test_load_returns_the_verified_tree(tmp_path: Path) -> None:
    tree_dir = install_state(tmp_path, make_tree("1.2.3"))
    loaded = load_verified_platform(tmp_path)
    assert loaded.version == "v1.2.3"
    assert loaded.tree_dir == tree_dir
    assert loaded.tree.manifest.metadata.name == "acme-data-platform"
    assert loaded.tree.naming_rules.pattern == "medallion"
    assert loaded.content_digest == loaded.tree.manifest.metadata.digest
    assert loaded.signer is None


def test_tree_is_read_only(tmp_path: Path) -> None:
    tree_dir = install_state(tmp_path, make_tree())
    for path in [tree_dir, *tree_dir.rglob("*")]:
        assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _expect(tmp_path: Path, slug: str) -> FloeError:
    with pytest.raises(FloeError) as info:
        load_verified_platform(tmp_path)
    assert info.value.slug == slug, info.value.one_line()
    return info.value


def test_no_project_or_no_lock_is_not_initialized(tmp_path: Path) -> None:
    error = _expect(tmp_path, "platform_not_initialized")
    assert isinstance(error, UsageError) and "floe init --platform" in (error.hint or "")
    install_state(tmp_path, make_tree())
    ProjectPaths(tmp_path).lock_file.unlink()
    _expect(tmp_path, "platform_not_initialized")


@pytest.mark.parametrize("change", ["edit", "extra", "missing", "folder", "symlink"])
def test_any_change_under_the_tree_is_cache_corrupt(tmp_path: Path, change: str) -> None:
    tree_dir = install_state(tmp_path, make_tree())
    target = tree_dir / "policies" / "quality-gates.json"
    force_writable(target)
    if change == "edit":
        target.write_bytes(target.read_bytes().replace(b"80", b"10"))
    elif change == "extra":
        (tree_dir / "policies" / "extra.json").write_text("{}")
    elif change == "missing":
        target.unlink()
    elif change == "folder":
        remove_tree(tree_dir)
    else:
        target.unlink()
        target.symlink_to(tree_dir / "manifest.json")
    error = _expect(tmp_path, "cache_corrupt")
    assert isinstance(error, GateError)
    expected_fix = "floe platform pull" if change == "folder" else "floe platform pull --force"
    assert error.hint is not None and expected_fix in error.hint


def test_constraint_no_longer_matching_the_lock_is_stale(tmp_path: Path) -> None:
    install_state(tmp_path, make_tree("1.2.3"), constraint="v1.2.*")
    floe_yaml = tmp_path / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace('"v1.2.*"', '"v1.3.*"'))
    error = _expect(tmp_path, "lock_stale")
    assert "floe platform pull --upgrade" in (error.hint or "")
    # A different constraint that still accepts the locked version is fine.
    floe_yaml.write_text(floe_yaml.read_text().replace('"v1.3.*"', '">=1.2,<2"'))
    assert load_verified_platform(tmp_path).version == "v1.2.3"


def test_other_repository_than_locked_is_stale(tmp_path: Path) -> None:
    install_state(tmp_path, make_tree("1.2.3"))
    floe_yaml = tmp_path / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace("floe-platform", "other-platform"))
    _expect(tmp_path, "lock_stale")


def test_gitignore_keeps_only_the_lock(tmp_path: Path) -> None:
    from floe.release.cache import GITIGNORE, ensure_gitignore

    paths = ProjectPaths(tmp_path)
    paths.floe_dir.mkdir()
    ensure_gitignore(paths)
    assert (paths.floe_dir / ".gitignore").read_text() == GITIGNORE
    assert "!cache/artifacts.lock" in GITIGNORE.splitlines()


def test_leftover_temp_folders_are_cleaned(tmp_path: Path) -> None:
    install_state(tmp_path, make_tree())
    paths = ProjectPaths(tmp_path)
    leftover = new_temp_dir(paths.platform_dir)
    (leftover / "half.json").write_text("{")
    os.chmod(leftover, 0o555)
    clean_leftovers(paths)
    assert not leftover.exists()
    assert load_verified_platform(tmp_path).version == "v1.2.3"
