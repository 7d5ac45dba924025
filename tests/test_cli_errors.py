"""Foreseeable bad input on every command ends in one `error[slug]` line, never a traceback.

Each case builds its bad input in a fresh world (a published layout, a compiled tree,
a signing key, an initialised project), runs floe in-process (an uncaught exception
fails the test) and checks the slug, the exit code and the one-line shape; `json`
cases check `{"event": slug}` on stdout instead. Tests run as root here, where
chmod 000 does not stop a read: a folder where a file belongs stands in for an
unreadable file (the same OSError path).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from compile_helpers import acme_files, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import force_writable, install_state, make_tree, publish, write_tree

PASSWORD = "pw"
GARBAGE = bytes(range(256)) * 2  # not UTF-8, not YAML, not PEM, not TOML


@dataclass
class World:
    root: Path
    project: Path
    registry: str  # an OCI layout repository with v1.2.3 published and signed

    @property
    def ref(self) -> str:
        return f"{self.registry}:v1.2.3"

    def path(self, name: str) -> str:
        return str(self.root / name)


@pytest.fixture(autouse=True)
def _short_retry_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection is retried for 20 s by default; one second proves the same."""
    from floe.oci import http

    real = http.RetryBudget
    monkeypatch.setattr(http, "RetryBudget", lambda seconds: real(min(seconds, 1.0)))


@functools.cache
def _key() -> tuple[Any, bytes, bytes]:
    """One signer for every world (its scrypt-encrypted key file costs half a second)."""
    from floe.signing import keys

    signer = keys.Signer(keys.generate_private_key())
    encrypted = keys.encrypted_private_key_pem(signer.private_key, PASSWORD.encode())
    return signer, encrypted, keys.public_key_pem(signer.public_key)


@pytest.fixture
def world(tmp_path: Path) -> World:
    (tmp_path / "garbage.bin").write_bytes(GARBAGE)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    files = make_tree("1.2.3")
    write_tree(tmp_path / "art", files)
    signer, encrypted, public = _key()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.key").write_bytes(encrypted)
    (tmp_path / "keys" / "cosign.pub").write_bytes(public)
    registry = f"oci-layout://{tmp_path / 'reg' / 'floe-platform'}"
    publish(registry, files, signer=signer)
    project = write_tiny_project(tmp_path / "project")
    install_state(project, acme_files())
    return World(tmp_path, project, registry)


Setup = Callable[[World], None]


def _nothing(world: World) -> None:
    del world


def _replace(rel: str, data: bytes | None) -> Setup:
    """Replace a project file with `data`, or with a folder when `data` is None."""

    def setup(world: World) -> None:
        path = world.project / rel
        if path.exists():
            force_writable(path)
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            path.mkdir()
        else:
            path.write_bytes(data)

    return setup


LOCK = ".floe/cache/artifacts.lock"
SCHEMA = "models/bronze/_bronze.yml"


def _bad_lock_digest(world: World) -> None:
    lock = world.project / LOCK
    text = re.sub(r'manifest_digest = "[^"]+"', 'manifest_digest = "sha256:zz"', lock.read_text())
    lock.write_text(text)


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # `{name}` is a file under the world root; {ref}, {registry}
    slug: str
    exit_code: int = 2
    setup: Setup = _nothing
    in_project: bool = False
    env: tuple[tuple[str, str], ...] = (("FLOE_SIGNING_PASSWORD", PASSWORD),)


def _broken(
    id: str,
    rel: str,
    data: bytes | None,
    slug: str,
    args: tuple[str, ...] = ("compile",),
    exit_code: int = 2,
) -> Case:
    """A case run in the project after replacing `rel` with `data` (None: a folder)."""
    return Case(id, args, slug, exit_code, setup=_replace(rel, data), in_project=True)


CASES = [
    # platform compile / test / schema
    Case("compile-missing-manifest", ("platform", "compile", "{missing.yaml}"), "manifest_missing"),
    Case("compile-empty-manifest", ("platform", "compile", "{empty.txt}"), "manifest_invalid"),
    Case("compile-binary-manifest", ("platform", "compile", "{garbage.bin}"), "manifest_invalid"),
    Case(
        "compile-binary-manifest-json",
        ("platform", "compile", "{garbage.bin}", "--format", "json"),
        "manifest_invalid",
    ),
    Case("compile-no-manifest-here", ("platform", "compile"), "manifest_missing"),
    Case("test-no-tree", ("platform", "test", "--artifacts", "{adir}"), "tree_invalid", 1),
    Case(
        "schema-out-under-a-file",
        ("schema", "export", "--out", "{garbage.bin}/x"),
        "file_write_failed",
    ),
    # keys
    Case(
        "keygen-prefix-under-a-file",
        ("platform", "keygen", "--output-key-prefix", "{garbage.bin}/cosign"),
        "file_write_failed",
    ),
    Case("import-binary-key", ("platform", "import-key", "{garbage.bin}"), "signing_key_invalid"),
    Case(
        "import-empty-key-json",
        ("platform", "import-key", "{empty.txt}", "--format", "json"),
        "signing_key_invalid",
    ),
    Case(
        "sign-with-public-key",
        ("platform", "sign", "{ref}", "--key", "{keys/cosign.pub}"),
        "signing_key_invalid",
    ),
    Case(
        "sign-with-binary-key",
        ("platform", "sign", "{ref}", "--key", "{garbage.bin}"),
        "signing_key_invalid",
    ),
    Case(
        "sign-wrong-password",
        ("platform", "sign", "{ref}", "--key", "{keys/cosign.key}"),
        "signing_key_password",
        env=(("FLOE_SIGNING_PASSWORD", "not the password"),),
    ),
    Case(
        "verify-binary-public-key",
        ("platform", "verify", "{ref}", "--key", "{garbage.bin}"),
        "trusted_key_unreadable",
    ),
    Case(
        "verify-binary-public-key-json",
        ("platform", "verify", "{ref}", "--key", "{garbage.bin}", "--format", "json"),
        "trusted_key_unreadable",
    ),
    Case(
        "verify-empty-public-key",
        ("platform", "verify", "{ref}", "--key", "{empty.txt}"),
        "signing_key_invalid",
    ),
    Case(
        "verify-key-is-a-folder-json",
        ("platform", "verify", "{ref}", "--key", "{adir}", "--format", "json"),
        "usage_invalid",
    ),
    Case(
        "verify-bad-identity",
        ("platform", "verify", "{ref}", "--identity", "x"),
        "identity_invalid",
    ),
    # references and registries
    Case("inspect-empty-oci", ("platform", "inspect", "oci://"), "reference_invalid"),
    Case("inspect-empty-layout", ("platform", "inspect", "oci-layout://"), "reference_invalid"),
    Case(
        "inspect-uppercase-repo",
        ("platform", "inspect", "oci://host/UPPER:v1"),
        "reference_invalid",
    ),
    Case(
        "inspect-connection-refused",
        ("platform", "inspect", "oci://127.0.0.1:1/x:v1"),
        "registry_unreachable",
    ),
    Case(
        "pull-connection-refused-json",
        ("platform", "pull", "oci://127.0.0.1:1/x:v1", "--out", "{o}", "--format", "json"),
        "registry_unreachable",
    ),
    Case("login-no-terminal-for-user", ("login", "127.0.0.1:1", "-p", "x"), "login_input_missing"),
    Case(
        "publish-bad-semver",
        ("platform", "publish", "notsemver", "--registry", "{registry}", "--artifacts", "{art}"),
        "version_invalid",
    ),
    Case(
        "publish-into-a-file",
        (
            "platform",
            "publish",
            "v1.2.3",
            "--registry",
            "oci-layout://{garbage.bin}",
            "--artifacts",
            "{art}",
        ),
        "layout_invalid",
    ),
    Case(
        "publish-with-binary-key",
        (
            "platform",
            "publish",
            "v1.2.3",
            "--registry",
            "oci-layout://{r2}",
            "--artifacts",
            "{art}",
            "--key",
            "{garbage.bin}",
        ),
        "signing_key_invalid",
    ),
    Case(
        "copy-into-a-file",
        ("platform", "copy", "{ref}", "oci-layout://{garbage.bin}:v1"),
        "layout_invalid",
    ),
    # data team: outside a project
    Case("compile-outside-project", ("compile",), "platform_not_initialized"),
    Case(
        "compile-outside-project-json", ("compile", "--format", "json"), "platform_not_initialized"
    ),
    Case(
        "run-outside-project-with-dbt-args",
        ("run", "--", "--select", "x"),
        "platform_not_initialized",
    ),
    Case(
        "init-bad-constraint",
        ("init", "--platform=notsemver", "--registry", "{registry}"),
        "constraint_invalid",
    ),
    Case(
        "init-registry-with-tag",
        ("init", "--platform=v1.2.3", "--registry", "{ref}"),
        "reference_invalid",
    ),
    # data team: a broken project (`floe compile` in it, unless other arguments are given)
    _broken("lock-binary", LOCK, GARBAGE, "lock_invalid"),
    _broken("lock-empty", LOCK, b"", "lock_invalid"),
    _broken("lock-a-folder", LOCK, None, "lock_invalid"),
    Case("lock-bad-digest", ("compile",), "lock_invalid", setup=_bad_lock_digest, in_project=True),
    _broken("lock-binary-json", LOCK, GARBAGE, "lock_invalid", ("compile", "--format", "json")),
    _broken("floe-yaml-wrong-types", "floe.yaml", b"platform:\n  ref: 3\n", "floe_yaml_invalid"),
    _broken("floe-yaml-binary", "floe.yaml", GARBAGE, "floe_yaml_invalid"),
    _broken("floe-yaml-a-folder", "floe.yaml", None, "floe_yaml_invalid"),
    _broken(
        "init-floe-yaml-a-folder",
        "floe.yaml",
        None,
        "floe_yaml_invalid",
        ("init", "--platform=v1.2.3", "--registry", "{registry}"),
    ),
    _broken("schema-yml-broken-yaml", SCHEMA, b"models:\n  - name: [\n", "project_invalid"),
    _broken("schema-yml-binary", SCHEMA, GARBAGE, "project_invalid"),
    _broken(
        "schema-yml-columns-of-numbers",
        SCHEMA,
        b"version: 2\nmodels:\n  - name: bronze_numbers\n    columns: {a: 1}\n",
        "project_invalid",
    ),
    _broken("dbt-manifest-wrong-shape", "target/manifest.json", b'{"nodes": 5}', "project_invalid"),
    _broken(
        "run-with-dbt-args-broken-schema",
        SCHEMA,
        b"models: 5\n",
        "project_invalid",
        ("run", "--", "--select", "bronze_numbers"),
    ),
    _broken(
        "cached-tree-edited",
        ".floe/platform/v1.2.3/manifest.json",
        b"{}",
        "cache_corrupt",
        exit_code=1,
    ),
]


def _expand(arg: str, world: World) -> str:
    """`{name}` -> a path under the world root; {ref} / {registry} -> the layout."""
    special = {"{ref}": world.ref, "{registry}": world.registry}
    if arg in special:
        return special[arg]
    return re.sub(r"\{([^}]+)\}", lambda match: world.path(match.group(1)), arg)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_error_line(case: Case, world: World) -> None:
    case.setup(world)
    args = [_expand(arg, world) for arg in case.args]
    cwd = world.project if case.in_project else world.root / "adir"
    result = run_floe(*args, cwd=cwd, env=dict(case.env))
    assert "Traceback" not in result.output
    assert result.exit_code == case.exit_code, result.output
    if "json" in args:
        event = json.loads(result.stdout)
        assert (event["event"], event["exit_code"]) == (case.slug, case.exit_code)
        return
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error[{case.slug}]: "), result.output


def test_an_unexpected_os_error_is_still_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The last line of defence in main.run: an OSError no module named becomes io_error."""

    def boom(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", "/srv/platform/manifest.yaml")

    monkeypatch.setattr(click.Group, "main", boom)
    result = run_floe("version")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error[io_error]: /srv/platform/manifest.yaml: Permission denied (hint: check that "
        "the path exists, is the right kind (file or folder) and is accessible)"
    )
