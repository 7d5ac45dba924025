"""`floe doctor` against real registries (plain, TLS with a CA, basic auth, token) and real
projects (`floe init`, `floe compile`): every check it prints was made, and it exits 1
when one of them failed."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import tomllib
from pathlib import Path
from typing import Any

import pytest
from compile_helpers import acme_files, write_tiny_project
from conftest import REPO_ROOT, run_floe
from lifecycle_helpers import force_writable, make_signer, publish

from floe import __version__


def _doctor(*args: str, cwd: Path, env: dict[str, str] | None = None, code: int = 0) -> Any:
    result = run_floe("doctor", "--format", "json", *args, cwd=cwd, env=env)
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is (code == 0)
    assert data["failures"] == sum(1 for c in data["checks"] if c["status"] == "fail")
    return data


def _checks(data: Any, section: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        c for c in data["checks"] if c["section"] == section and (name is None or c["name"] == name)
    ]


def _one(data: Any, section: str, name: str) -> dict[str, Any]:
    found = _checks(data, section, name)
    assert len(found) == 1, data["checks"]
    return found[0]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- environment


def test_environment_and_the_tested_dbt_range(tmp_path: Path) -> None:
    data = _doctor(cwd=tmp_path, env={"FLOE_REGISTRY": ""})
    assert data["event"] == "doctor"
    assert data["floe"] == {"version": __version__}
    assert data["python"]["ok"] is True
    assert set(data["extras"]) == {"sigstore", "dbt-core", "dbt-duckdb", "dbt-postgres"}
    assert {"docker-registry", "skopeo", "oras"} <= set(data["tools"])
    # The tested range is the one pyproject's extras declare, for each dbt distribution.
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    declared = {
        req.split(">", 1)[0].split("<", 1)[0]: req for reqs in extras.values() for req in reqs
    }
    from packaging.specifiers import SpecifierSet

    for dist in ("dbt-core", "dbt-duckdb"):
        check = _one(data, "dbt", dist)
        assert check["version"] == data["extras"][dist]["version"]
        assert SpecifierSet(check["tested"]) == SpecifierSet(declared[dist][len(dist) :])
        assert check["status"] == "ok"  # make dev installs versions inside the range
    # nothing configured: the embedded default layout is what a command would use
    assert data["registry"]["source"] == "embedded default"
    assert _one(data, "registry", "layout")["status"] == "skip"
    assert _one(data, "project", "floe.yaml")["status"] == "skip"


def test_dbt_outside_the_tested_range_warns() -> None:
    from floe.artifact.doctor import _dbt_checks, tested_ranges

    ranges = tested_ranges()
    assert ranges is not None and "dbt-core" in ranges
    extras = {
        "dbt-core": {"version": "1.9.4", "extra": "dbt"},
        "dbt-duckdb": {"version": None, "extra": "dbt"},
        "dbt-postgres": {"version": "1.11.0", "extra": "postgres"},
    }
    by_name = {c.name: c for c in _dbt_checks(extras)}
    assert by_name["dbt-core"].status == "warn"
    assert "outside the range floe is tested with" in by_name["dbt-core"].message
    assert by_name["dbt-duckdb"].status == "skip"
    assert by_name["dbt-postgres"].status == "ok"


def test_text_report_marks_and_summary(tmp_path: Path) -> None:
    result = run_floe("doctor", cwd=tmp_path, env={"FLOE_REGISTRY": ""})
    assert result.exit_code == 0, result.output
    for heading in ("floe doctor", "Environment", "Tools on PATH", "dbt", "Registries"):
        assert heading in result.stdout
    assert f"✓ floe {__version__}" in result.stdout
    assert "- no floe.yaml in" in result.stdout  # not checked: never a ✓
    assert result.stdout.rstrip().splitlines()[-1].startswith("All checks passed")


def test_invalid_registry_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = run_floe("doctor", "--registry", "not-a-ref", cwd=tmp_path)
    assert result.exit_code == 2
    assert "error[reference_invalid]" in result.stderr


# --------------------------------------------------------------------------- registries


def test_plain_registry_empty_repository_then_published(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    data = _doctor("--registry", ref, cwd=tmp_path)
    assert data["registry"] == {"ref": ref, "source": "--registry"}
    reach = _one(data, "registry", "reach")
    assert reach["status"] == "ok" and "answered 200 (registry/2.0)" in reach["message"]
    assert _one(data, "registry", "tls")["status"] == "skip"  # plain HTTP: nothing verified
    creds = _one(data, "registry", "credentials")
    assert creds["status"] == "warn" and "does not exist yet" in creds["message"]
    (info,) = data["registries"]
    assert info["url"] == f"http://{registry.host}/v2/" and info["credentials"] == "anonymous"

    publish(ref, acme_files())
    data = _doctor("--registry", ref, cwd=tmp_path)
    creds = _one(data, "registry", "credentials")
    assert creds["status"] == "ok" and "pull allowed (anonymous)" in creds["message"]
    assert data["registries"][0]["pull_status"] == 200


def test_unreachable_registry_fails(tmp_path: Path) -> None:
    port = _free_port()
    result = run_floe("doctor", "--registry", f"oci://127.0.0.1:{port}/x", cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert f"✗ oci://127.0.0.1:{port}/x (--registry): cannot reach 127.0.0.1:{port}" in (
        result.stdout
    )
    assert "✓ oci://127.0.0.1" not in result.stdout  # nothing after a failed reach is shown


def test_tls_registry_needs_its_ca(tmp_path: Path, tls_registry: Any) -> None:
    ref = tls_registry.ref("t/doctor-tls")
    # Loopback without a CA file means plain HTTP; the registry speaks TLS: a failure.
    data = _doctor("--registry", ref, cwd=tmp_path, code=1)
    reach = _one(data, "registry", "reach")
    assert reach["status"] == "fail" and reach["slug"] == "registry_tls"
    assert _checks(data, "registry", "credentials") == []  # not checked, not shown as passed

    data = _doctor("--registry", ref, "--ca-file", str(tls_registry.ca_file), cwd=tmp_path)
    assert data["registries"][0]["url"] == f"https://{tls_registry.host}/v2/"
    assert _one(data, "registry", "reach")["status"] == "ok"
    tls = _one(data, "registry", "tls")
    assert tls["status"] == "ok" and str(tls_registry.ca_file) in tls["message"]

    data = _doctor("--registry", ref, "--insecure", cwd=tmp_path)
    assert _one(data, "registry", "tls")["status"] == "warn"


def test_tls_registry_with_a_wrong_ca_fails(tmp_path: Path, tls_registry: Any) -> None:
    from registry_fixtures import make_tls_material

    other_ca, _, _ = make_tls_material(tmp_path / "other")
    ref = tls_registry.ref("t/doctor-tls")
    data = _doctor("--registry", ref, "--ca-file", str(other_ca), cwd=tmp_path, code=1)
    reach = _one(data, "registry", "reach")
    assert reach["slug"] == "registry_tls" and "TLS with" in reach["message"]


def test_basic_auth_anonymous_wrong_and_right_credentials(
    tmp_path: Path, basic_auth_registry: Any
) -> None:
    reg = basic_auth_registry
    ref = reg.ref("t/doctor-auth")
    data = _doctor("--registry", ref, cwd=tmp_path, code=1)
    assert "asks for authentication" in _one(data, "registry", "reach")["message"]
    creds = _one(data, "registry", "credentials")
    assert creds["status"] == "fail" and creds["slug"] == "registry_auth_failed"
    assert "requires authentication" in creds["message"]

    wrong = {"FLOE_REGISTRY_USERNAME": reg.username, "FLOE_REGISTRY_PASSWORD": "not-it-x7"}
    result = run_floe("doctor", "--format", "json", "--registry", ref, cwd=tmp_path, env=wrong)
    assert result.exit_code == 1, result.output
    assert "not-it-x7" not in result.output  # never a secret
    data = json.loads(result.stdout)
    creds = _one(data, "registry", "credentials")
    assert creds["status"] == "fail" and "refused the credentials" in creds["message"]
    assert data["registries"][0]["username"] == reg.username

    right = {"FLOE_REGISTRY_USERNAME": reg.username, "FLOE_REGISTRY_PASSWORD": reg.password}
    result = run_floe("doctor", "--registry", ref, cwd=tmp_path, env=right)
    assert reg.password not in result.output
    # credentials accepted; the repository is empty, which a publish target may be
    assert result.exit_code == 0, result.output
    assert f"does not exist yet ({reg.username} from FLOE_REGISTRY_USERNAME" in result.stdout


def test_token_registry_with_credentials_in_the_docker_config(
    tmp_path: Path, token_registry: Any
) -> None:
    reg = token_registry
    ref = reg.ref("t/doctor-token")
    publish(ref, acme_files(), options=reg.options())
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    config.write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
    data = _doctor("--registry", ref, cwd=tmp_path)
    creds = _one(data, "registry", "credentials")
    assert creds["status"] == "ok" and "pull allowed" in creds["message"]
    assert data["registries"][0]["credentials"] == f"docker config {config}"
    assert f"repository:{'t/doctor-token'}:pull" in reg.token_server.scopes


# --------------------------------------------------------------------------- project


@pytest.fixture
def project(tmp_path: Path, registry: Any, repo_name: str) -> tuple[Path, str]:
    """A one-model dbt project initialised from a real registry (unsigned platform)."""
    ref = registry.ref(repo_name)
    publish(ref, acme_files())
    root = write_tiny_project(tmp_path / "tiny")
    result = run_floe("init", "--platform=v1.2.3", "--registry", ref, cwd=root)
    assert result.exit_code == 0, result.output
    return root, ref


def test_initialised_project_then_compiled(project: tuple[Path, str]) -> None:
    root, ref = project
    before = _snapshot(root)
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""})
    assert _snapshot(root) == before  # the doctor writes nothing
    for name in ("floe.yaml", "lock", "lock-matches", "cache"):
        assert _one(data, "project", name)["status"] == "ok", name
    assert "files match the lock" in _one(data, "project", "cache")["message"]
    assert _one(data, "project", "signature")["status"] == "skip"  # unsigned: not checked
    assert _one(data, "project", "profile")["status"] == "warn"  # not written yet
    plugins = _one(data, "project", "plugins")  # the adapter `floe run` needs, installed
    assert plugins["status"] == "ok" and "compute duckdb: dbt-duckdb 1." in plugins["message"]
    # floe.yaml and the lock name the same repository: probed once, with both sources
    (info,) = data["registries"]
    assert info["ref"] == ref and info["sources"] == ["floe.yaml platform.ref", "artifacts.lock"]
    assert _one(data, "registry", "credentials")["status"] == "ok"

    assert run_floe("compile", cwd=root).exit_code == 0
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""})
    profile = _one(data, "project", "profile")
    assert profile["status"] == "ok" and "profile 'tiny' (duckdb) is current" in profile["message"]


def test_tampered_cache_fails(project: tuple[Path, str]) -> None:
    root, _ = project
    tree = root / ".floe" / "platform" / "v1.2.3"
    victim = tree / "policies" / "quality-gates.json"
    force_writable(victim)
    victim.write_bytes(victim.read_bytes().replace(b"80", b"10"))
    before = _snapshot(root)
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    cache = _one(data, "project", "cache")
    assert cache["slug"] == "cache_corrupt" and "quality-gates.json" in cache["message"]
    assert _checks(data, "project", "profile") == []  # not checked on a corrupt cache
    assert _snapshot(root) == before


def test_missing_cache_stale_lock_and_bad_floe_yaml(project: tuple[Path, str]) -> None:
    root, _ = project
    floe_yaml = root / "floe.yaml"
    original = floe_yaml.read_text()
    floe_yaml.write_text(original.replace('version: "v1.2.3"', 'version: "v2.0.0"'))
    assert "v2.0.0" in floe_yaml.read_text()
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    assert _one(data, "project", "lock-matches")["slug"] == "lock_stale"

    floe_yaml.write_text("platform: [not, a, mapping\n")
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    assert _one(data, "project", "floe.yaml")["slug"] == "floe_yaml_invalid"
    assert _checks(data, "project", "lock") == []

    floe_yaml.write_text(original)
    (root / ".floe" / "cache" / "artifacts.lock").unlink()
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    assert "does not exist" in _one(data, "project", "lock")["message"]


def test_foreign_profiles_yml_fails(project: tuple[Path, str]) -> None:
    root, _ = project
    (root / "profiles.yml").write_text("tiny:\n  target: dev\n  outputs: {dev: {type: duckdb}}\n")
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    profile = _one(data, "project", "profile")
    assert profile["slug"] == "profiles_not_generated"
    # --profiles-dir: the profile floe writes elsewhere is the one checked
    elsewhere = root / "floe-profiles"
    assert run_floe("compile", "--profiles-dir", str(elsewhere), cwd=root).exit_code == 0
    data = _doctor("--profiles-dir", str(elsewhere), cwd=root, env={"FLOE_REGISTRY": ""})
    assert _one(data, "project", "profile")["status"] == "ok"


def test_signed_platform_signature_checked_from_the_cache(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    signer, pub = make_signer(tmp_path / "keys")
    ref = registry.ref(repo_name)
    publish(ref, acme_files(), signer=signer)
    root = write_tiny_project(tmp_path / "tiny")
    result = run_floe("init", "--platform=v1.2.3", "--registry", ref, "--key", str(pub), cwd=root)
    assert result.exit_code == 0, result.output
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""})
    signature = _one(data, "project", "signature")
    assert signature["status"] == "ok" and "verifies from the cache" in signature["message"]


def test_project_registry_down_fails(tmp_path: Path, project: tuple[Path, str]) -> None:
    root, _ = project
    port = _free_port()
    text = (root / "floe.yaml").read_text()
    lock = root / ".floe" / "cache" / "artifacts.lock"
    host = text.split("oci://", 1)[1].split("/", 1)[0]
    (root / "floe.yaml").write_text(text.replace(host, f"127.0.0.1:{port}"))
    lock.write_text(lock.read_text().replace(host, f"127.0.0.1:{port}"))
    data = _doctor(cwd=root, env={"FLOE_REGISTRY": ""}, code=1)
    reach = _one(data, "registry", "reach")
    assert reach["status"] == "fail" and reach["slug"] == "registry_unreachable"
    # the project itself is fine offline: compile needs no registry
    assert _one(data, "project", "cache")["status"] == "ok"
