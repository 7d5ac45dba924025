"""registries.toml (per-registry TLS and mirrors), flag precedence, `init --ca-file`
remembered, `--insecure` warned once, `copy --from-*/--to-*`, and the `--debug` trace,
against real docker-registry processes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_floe
from lifecycle_helpers import make_tree, publish
from registry_fixtures import Registry, make_tls_material

from floe.errors import FloeError
from floe.oci.settings import (
    MAX_MIRRORS,
    MAX_SETTINGS_BYTES,
    load_settings,
    parse_settings,
    settings_path,
)

REPO = "acme/platform"


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conf" / "registries.toml"
    path.parent.mkdir()
    monkeypatch.setenv("FLOE_REGISTRIES_CONFIG", str(path))
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "floe-home"))
    return path


# ---- the model


def test_the_file_parses_into_a_typed_model(tmp_path: Path) -> None:
    path = tmp_path / "registries.toml"
    text = (
        '[registry."Registry.Internal:5000"]\n'
        'ca_file = "certs/ca.pem"\n'
        "insecure = false\n"
        'mirrors = ["m1.internal:5000", "m2.internal", "m1.internal:5000"]\n'
        '[registry."index.docker.io"]\n'
        'mirrors = ["hub-mirror.internal"]\n'
    )
    settings = parse_settings(text.encode(), path)
    entry = settings.for_host("registry.internal:5000")
    assert entry is not None
    assert entry.ca_file == tmp_path / "certs" / "ca.pem"  # relative to the file
    assert entry.insecure is False and entry.plain_http is None
    assert entry.mirrors == ("m1.internal:5000", "m2.internal")  # duplicates dropped, in order
    for hub in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        hub_entry = settings.for_host(hub)
        assert hub_entry is not None and hub_entry.mirrors == ("hub-mirror.internal",)
    assert settings.for_host("ghcr.io") is None


def test_the_default_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLOE_REGISTRIES_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert settings_path() == tmp_path / "xdg" / "floe" / "registries.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert settings_path() == Path.home() / ".config" / "floe" / "registries.toml"
    monkeypatch.setenv("FLOE_REGISTRIES_CONFIG", str(tmp_path / "x.toml"))
    assert settings_path() == tmp_path / "x.toml"


def test_parsed_once_per_content(settings_file: Path) -> None:
    settings_file.write_text('[registry."a.example"]\nplain_http = true\n')
    first = load_settings()
    assert load_settings() is first
    settings_file.write_text('[registry."b.example"]\nplain_http = true\n')
    assert load_settings().for_host("b.example") is not None
    assert load_settings(settings_file.parent / "absent.toml").hosts == {}


MIRRORS = ", ".join(f'"m{i}.example"' for i in range(MAX_MIRRORS + 1))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[registry", "not valid TOML"),
        ("registries = {}\n", "unknown top-level key 'registries'"),
        ('registry = "x"\n', "must be tables"),
        ('[registry."a.example"]\ncafile = "x"\n', "unknown key 'cafile'"),
        ('[registry."a.example"]\ninsecure = "yes"\n', "insecure must be true or false"),
        ('[registry."a.example"]\nplain_http = 1\n', "plain_http must be true or false"),
        ('[registry."a.example"]\nca_file = 3\n', "ca_file must be a file path"),
        ('[registry."a.example"]\nmirrors = "m.example"\n', "mirrors must be a list"),
        (f'[registry."a.example"]\nmirrors = [{MIRRORS}]\n', f"more than {MAX_MIRRORS} mirrors"),
        ('[registry."a.example"]\nmirrors = ["not a host"]\n', "is not a HOST[:PORT]"),
        ('[registry."a.example"]\nmirrors = ["A.example"]\n', "names the registry itself"),
        ('[registry."https://a.example/v2"]\n', "is not a HOST[:PORT]"),
        ('[registry."docker.io"]\n[registry."index.docker.io"]\n', "given twice"),
    ],
)
def test_bad_settings_are_a_usage_error_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(FloeError) as excinfo:
        parse_settings(text.encode(), Path("/etc/registries.toml"))
    assert excinfo.value.slug == "registry_settings_invalid"
    assert excinfo.value.exit_code == 2
    assert why in excinfo.value.message


def test_size_and_encoding_limits() -> None:
    with pytest.raises(FloeError, match="larger than"):
        parse_settings(b"#" * (MAX_SETTINGS_BYTES + 1), Path("r.toml"))
    with pytest.raises(FloeError, match="not UTF-8"):
        parse_settings(b'[registry."a.example"]\n# \xff\n', Path("r.toml"))
    many = "".join(f'[registry."h{i}.example"]\n' for i in range(300))
    with pytest.raises(FloeError, match="more than 256 registries"):
        parse_settings(many.encode(), Path("r.toml"))


def test_a_bad_file_fails_every_remote_command_in_one_line(
    settings_file: Path, registry: Registry
) -> None:
    settings_file.write_text('[registry."x"]\nmirrors = [1]\n')
    for args in (
        ["platform", "list", registry.ref(REPO)],
        ["platform", "inspect", "oci://h.example/r:v1"],
    ):
        result = run_floe(*args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error[registry_settings_invalid]")
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


# ---- TLS from the file, flags win


def test_the_file_gives_a_registry_its_ca_and_flags_win(
    settings_file: Path, tls_registry: Registry, tmp_path: Path
) -> None:
    reg = tls_registry
    without = run_floe("platform", "list", reg.ref(REPO))
    assert without.exit_code == 2 and "registry_tls" in without.output
    settings_file.write_text(f'[registry."{reg.host}"]\nca_file = "{reg.ca_file}"\n')
    listed = run_floe("platform", "list", reg.ref(REPO))
    assert listed.exit_code == 0, listed.output
    other_ca, _, _ = make_tls_material(tmp_path / "other-ca")
    settings_file.write_text(f'[registry."{reg.host}"]\nca_file = "{other_ca}"\n')
    wrong = run_floe("platform", "list", reg.ref(REPO))
    assert wrong.exit_code == 2 and "registry_tls" in wrong.output
    flag = run_floe("platform", "list", reg.ref(REPO), "--ca-file", str(reg.ca_file))
    assert flag.exit_code == 0, flag.output  # the flag wins over the file
    settings_file.write_text(f'[registry."{reg.host}"]\nca_file = "{tmp_path / "gone.pem"}"\n')
    missing = run_floe("platform", "list", reg.ref(REPO))
    assert missing.exit_code == 2 and "registry_settings_invalid" in missing.output


def test_insecure_from_the_file_or_the_flag_warns_once_per_command(
    settings_file: Path, tls_registry: Registry
) -> None:
    reg = tls_registry
    publish(reg.ref(REPO), make_tree("1.2.3"), options=reg.options())
    publish(reg.ref(REPO), make_tree("1.3.0"), options=reg.options())
    flagged = run_floe("platform", "list", reg.ref(REPO), "--insecure")
    assert flagged.exit_code == 0, flagged.output
    assert flagged.stderr.count("TLS certificate verification is off") == 1
    assert reg.host in flagged.stderr
    settings_file.write_text(f'[registry."{reg.host}"]\ninsecure = true\n')
    from_file = run_floe("platform", "inspect", reg.ref(REPO, "v1.3.0"))
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stderr.count("warning: TLS certificate verification is off") == 1
    trusted = run_floe("platform", "list", reg.ref(REPO), "--ca-file", str(reg.ca_file))
    assert trusted.exit_code == 0 and "verification is off" not in trusted.stderr


def test_init_remembers_its_ca_file_for_the_next_pull(
    settings_file: Path, tls_registry: Registry, tmp_path: Path
) -> None:
    reg = tls_registry
    publish(reg.ref(REPO), make_tree("1.2.3"), options=reg.options())
    project = tmp_path / "proj"
    project.mkdir()
    ca = str(reg.ca_file)
    init = run_floe("init", "--platform=v1.2.3", "--registry", reg.ref(REPO), "--ca-file", ca,
                    cwd=project)  # fmt: skip
    assert init.exit_code == 0, init.output
    assert f"Remembered --ca-file for {reg.host} in {settings_file}" in init.stderr
    entry = load_settings().for_host(reg.host)
    assert entry is not None and entry.ca_file == Path(ca).resolve()
    assert [p.name for p in settings_file.parent.iterdir()] == ["registries.toml"]  # no temp
    pulled = run_floe("platform", "pull", "--force", cwd=project)
    assert pulled.exit_code == 0, pulled.output
    settings_file.unlink()
    again = run_floe("platform", "pull", "--force", cwd=project)
    assert again.exit_code == 2 and "registry_tls" in again.output  # it was the file


def test_init_keeps_the_other_entries(
    settings_file: Path, tls_registry: Registry, tmp_path: Path
) -> None:
    reg = tls_registry
    settings_file.write_text(
        '[registry."other.example"]\nmirrors = ["m.example"]\nplain_http = true\n'
    )
    publish(reg.ref(REPO), make_tree("1.2.3"), options=reg.options())
    (tmp_path / "p").mkdir()
    result = run_floe("init", "--platform=v1.2.3", "--registry", reg.ref(REPO), "--ca-file",
                      str(reg.ca_file), cwd=tmp_path / "p")  # fmt: skip
    assert result.exit_code == 0, result.output
    other = load_settings().for_host("other.example")
    assert other is not None and other.mirrors == ("m.example",) and other.plain_http is True


# ---- copy: one end's flags


def test_copy_takes_tls_flags_per_end(
    settings_file: Path, registry_factory: Callable[..., Registry], registry: Registry
) -> None:
    src = registry_factory(tls=True)
    dst = registry_factory(tls=True)  # another CA
    digest = publish(src.ref(REPO), make_tree("1.2.3"), options=src.options())
    shared = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"), dst.ref(REPO, "v1.2.3"),
                      "--ca-file", str(src.ca_file))  # fmt: skip
    assert shared.exit_code == 2 and "registry_tls" in shared.output  # dst has another CA
    ends = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"), dst.ref(REPO, "v1.2.3"),
                    "--from-ca-file", str(src.ca_file), "--to-ca-file", str(dst.ca_file),
                    "--format", "json")  # fmt: skip
    assert ends.exit_code == 0, ends.output
    assert json.loads(ends.stdout)["digest"] == digest
    insecure_dst = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"),
                            registry.ref("acme/copied", "v1.2.3"), "--from-insecure")  # fmt: skip
    assert insecure_dst.exit_code == 0, insecure_dst.output
    assert insecure_dst.stderr.count("verification is off") == 1
    assert src.host in insecure_dst.stderr and registry.host not in insecure_dst.stderr


def test_copy_takes_credentials_per_end(
    registry_factory: Callable[..., Registry], registry: Registry
) -> None:
    src = registry_factory(auth="basic")
    publish(src.ref(REPO), make_tree("1.2.3"), options=src.options())
    anonymous = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"), registry.ref("acme/c2"))
    assert anonymous.exit_code == 2 and "registry_auth_failed" in anonymous.output
    ok = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"), registry.ref("acme/c2"),
                  "--from-username", "floe", "--from-password", src.password or "")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    half = run_floe("platform", "copy", src.ref(REPO, "v1.2.3"), registry.ref("acme/c2"),
                    "--to-username", "floe")  # fmt: skip
    assert half.exit_code == 2 and "registry_credentials_incomplete" in half.output


# ---- --debug


def test_debug_traces_requests_without_credentials(basic_auth_registry: Registry) -> None:
    reg = basic_auth_registry
    password = reg.password or ""
    result = run_floe("--debug", "platform", "list", reg.ref(REPO), "-u", "floe", "-p", password)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("debug: ")]
    assert f"debug: GET http://{reg.host}/v2/{REPO}/tags/list -> 401" in lines[0]
    assert f"debug: GET http://{reg.host}/v2/{REPO}/tags/list -> 404 (" in lines[1]  # no repo yet
    assert all(line.endswith(" ms)") for line in lines)
    basic = base64.b64encode(f"floe:{password}".encode()).decode()
    assert password not in result.output and basic not in result.output
    assert "Authorization" not in result.output
    quiet = run_floe("platform", "list", reg.ref(REPO), "-u", "floe", "-p", password)
    assert "debug:" not in quiet.output


def test_debug_traces_a_request_that_got_no_response() -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_floe("--debug", "platform", "list", f"oci://127.0.0.1:{port}/x", "--timeout", "2")
    assert result.exit_code == 2, result.output
    assert "registry_unreachable" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("debug: ")]
    assert lines and all(
        line.startswith(f"debug: GET http://127.0.0.1:{port}/v2/x/tags/list -> ConnectionError (")
        for line in lines
    )


def test_debug_traces_token_requests_and_hides_tokens(token_registry: Registry) -> None:
    reg = token_registry
    password = reg.password or ""
    result = run_floe("--debug", "platform", "list", reg.ref(REPO), "-u", "floe", "-p", password)
    assert result.exit_code == 0, result.output
    assert reg.token_server is not None
    realm = reg.token_server.realm
    token_lines = [
        line for line in result.stderr.splitlines() if line.startswith(f"debug: GET {realm}")
    ]
    assert token_lines and "scope=repository:acme/platform:pull" in token_lines[0]
    assert "-> 200" in token_lines[0]
    assert password not in result.output
    assert "eyJ" not in result.output  # no JWT (tokens are base64url JSON)
    assert "Bearer" not in result.output


def test_redact_url_hides_query_secrets() -> None:
    from floe.oci.http import redact_url

    url = "https://u:pw@s3.example/blob?X-Amz-Signature=abc123&n=10&token=t0k"
    text = redact_url(url)
    assert "abc123" not in text and "t0k" not in text and "pw" not in text
    assert "n=10" in text and text.startswith("https://s3.example/blob?")


def test_login_reads_the_file_warns_on_insecure_and_traces(
    settings_file: Path, tls_registry: Registry
) -> None:
    reg = tls_registry
    untrusted = run_floe("login", reg.host, "-u", "x", "-p", "y")
    assert untrusted.exit_code == 2 and "registry_tls" in untrusted.output
    settings_file.write_text(f'[registry."{reg.host}"]\nca_file = "{reg.ca_file}"\n')
    trusted = run_floe("--debug", "login", reg.host, "-u", "x", "-p", "y")
    assert trusted.exit_code == 0, trusted.output
    assert f"debug: GET https://{reg.host}/v2/ -> 200" in trusted.stderr
    insecure = run_floe("login", reg.host, "-u", "x", "-p", "y", "--insecure")
    assert insecure.exit_code == 0, insecure.output
    assert insecure.stderr.count("TLS certificate verification is off") == 1


def test_what_floe_writes_reads_back_the_same() -> None:
    from floe.oci.settings import HostSettings, RegistrySettings, render_settings

    odd = Path('/certs/\x7f"quote"\\back\nnewline é.pem')
    hosts = {
        "a.example": HostSettings("a.example", ca_file=odd, insecure=True, mirrors=("m.example",)),
        "b.example:5000": HostSettings("b.example:5000", plain_http=False),
    }
    path = Path("/etc/floe/registries.toml")
    text = render_settings(RegistrySettings(path, hosts))
    assert parse_settings(text.encode(), path) == RegistrySettings(path, hosts)


def test_debug_never_shows_a_known_refresh_token(token_registry: Registry) -> None:
    import os

    reg = token_registry
    assert reg.token_server is not None
    refresh = reg.token_server.refresh_token
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"auths": {reg.host: {"identitytoken": refresh}}}))
    result = run_floe("--debug", "platform", "list", reg.ref(REPO))
    assert result.exit_code == 0, result.output
    assert f"debug: POST {reg.token_server.realm} -> 200" in result.stderr
    assert refresh not in result.output and "eyJ" not in result.output
