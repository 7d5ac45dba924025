"""Shared test helpers. Registry fixtures live in tests/registry_fixtures.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest_plugins = ["registry_fixtures", "postgres_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class FloeResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_floe(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> FloeResult:
    """Run the floe CLI in-process exactly as the console script does (main() wrapper)."""
    from floe.cli import common
    from floe.cli.main import run

    common._STATE["format"] = "text"
    runner = CliRunner()
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with runner.isolation(env=env) as (out, err, _):
            code = run(list(args))
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    finally:
        os.chdir(old)
    return FloeResult(code, stdout, stderr)


@pytest.fixture
def floe_cli() -> object:
    return run_floe


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reads or writes the real user's docker config, caches or keys."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    for var in (
        "FLOE_REGISTRY_USERNAME",
        "FLOE_REGISTRY_PASSWORD",
        "FLOE_SIGNING_PASSWORD",
        "COSIGN_PASSWORD",
        "SOURCE_DATE_EPOCH",
    ):
        monkeypatch.delenv(var, raising=False)
    yield


REGISTRY_FIXTURES = frozenset(
    {
        "registry",
        "registry_factory",
        "basic_auth_registry",
        "tls_registry",
        "token_registry",
        "fault_proxy",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts a registry is marked `registry` (so `make test-fast` skips it)."""
    for item in items:
        if REGISTRY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)
