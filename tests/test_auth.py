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
    # tags() answers from the session's tag list now: ask the registry again directly
    assert target._list_tags(None) == []
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


# ---- Docker Hub: one registry under three names, stored as https://index.docker.io/v1/


HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@pytest.mark.parametrize("host", HUB_NAMES)
def test_docker_hub_names_find_the_index_key_in_auths(host: str) -> None:
    from floe.oci.auth import find_credentials

    token = base64.b64encode(b"hubuser:hub-secret").decode()
    _write_config({"auths": {"https://index.docker.io/v1/": {"auth": token}}})
    found = find_credentials(host, RegistryOptions())
    assert found is not None and (found.username, found.password) == ("hubuser", "hub-secret")
    assert find_credentials("ghcr.io", RegistryOptions()) is None  # no other host matches


@pytest.mark.parametrize("kind", ["credHelpers", "credsStore"])
@pytest.mark.parametrize("host", HUB_NAMES)
def test_docker_hub_names_ask_the_helper_for_the_index_url(
    host: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.oci.auth import find_credentials

    store = _install_helper(tmp_path, monkeypatch)
    # The helper only knows the key docker itself uses for Docker Hub.
    store.write_text(json.dumps({"https://index.docker.io/v1/": ["hubuser", "helper-secret"]}))
    if kind == "credHelpers":
        _write_config({"credHelpers": {"docker.io": "floetest"}})
    else:
        _write_config({"credsStore": "floetest"})
    found = find_credentials(host, RegistryOptions())
    assert found is not None and (found.username, found.password) == ("hubuser", "helper-secret")


def test_docker_hub_login_stores_under_the_index_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.oci.auth import Credentials, erase_credentials, store_credentials

    path = store_credentials("docker.io", Credentials("hubuser", "s3cret"), RegistryOptions())
    auths = json.loads(path.read_text())["auths"]
    assert list(auths) == ["https://index.docker.io/v1/"]
    store = _install_helper(tmp_path, monkeypatch)
    _write_config({"credsStore": "floetest"})
    store_credentials("registry-1.docker.io", Credentials("hubuser", "s3cret"), RegistryOptions())
    assert json.loads(store.read_text()) == {"https://index.docker.io/v1/": ["hubuser", "s3cret"]}
    assert erase_credentials("index.docker.io", RegistryOptions()) is True
    assert json.loads(store.read_text()) == {}


@pytest.mark.parametrize(
    ("text", "repository"),
    [
        ("oci://docker.io/alpine:3", "library/alpine"),
        ("oci://index.docker.io/alpine", "library/alpine"),
        ("oci://docker.io/acme/rules:v1", "acme/rules"),
        ("oci://ghcr.io/alpine:3", "alpine"),
    ],
)
def test_docker_hub_single_names_are_library_images(text: str, repository: str) -> None:
    from floe.oci.http import base_url
    from floe.oci.reference import parse_reference

    ref = parse_reference(text)
    assert ref.repository == repository
    if ref.host != "ghcr.io":
        assert base_url(ref.host, RegistryOptions()) == "https://registry-1.docker.io"


def test_docker_hub_realm_gets_the_hub_credentials() -> None:
    """auth.docker.io is Docker Hub's own token realm: docker.io credentials go there."""
    import requests

    from floe.oci.auth import Authenticator

    options = RegistryOptions(username="hubuser", password="hub-secret")
    auth = Authenticator("docker.io", options, requests.Session())
    creds = auth._realm_credentials("https://auth.docker.io/token")
    assert creds is not None and creds.username == "hubuser"
    other = Authenticator("ghcr.io", options, requests.Session())
    assert other._realm_credentials("https://auth.docker.io/token") is None


# ---- -u/-p/--password-stdin/--registry-config on every remote command


def test_remote_commands_take_credentials_flags(
    basic_auth_registry: Registry, tmp_path: Path
) -> None:
    reg = basic_auth_registry
    ref = reg.ref("t/flags", "v1.0.0")
    listed = run_floe("platform", "list", reg.ref("t/flags"))
    assert listed.exit_code == 2 and "registry_auth_failed" in listed.output
    with_flags = run_floe(
        "platform", "list", reg.ref("t/flags"), "-u", "floe", "-p", reg.password or ""
    )
    assert "registry_auth_failed" not in with_flags.output, with_flags.output
    assert "`ps`" in with_flags.stderr and "--password-stdin" in with_flags.stderr
    assert (reg.password or "") not in with_flags.output
    config = tmp_path / "other-config.json"
    token = base64.b64encode(f"floe:{reg.password}".encode()).decode()
    config.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
    from_config = run_floe("platform", "inspect", ref, "--registry-config", str(config))
    assert "registry_auth_failed" not in from_config.output, from_config.output
    assert "reference_not_found" in from_config.output  # authenticated, nothing published
    half = run_floe("platform", "inspect", ref, "-u", "floe")
    assert half.exit_code == 2 and "registry_credentials_incomplete" in half.output
    for command in (["platform", "pull"], ["platform", "publish"], ["platform", "copy"],
                    ["platform", "sign"], ["platform", "verify"], ["init"]):  # fmt: skip
        text = run_floe(*command, "--help").stdout
        for flag in ("--username", "--password-stdin", "--registry-config", "--ca-file"):
            assert flag in text, (command, flag)


def test_password_stdin_on_a_remote_command(basic_auth_registry: Registry) -> None:
    reg = basic_auth_registry
    floe = Path(sys.executable).with_name("floe")
    proc = subprocess.run(
        [str(floe), "platform", "list", reg.ref("t/stdin"), "-u", "floe",
         "--password-stdin", "--format", "json"],
        input=f"{reg.password}\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr
    assert json.loads(proc.stdout)["versions"] == []


@pytest.mark.parametrize(
    "flags",
    [
        ("--password-stdin", "--from-password-stdin"),
        ("--password-stdin", "--to-password-stdin"),
        ("--from-password-stdin", "--to-password-stdin"),
    ],
)
def test_copy_reads_one_password_from_stdin(flags: tuple[str, ...], tmp_path: Path) -> None:
    floe = Path(sys.executable).with_name("floe")
    proc = subprocess.run(
        [str(floe), "platform", "copy", "oci://127.0.0.1:1/a:v1", f"oci-layout://{tmp_path}/l:v1",
         *(["-u", "a"] if "--password-stdin" in flags else []),
         "--from-username", "a", "--to-username", "a", *flags],
        input="secret\n", capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "login_password_conflict" in proc.stderr and "stdin holds one password" in proc.stderr
    assert not (tmp_path / "l").exists()


def test_login_and_logout_with_registry_config(
    basic_auth_registry: Registry, tmp_path: Path
) -> None:
    reg = basic_auth_registry
    config = tmp_path / "ci" / "config.json"
    result = run_floe("login", reg.host, "-u", "floe", "-p", reg.password or "",
                      "--registry-config", str(config))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert str(config) in result.stdout
    assert not _docker_config().exists()  # the default file is untouched
    auth = json.loads(config.read_text())["auths"][reg.host]["auth"]
    assert base64.b64decode(auth).decode() == f"floe:{reg.password}"
    used = run_floe("platform", "list", reg.ref("t/cfg"), "--registry-config", str(config))
    assert used.exit_code == 0, used.output
    out = run_floe("logout", reg.host, "--registry-config", str(config))
    assert out.exit_code == 0 and "Removing login credentials" in out.stdout
    assert json.loads(config.read_text())["auths"] == {}
