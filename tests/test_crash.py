"""Concurrency and crash safety: eight inits at once, and pulls killed at random points."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from lifecycle_helpers import FLOE_BIN, make_signer, make_tree, publish

from floe.errors import FloeError
from floe.project.lifecycle import load_verified_platform
from floe.release.lockfile import read_lock
from floe.tree.model import read_tree_files

pytestmark = [pytest.mark.registry, pytest.mark.slow]


def _spawn(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(FLOE_BIN), *args],
        cwd=cwd,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def signed_repo(tmp_path: Path, registry: Any, repo_name: str) -> tuple[str, Path]:
    signer, pub = make_signer(tmp_path / "keys")
    publish(registry.ref(repo_name), make_tree("1.2.3"), signer=signer)
    return registry.ref(repo_name), pub


def test_eight_concurrent_inits_end_valid(tmp_path: Path, signed_repo: tuple[str, Path]) -> None:
    repo, pub = signed_repo
    project = tmp_path / "project"
    project.mkdir()
    args = ("init", "--platform=v1.2.*", "--registry", repo, "--key", str(pub))
    procs = [_spawn(*args, cwd=project) for _ in range(8)]
    results = [(p.wait(timeout=300), p.stderr.read().decode() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert [code for code, _ in results] == [0] * 8, results
    loaded = load_verified_platform(project)
    assert loaded.version == "v1.2.3" and loaded.signer is not None
    assert sorted(p.name for p in (project / ".floe/platform").iterdir()) == ["v1.2.3"]
    assert [p.name for p in (project / ".floe/cache").iterdir() if p.name.startswith(".tmp-")] == []
    # One more init changes nothing: the lock and floe.yaml were written consistently.
    lock_bytes = (project / ".floe/cache/artifacts.lock").read_bytes()
    assert run_floe("init", "--platform=v1.2.*", "--key", str(pub), cwd=project).exit_code == 0
    assert (project / ".floe/cache/artifacts.lock").read_bytes() == lock_bytes


def _state_is_correct_or_reported(project: Path, expected: dict[str, bytes]) -> str:
    """load_verified_platform accepts exactly the right tree or reports a repairable state."""
    try:
        loaded = load_verified_platform(project)
    except FloeError as exc:
        assert exc.slug in ("cache_corrupt", "platform_not_initialized"), exc.one_line()
        return exc.slug
    assert read_tree_files(loaded.tree_dir) == expected
    assert loaded.content_digest == loaded.tree.manifest.metadata.digest
    return "ok"


def _kill_at_random(args: tuple[str, ...], cwd: Path, longest: float, rng: random.Random) -> None:
    proc = _spawn(*args, cwd=cwd)
    time.sleep(rng.uniform(0.05, longest))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _damage(project: Path, number: int) -> None:
    """Leave work for the pull: a removed tree, an edited file, or a wiped project blob cache."""
    from lifecycle_helpers import force_writable

    from floe.release.cache import remove_tree

    tree = project / ".floe/platform/v1.2.3"
    if number % 3 == 0:
        remove_tree(tree)
    elif number % 3 == 1:
        target = tree / "policies/quality-gates.json"
        force_writable(target)
        target.write_bytes(target.read_bytes().replace(b"80", b"81"))
    else:
        remove_tree(project / ".floe/cache/oci")
        remove_tree(tree)


def test_pull_killed_at_random_points_never_leaves_a_bad_accepted_state(
    tmp_path: Path, signed_repo: tuple[str, Path]
) -> None:
    repo, pub = signed_repo
    project = tmp_path / "project"
    project.mkdir()
    init = ("init", "--platform=v1.2.3", "--registry", repo, "--key", str(pub))
    assert run_floe(*init, cwd=project).exit_code == 0
    expected = read_tree_files(load_verified_platform(project).tree_dir)
    # How long one uninterrupted repair takes here (to spread the kill points over it).
    _damage(project, 2)
    started = time.monotonic()
    proc = _spawn("platform", "pull", "--force", cwd=project)
    assert proc.wait(timeout=120) == 0
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    longest = (time.monotonic() - started) * 1.1
    rng = random.Random(20261121)
    outcomes = []
    for number in range(21):
        _damage(project, number)
        args = ("platform", "pull") if number % 2 else ("platform", "pull", "--force")
        _kill_at_random(args, project, longest, rng)
        outcomes.append(_state_is_correct_or_reported(project, expected))
        repaired = run_floe("platform", "pull", "--force", cwd=project)
        assert repaired.exit_code == 0, repaired.output
        assert _state_is_correct_or_reported(project, expected) == "ok"
    assert set(outcomes) <= {"ok", "cache_corrupt"}


def test_init_killed_at_random_points_on_a_fresh_project(
    tmp_path: Path, signed_repo: tuple[str, Path]
) -> None:
    repo, pub = signed_repo
    args = ("init", "--platform=v1.2.3", "--registry", repo, "--key", str(pub))
    first = tmp_path / "first"
    first.mkdir()
    started = time.monotonic()
    assert run_floe(*args, cwd=first).exit_code == 0
    expected = read_tree_files(load_verified_platform(first).tree_dir)
    longest = max(1.0, (time.monotonic() - started) * 3)
    rng = random.Random(7)
    for number in range(6):
        project = tmp_path / f"p{number}"
        project.mkdir()
        _kill_at_random(args, project, longest, rng)
        _state_is_correct_or_reported(project, expected)
        again = run_floe(*args, cwd=project)
        assert again.exit_code == 0, again.output
        assert _state_is_correct_or_reported(project, expected) == "ok"
        lock = read_lock(project / ".floe/cache/artifacts.lock")
        assert lock is not None and lock.platform.version == "v1.2.3"
