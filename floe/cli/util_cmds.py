"""`floe doctor`: what this machine has, and whether the configured registry answers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from floe.cli import common

# Optional extras: (distribution, importable top-level module or None, extra name).
EXTRAS = (
    ("sigstore", "sigstore", "sigstore"),
    ("dbt-core", "dbt", "dbt"),
    ("dbt-duckdb", None, "dbt"),
)
# Debian tools the registry tests and interop use; oras is an optional peer.
TOOLS = ("docker-registry", "skopeo", "oras", "htpasswd", "openssl")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def _python() -> dict[str, Any]:
    version = ".".join(str(part) for part in sys.version_info[:3])
    return {"version": version, "executable": sys.executable, "ok": sys.version_info >= (3, 11)}


def _extras() -> dict[str, dict[str, Any]]:
    """Installed optional extras, found without importing them (imports are slow)."""
    import importlib.metadata
    import importlib.util

    found: dict[str, dict[str, Any]] = {}
    for dist, module, extra in EXTRAS:
        try:
            version: str | None = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = None
        importable = module is None or importlib.util.find_spec(module) is not None
        installed = version is not None and importable
        found[dist] = {"installed": installed, "version": version, "extra": extra}
    return found


def _tools() -> dict[str, dict[str, Any]]:
    import shutil

    return {
        name: {"found": (path := shutil.which(name)) is not None, "path": path} for name in TOOLS
    }


def _configured_registry(explicit: str | None) -> tuple[str, str] | None:
    """(reference, where it came from): --registry, floe.yaml platform.ref, FLOE_REGISTRY."""
    if explicit:
        return explicit, "--registry"
    floe_yaml = Path("floe.yaml")
    if floe_yaml.is_file():
        from floe.errors import UsageError
        from floe.yaml_loader import load_yaml_with_positions

        try:
            data = load_yaml_with_positions(floe_yaml, slug="floe_yaml_invalid").data
        except UsageError:
            data = {}
        platform = data.get("platform") if isinstance(data, dict) else None
        ref = platform.get("ref") if isinstance(platform, dict) else None
        if isinstance(ref, str) and ref:
            return ref, "floe.yaml platform.ref"
    env = os.environ.get("FLOE_REGISTRY", "").strip()
    return (env, "FLOE_REGISTRY") if env else None


def _probe(ref_text: str, source: str, plain_http: bool) -> dict[str, Any]:
    """GET /v2/ on the registry host (3 s); any HTTP answer, 401 included, is reachable."""
    from floe.errors import UsageError
    from floe.oci.reference import parse_reference

    result: dict[str, Any] = {"ref": ref_text, "source": source, "reachable": False}
    try:
        ref = parse_reference(ref_text, default_repository="floe-platform")
    except UsageError as exc:
        if source == "--registry":
            raise
        result["error"] = exc.message
        return result
    if ref.is_layout:
        path = Path(ref.path)
        result.update(kind="oci-layout", path=str(path), reachable=True)
        result["exists"] = (path / "oci-layout").is_file()
        return result
    bracketed = ref.host.startswith("[")
    host = ref.host.split("]")[0] + "]" if bracketed else ref.host.rsplit(":", 1)[0]
    scheme = "http" if plain_http or host in LOOPBACK_HOSTS else "https"
    url = f"{scheme}://{ref.host}/v2/"
    result.update(kind="registry", url=url)

    import requests

    try:
        response = requests.get(url, timeout=3, allow_redirects=False)
    except requests.RequestException as exc:
        result["error"] = _why(exc)
        return result
    result["status"] = response.status_code
    result["reachable"] = response.status_code < 500
    result["api_version"] = response.headers.get("Docker-Distribution-API-Version")
    return result


def _why(exc: Exception) -> str:
    """A short reason for a failed probe (requests' messages run to several hundred chars)."""
    import re

    import requests

    if isinstance(exc, requests.Timeout):
        return "timed out after 3 s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (try --plain-http for a plain HTTP registry)"
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return errno.group(1).strip() if errno else type(exc).__name__


def _text_report(report: dict[str, Any]) -> None:
    def line(ok: bool | None, text: str) -> None:
        mark = {True: "✓", False: "✗", None: "-"}[ok]
        click.echo(f"  {mark} {text}")

    py = report["python"]
    click.echo("floe doctor")
    line(py["ok"], f"Python {py['version']} ({py['executable']})" + ("" if py["ok"] else " < 3.11"))
    line(True, f"floe {report['floe']['version']}")
    click.echo("Optional extras")
    for dist, info in report["extras"].items():
        if info["installed"]:
            line(True, f"{dist} {info['version']}")
        else:
            line(None, f"{dist} not installed (pip install 'floe[{info['extra']}]')")
    click.echo("Tools on PATH")
    for name, info in report["tools"].items():
        line(True if info["found"] else None, f"{name} {info['path'] or 'not found'}")
    click.echo("Registry")
    reg = report["registry"]
    if reg is None:
        line(None, "none configured (--registry, floe.yaml platform.ref or FLOE_REGISTRY)")
    elif reg.get("kind") == "oci-layout":
        state = "exists" if reg["exists"] else "will be created on first publish"
        line(True, f"{reg['ref']} ({reg['source']}): OCI layout at {reg['path']} {state}")
    elif reg["reachable"]:
        line(True, f"{reg['ref']} ({reg['source']}): {reg['url']} answered HTTP {reg['status']}")
    else:
        why = reg.get("error") or f"HTTP {reg.get('status')}"
        line(False, f"{reg['ref']} ({reg['source']}): unreachable: {why}")


@click.command("doctor")
@click.option("--registry", "registry", default=None, help="Registry reference to probe.")
@click.option("--plain-http", is_flag=True, help="Probe the registry over plain HTTP.")
@common.format_option()
def doctor(registry: str | None, plain_http: bool, fmt: str) -> None:
    """Report Python, floe, optional extras, tools and registry reachability."""
    from floe import __version__

    configured = _configured_registry(registry)
    report: dict[str, Any] = {
        "event": "doctor",
        "python": _python(),
        "floe": {"version": __version__},
        "extras": _extras(),
        "tools": _tools(),
        "registry": _probe(*configured, plain_http) if configured else None,
    }
    if fmt == "json":
        common.emit_json(report)
    else:
        _text_report(report)


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
    cli.add_command(doctor)
