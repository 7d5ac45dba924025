"""`floe doctor`: environment report and registry reachability (127.0.0.1 only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from conftest import run_floe

from floe import __version__


class _Registry(BaseHTTPRequestHandler):
    """Answers GET /v2/ like a token-auth registry: 401 with the API version header."""

    def do_GET(self) -> None:
        self.send_response(401 if self.path == "/v2/" else 404)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _doctor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    result = run_floe("doctor", "--format", "json", *args, cwd=cwd, env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_reports_python_floe_extras_and_tools(tmp_path: Path) -> None:
    data = _doctor(cwd=tmp_path, env={"FLOE_REGISTRY": ""})
    assert data["event"] == "doctor"
    assert data["floe"] == {"version": __version__}
    python = data["python"]
    assert isinstance(python, dict) and python["ok"] is True
    extras = data["extras"]
    assert isinstance(extras, dict)
    assert set(extras) == {"sigstore", "dbt-core", "dbt-duckdb"}
    assert all(isinstance(e["installed"], bool) for e in extras.values())
    tools = data["tools"]
    assert isinstance(tools, dict) and {"docker-registry", "skopeo", "oras"} <= set(tools)
    assert data["registry"] is None


def test_401_counts_as_reachable(tmp_path: Path, fake_registry: str) -> None:
    registry = _doctor("--registry", f"oci://{fake_registry}/floe-platform", cwd=tmp_path)[
        "registry"
    ]
    assert isinstance(registry, dict)
    assert registry["reachable"] is True
    assert registry["status"] == 401
    assert registry["api_version"] == "registry/2.0"
    assert registry["source"] == "--registry"


def test_registry_from_floe_yaml_then_environment(tmp_path: Path, fake_registry: str) -> None:
    (tmp_path / "floe.yaml").write_text(
        f"platform:\n  ref: oci://{fake_registry}/floe-platform:v1.2.3\n"
    )
    registry = _doctor(cwd=tmp_path)["registry"]
    assert isinstance(registry, dict) and registry["source"] == "floe.yaml platform.ref"
    (tmp_path / "floe.yaml").unlink()
    env = {"FLOE_REGISTRY": f"oci://{fake_registry}/x"}
    registry = _doctor(cwd=tmp_path, env=env)["registry"]
    assert isinstance(registry, dict) and registry["source"] == "FLOE_REGISTRY"
    assert registry["reachable"] is True


def test_unreachable_registry_is_reported_not_fatal(tmp_path: Path, fake_registry: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_floe("doctor", "--registry", f"oci://127.0.0.1:{port}/x", cwd=tmp_path)
    assert result.exit_code == 0
    assert f"✗ oci://127.0.0.1:{port}/x (--registry): unreachable: Connection refused" in (
        result.stdout
    )


def test_invalid_registry_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = run_floe("doctor", "--registry", "not-a-ref", cwd=tmp_path)
    assert result.exit_code == 2
    assert "error[reference_invalid]" in result.stderr


def test_text_report_names_each_section(tmp_path: Path) -> None:
    result = run_floe("doctor", cwd=tmp_path, env={"FLOE_REGISTRY": ""})
    assert result.exit_code == 0
    for heading in ("floe doctor", "Optional extras", "Tools on PATH", "Registry"):
        assert heading in result.stdout
    assert f"✓ floe {__version__}" in result.stdout
