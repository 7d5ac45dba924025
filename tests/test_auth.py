"""Registry auth and TLS against real docker-registry processes (no mocks)."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_floe
from registry_fixtures import Registry

from floe.errors import FloeError
from floe.oci.options import RegistryOptions
from floe.oci.remote import RemoteTarget, ping
from floe.oci.target import Descriptor

HELPER = """#!{python}
import json, pathlib, sys
store = pathlib.Path({store!r})
data = json.loads(store.read_text()) if store.exists() else {{}}
action = sys.argv[1]
if action == "get":
    host = sys.stdin.read().strip()
    if host not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": host, "Username": data[host][0], "Secret": data[host][1]}}))
elif action == "store":
    entry = json.loads(sys.stdin.read())
    data[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
    store.write_text(json.dumps(data))
elif action == "erase":
    data.pop(sys.stdin.read().strip(), None)
    store.write_text(json.dumps(data))
"""


def _docker_config() -> Path:
    return Path(os.environ["DOCKER_CONFIG"]) / "config.json"


def _write_config(data: dict[str, object]) -> None:
    path = _docker_config()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _round_trip(target: RemoteTarget, payload: bytes = b"auth payload") -> None:
    desc = Descriptor.for_bytes("application/octet-stream", payload)
    target.push(desc, io.BytesIO(payload))
    assert target.fetch_bytes(desc) == payload


def _install_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    script = bindir / "docker-credential-floetest"
    script.write_text(HELPER.format(python=sys.executable, store=str(store)))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return store


def _auth_error(call: Callable[[], object]) -> FloeError:
    with pytest.raises(FloeError) as excinfo:
        call()
    return excinfo.value


def test_basic_auth_with_options(basic_auth_registry: Registry, repo_name: str) -> None:
    reg = basic_auth_registry
    _round_trip(RemoteTarget(reg.host, repo_name, reg.options()))
    anonymous = RemoteTarget(reg.host, repo_name, reg.options(username=None, password=None))
    error = _auth_error(anonymous.tags)
    assert error.slug == "registry_auth_failed"
    assert error.exit_code == 2
    assert "floe login" in (error.hint or "")
    wrong = RemoteTarget(reg.host, repo_name, reg.options(password="wrong"))
    assert _auth_error(wrong.tags).slug == "registry_auth_failed"


def test_basic_auth_from_environment(
    basic_auth_registry: Registry, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = basic_auth_registry
    monkeypatch.setenv("FLOE_REGISTRY_USERNAME", reg.username or "")
    monkeypatch.setenv("FLOE_REGISTRY_PASSWORD", reg.password or "")
    _round_trip(RemoteTarget(reg.host, repo_name, RegistryOptions(retry_budget_seconds=2)))


def test_basic_auth_from_docker_config(basic_auth_registry: Registry, repo_name: str) -> None:
    reg = basic_auth_registry
    token = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    _write_config({"auths": {f"http://{reg.host}/v1/": {"auth": token}}})
    _round_trip(RemoteTarget(reg.host, repo_name))


def test_credential_helper(
    basic_auth_registry: Registry,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = basic_auth_registry
    store = _install_helper(tmp_path, monkeypatch)
    store.write_text(json.dumps({reg.host: [reg.username, reg.password]}))
    _write_config({"credHelpers": {reg.host: "floetest"}})
    _round_trip(RemoteTarget(reg.host, repo_name))
    store.write_text("{}")
    assert _auth_error(RemoteTarget(reg.host, repo_name).tags).slug == "registry_auth_failed"


def test_login_logout_round_trip(basic_auth_registry: Registry, repo_name: str) -> None:
    reg = basic_auth_registry
    _write_config({"auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "table"})
    result = run_floe("login", reg.host, "-u", reg.username or "", "-p", reg.password or "")
    assert result.exit_code == 0, result.output
    assert "Login Succeeded" in result.stdout
    path = _docker_config()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = json.loads(path.read_text())
    assert config["psFormat"] == "table"
    assert config["auths"]["other.example"] == {"auth": "eDp5"}
    stored = base64.b64decode(config["auths"][reg.host]["auth"]).decode()
    assert stored == f"{reg.username}:{reg.password}"
    _round_trip(RemoteTarget(reg.host, repo_name))

    result = run_floe("logout", reg.host)
    assert result.exit_code == 0, result.output
    config = json.loads(path.read_text())
    assert reg.host not in config["auths"]
    assert config["auths"]["other.example"] == {"auth": "eDp5"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _auth_error(RemoteTarget(reg.host, repo_name).tags).slug == "registry_auth_failed"
    assert "Not logged in" in run_floe("logout", reg.host).stdout


def test_login_with_wrong_password_fails(basic_auth_registry: Registry) -> None:
    reg = basic_auth_registry
    result = run_floe("login", reg.host, "-u", reg.username or "", "-p", "not-it")
    assert result.exit_code == 2
    assert "registry_auth_failed" in result.stderr
    assert not _docker_config().exists()
    as_json = run_floe("login", reg.host, "-u", "nobody", "-p", "x", "--format", "json")
    assert json.loads(as_json.stdout)["event"] == "registry_auth_failed"


def test_login_stores_through_creds_store(
    basic_auth_registry: Registry, repo_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = basic_auth_registry
    store = _install_helper(tmp_path, monkeypatch)
    _write_config({"credsStore": "floetest"})
    result = run_floe("login", reg.host, "-u", reg.username or "", "-p", reg.password or "")
    assert result.exit_code == 0, result.output
    assert json.loads(store.read_text()) == {reg.host: [reg.username, reg.password]}
    config = json.loads(_docker_config().read_text())
    assert config["auths"][reg.host] == {}
    assert config["credsStore"] == "floetest"
    _round_trip(RemoteTarget(reg.host, repo_name))
    assert run_floe("logout", reg.host).exit_code == 0
    assert json.loads(store.read_text()) == {}


def test_tls_with_ca_file_insecure_and_without(tls_registry: Registry, repo_name: str) -> None:
    reg = tls_registry
    assert reg.ca_file is not None
    _round_trip(RemoteTarget(reg.host, repo_name, reg.options()))
    untrusted = RemoteTarget(reg.host, repo_name, reg.options(ca_file=None))
    error = _auth_error(untrusted.tags)
    assert error.slug == "registry_tls"
    assert "--ca-file" in (error.hint or "")
    insecure = RemoteTarget(reg.host, repo_name, reg.options(ca_file=None, insecure=True))
    assert insecure.tags() == []
    plain = _auth_error(lambda: ping(reg.host, reg.options(plain_http=True)))
    assert plain.slug == "registry_tls"
    assert "speaks HTTPS" in plain.message
    result = run_floe("login", reg.host, "-u", "x", "-p", "y")
    assert result.exit_code == 2
    assert "registry_tls" in result.stderr
    # The CA file (or --insecure) implies HTTPS even on a loopback host.
    assert RemoteTarget(reg.host, repo_name, RegistryOptions(ca_file=reg.ca_file)).tags() == []
    with_ca = run_floe("login", reg.host, "-u", "x", "-p", "y", "--ca-file", str(reg.ca_file))
    assert with_ca.exit_code == 0, with_ca.output
    assert run_floe("login", f"oci://{reg.host}", "-u", "x", "-p", "y", "--insecure").exit_code == 0


def test_token_auth_scopes(token_registry: Registry, repo_name: str) -> None:
    reg = token_registry
    server = reg.token_server
    assert server is not None
    pusher = RemoteTarget(reg.host, repo_name, reg.options())
    payload = b"token payload"
    desc = Descriptor.for_bytes("application/octet-stream", payload)
    pusher.push(desc, io.BytesIO(payload))
    assert f"repository:{repo_name}:pull,push" in server.scopes

    server.scopes.clear()
    reader = RemoteTarget(reg.host, repo_name, reg.options())
    assert reader.fetch_bytes(desc) == payload
    assert reader.exists(desc)
    assert server.scopes == [f"repository:{repo_name}:pull"]  # fetched once, then cached

    server.scopes.clear()
    mirror = RemoteTarget(reg.host, repo_name + "/mirror", reg.options())
    assert mirror.mount(desc, repo_name)
    assert mirror.exists(desc)
    assert server.scopes[:2] == [
        f"repository:{repo_name}/mirror:pull,push",
        f"repository:{repo_name}:pull",
    ]

    anonymous = RemoteTarget(reg.host, repo_name, reg.options(username=None, password=None))
    assert _auth_error(anonymous.tags).slug == "registry_auth_failed"
    wrong = RemoteTarget(reg.host, repo_name, reg.options(password="nope"))
    assert _auth_error(wrong.tags).slug == "registry_auth_failed"
    result = run_floe("login", reg.host, "-u", reg.username or "", "-p", reg.password or "")
    assert result.exit_code == 0, result.output


def test_token_refresh_and_identity_token(token_registry: Registry, repo_name: str) -> None:
    reg = token_registry
    server = reg.token_server
    assert server is not None
    target = RemoteTarget(reg.host, repo_name, reg.options())
    assert target.tags() == []
    scope = (f"repository:{repo_name}:pull",)
    # A token the registry refuses (expired, revoked) is refreshed once.
    target.session.auth._tokens[scope] = "not-a-valid-token"
    assert target.tags() == []
    assert server.scopes.count(scope[0]) == 2

    _write_config({"auths": {reg.host: {"identitytoken": server.refresh_token}}})
    _round_trip(RemoteTarget(reg.host, repo_name, RegistryOptions(retry_budget_seconds=2)))
    _write_config({"auths": {reg.host: {"identitytoken": "revoked"}}})
    refused = RemoteTarget(reg.host, repo_name, RegistryOptions(retry_budget_seconds=2))
    assert _auth_error(refused.tags).slug == "registry_auth_failed"


def test_login_password_stdin(basic_auth_registry: Registry) -> None:
    reg = basic_auth_registry
    floe = Path(sys.executable).with_name("floe")
    proc = subprocess.run(
        [str(floe), "login", reg.host, "-u", reg.username or "", "--password-stdin"],
        input=f"{reg.password}\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr
    auths = json.loads(_docker_config().read_text())["auths"]
    assert base64.b64decode(auths[reg.host]["auth"]).decode() == f"floe:{reg.password}"
