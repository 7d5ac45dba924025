"""`floe doctor` as a library call: Python, floe, optional extras, tools on PATH and
whether the configured registry answers. Returns the report; the CLI renders it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Optional extras: (distribution, importable top-level module or None, extra name).
EXTRAS = (
    ("sigstore", "sigstore", "sigstore"),
    ("dbt-core", "dbt", "dbt"),
    ("dbt-duckdb", None, "dbt"),
)
# Debian tools the registry tests and interop use; oras is an optional peer.
TOOLS = ("docker-registry", "skopeo", "oras", "htpasswd", "openssl")


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
    """(reference, where it came from), in floe's one precedence: --registry, then
    FLOE_REGISTRY, then the configuration (floe.yaml platform.ref)."""
    if explicit:
        return explicit, "--registry"
    env = os.environ.get("FLOE_REGISTRY", "").strip()
    if env:
        return env, "FLOE_REGISTRY"
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
    return None


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
    from floe.oci.http import is_loopback

    scheme = "http" if plain_http or is_loopback(ref.host) else "https"
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


def diagnose(registry: str | None = None, *, plain_http: bool = False) -> dict[str, Any]:
    """The doctor report (the `--format json` document)."""
    from floe import __version__

    configured = _configured_registry(registry)
    return {
        "event": "doctor",
        "python": _python(),
        "floe": {"version": __version__},
        "extras": _extras(),
        "tools": _tools(),
        "registry": _probe(*configured, plain_http) if configured else None,
    }
