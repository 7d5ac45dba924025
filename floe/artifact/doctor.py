"""`floe doctor`, the machine and registry half: Python, floe, optional extras and the dbt
versions against the tested range, tools on PATH, and one probe per registry.

Every probe is a `Check` with a status: `ok` (checked and passed), `fail` (checked and
failed: the command exits 1), `warn` (works, but outside what floe tests or about to
bite) or `skip` (nothing to check, or not checked). Nothing is `ok` that was not checked.

A registry is probed exactly as every other command reaches it: one `RegistrySession`
with the command's `RegistryOptions` (scheme from --plain-http / the loopback rule,
TLS verified against --ca-file or the system CAs, --insecure reported as a warning),
first `GET /v2/`, then an authenticated `GET /v2/<repo>/tags/list` on the pull scope
with the credentials a pull would send (flags, FLOE_REGISTRY_USERNAME, docker config):
200 passes, 401/403 fails, 404 means the credentials passed but the repository is empty.

The project half (floe.yaml, lock, cache, profile) is floe.project.doctor, which calls
this module; nothing here writes a file.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import Reference

Status = Literal["ok", "warn", "fail", "skip"]

# Optional extras: (distribution, importable top-level module or None, extra name).
EXTRAS = (
    ("sigstore", "sigstore", "sigstore"),
    ("dbt-core", "dbt", "dbt"),
    ("dbt-duckdb", None, "dbt"),
    ("dbt-postgres", None, "postgres"),
)
DBT_DISTRIBUTIONS = ("dbt-core", "dbt-duckdb", "dbt-postgres")
# Debian tools the registry tests and interop use; oras is an optional peer.
TOOLS = ("docker-registry", "skopeo", "oras", "htpasswd", "openssl")
PROBE_RETRY_SECONDS = 2.0  # a registry that does not answer fails the doctor fast


@dataclass(frozen=True)
class Check:
    """One thing the doctor looked at, and what it found."""

    section: str  # environment | dbt | registry | project
    name: str  # stable id within the section: python, dbt-core, reach, credentials, lock
    status: Status
    message: str
    hint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "section": self.section,
            "name": self.name,
            "status": self.status,
            "message": self.message,
        }
        if self.hint:
            out["hint"] = self.hint
        out.update(self.details)
        return out


def failed(section: str, name: str, exc: Any) -> Check:
    """A check that failed with a FloeError: its one-line message, hint and slug."""
    return Check(section, name, "fail", exc.message, exc.hint, {"slug": exc.slug})


# --------------------------------------------------------------------------- environment


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


def tested_ranges() -> dict[str, str] | None:
    """The dbt ranges floe declares in its extras (`floe[dbt]`, `floe[postgres]`), read
    from the installed package's metadata; None when floe is not installed as a package."""
    import importlib.metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requires = importlib.metadata.requires("floe") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    ranges: dict[str, str] = {}
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.name in DBT_DISTRIBUTIONS and req.marker is not None and "extra" in str(req.marker):
            ranges[req.name] = str(req.specifier)
    return ranges


def _dbt_checks(extras: dict[str, dict[str, Any]]) -> list[Check]:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    ranges = tested_ranges()
    checks: list[Check] = []
    for dist in DBT_DISTRIBUTIONS:
        version = extras[dist]["version"] if dist in extras else None
        tested = (ranges or {}).get(dist)
        details: dict[str, Any] = {"version": version, "tested": tested}
        if version is None:
            extra = extras[dist]["extra"]
            checks.append(
                Check("dbt", dist, "skip", f"{dist} not installed", f"pip install 'floe[{extra}]'")
            )
            continue
        if tested is None:
            why = "floe's package metadata is missing" if ranges is None else "none declared"
            checks.append(
                Check(
                    "dbt",
                    dist,
                    "skip",
                    f"{dist} {version} (tested range unknown: {why})",
                    None,
                    details,
                )
            )
            continue
        try:
            inside = Version(version) in SpecifierSet(tested)
        except InvalidVersion:
            inside = False
        if inside:
            checks.append(
                Check("dbt", dist, "ok", f"{dist} {version} (tested: {tested})", None, details)
            )
        else:
            checks.append(
                Check(
                    "dbt",
                    dist,
                    "warn",
                    f"{dist} {version} is outside the range floe is tested with ({tested})",
                    f"pip install '{dist}{tested}'",
                    details,
                )
            )
    return checks


def environment() -> tuple[dict[str, Any], list[Check]]:
    """The environment sections of the report and their checks."""
    from floe import __version__

    python, extras, tools = _python(), _extras(), _tools()
    checks = [
        Check(
            "environment",
            "python",
            "ok" if python["ok"] else "fail",
            f"Python {python['version']} ({python['executable']})"
            + ("" if python["ok"] else ": floe needs Python 3.11 or newer"),
        ),
        Check("environment", "floe", "ok", f"floe {__version__} (imported from {_floe_root()})"),
    ]
    sigstore = extras["sigstore"]
    checks.append(
        Check("environment", "sigstore", "ok", f"sigstore {sigstore['version']} (keyless signing)")
        if sigstore["installed"]
        else Check(
            "environment",
            "sigstore",
            "skip",
            "sigstore not installed (keyless signing off)",
            "pip install 'floe[sigstore]'",
        )
    )
    for name, info in tools.items():
        if info["found"]:
            checks.append(Check("tools", name, "ok", f"{name} {info['path']}"))
        else:
            checks.append(Check("tools", name, "skip", f"{name} not found on PATH"))
    checks.extend(_dbt_checks(extras))
    sections = {
        "python": python,
        "floe": {"version": __version__},
        "extras": extras,
        "tools": tools,
    }
    return sections, checks


def _floe_root() -> str:
    import floe

    return str(Path(floe.__file__).resolve().parent)


# --------------------------------------------------------------------------- registries


@dataclass
class RegistryProbe:
    """One registry (a repository on a host, or a layout folder) and where it was named."""

    ref: Reference
    sources: list[str]
    needed: bool  # named by floe.yaml or the lock: a pull needs it to exist

    @property
    def label(self) -> str:
        return self.ref.repository_ref()


def _credential_source(host: str, options: RegistryOptions) -> tuple[str, str | None]:
    """Where a pull's credentials for `host` come from, and the user name (never the secret)."""
    from floe.oci.auth import docker_config_path, find_credentials

    creds = find_credentials(host, options)
    if creds is None:
        return "anonymous", None
    if options.username is not None and options.password is not None:
        where = "--username/--password"
    elif os.environ.get("FLOE_REGISTRY_USERNAME") and os.environ.get("FLOE_REGISTRY_PASSWORD"):
        where = "FLOE_REGISTRY_USERNAME/FLOE_REGISTRY_PASSWORD"
    else:
        where = f"docker config {docker_config_path(options)}"
    return where, creds.username or ("<identity token>" if creds.identity_token else None)


def _tls_check(probe: RegistryProbe, base: str, options: RegistryOptions) -> Check:
    label = probe.label
    if base.startswith("http://"):
        how = "plain HTTP asked for" if options.plain_http else "loopback host"
        return Check("registry", "tls", "skip", f"{label}: plain HTTP ({how}), no TLS to verify")
    if options.ca_file is not None:
        return Check("registry", "tls", "ok", f"{label}: TLS verified against {options.ca_file}")
    if options.insecure:
        return Check(
            "registry",
            "tls",
            "warn",
            f"{label}: TLS certificate NOT verified (--insecure)",
            "pass --ca-file with the registry's CA instead of --insecure",
        )
    return Check("registry", "tls", "ok", f"{label}: TLS verified against the system CAs")


def _probe_layout(probe: RegistryProbe) -> list[Check]:
    import json

    path = Path(probe.ref.path)
    label, where = probe.label, ", ".join(probe.sources)
    marker = path / "oci-layout"
    if not path.exists():
        if probe.needed:
            return [
                Check(
                    "registry",
                    "layout",
                    "fail",
                    f"{label} ({where}): {path} does not exist",
                    "check the path in floe.yaml / artifacts.lock, or publish to it first",
                )
            ]
        return [
            Check(
                "registry",
                "layout",
                "skip",
                f"{label} ({where}): {path} will be created on first publish",
            )
        ]
    try:
        data = json.loads(marker.read_bytes())
        valid = isinstance(data, dict) and isinstance(data.get("imageLayoutVersion"), str)
    except (OSError, ValueError, RecursionError):
        valid = False
    if not valid:
        return [
            Check(
                "registry",
                "layout",
                "fail",
                f"{label} ({where}): {path} is not an OCI image layout (no valid oci-layout file)",
                "point the reference at an OCI layout folder, or at an empty path",
            )
        ]
    return [Check("registry", "layout", "ok", f"{label} ({where}): OCI layout at {path}")]


def probe_registry(
    probe: RegistryProbe, options: RegistryOptions
) -> tuple[dict[str, Any], list[Check]]:
    """Reach, TLS and credentials of one registry, as a pull would meet them."""
    if probe.ref.is_layout:
        layout = _probe_layout(probe)
        info = {"ref": probe.label, "sources": probe.sources, "kind": "oci-layout"}
        return {**info, "path": probe.ref.path, "status": layout[0].status}, layout
    from floe.oci.http import RegistrySession

    own = replace(options, retry_budget_seconds=PROBE_RETRY_SECONDS, deadline=None)
    session = RegistrySession(probe.ref.host, own)
    info = {
        "ref": probe.label,
        "sources": probe.sources,
        "kind": "registry",
        "url": f"{session.base}/v2/",
    }
    try:
        reach = _reach(session, probe.label, ", ".join(probe.sources), info)
        if reach.status == "fail":
            return info, [reach]
        # the session's own options: what it applied for this host (flags, settings file)
        tls = _tls_check(probe, session.base, session.options)
        return info, [reach, tls, _credentials(session, probe, session.options, info)]
    finally:
        session.close()


def _credentials(
    session: Any, probe: RegistryProbe, options: RegistryOptions, info: dict[str, Any]
) -> Check:
    """An authenticated `GET tags/list` on the pull scope, with a pull's credentials."""
    from floe.errors import FloeError
    from floe.oci.auth import pull_scope

    ref, label = probe.ref, probe.label
    try:
        source, user = _credential_source(ref.host, options)
        info["credentials"] = source
        if user:
            info["username"] = user
        resp = session.request(
            "GET", f"/v2/{ref.repository}/tags/list", scopes=(pull_scope(ref.repository),)
        )
    except FloeError as exc:
        return failed("registry", "credentials", exc)
    status = resp.status_code
    resp.close()
    info["pull_status"] = status
    who = source if user is None else f"{user} from {source}"
    if status == 200:
        message = f"{label}: pull allowed ({who}): GET tags/list answered 200"
        return Check("registry", "credentials", "ok", message)
    if status == 404:
        return Check(
            "registry",
            "credentials",
            "fail" if probe.needed else "warn",
            f"{label}: the repository does not exist yet ({who}: tags/list answered 404)",
            "publish to it first, or check the repository name",
        )
    message = f"{label}: GET tags/list answered HTTP {status} ({who})"
    return Check("registry", "credentials", "fail", message)


def _reach(session: Any, label: str, where: str, info: dict[str, Any]) -> Check:
    """`GET /v2/` without asking for a scope; a 401 answer is reachable."""
    from floe.errors import FloeError

    url = info["url"]
    try:
        resp = session.request("GET", "/v2/")
    except FloeError as exc:
        if exc.slug == "registry_auth_failed":  # an HTTP answer: credentials come next
            info["reachable"] = True
            return Check(
                "registry",
                "reach",
                "ok",
                f"{label} ({where}): {url} answered and asks for authentication",
            )
        info["reachable"] = False
        check = failed("registry", "reach", exc)
        return replace(check, message=f"{label} ({where}): {exc.message}")
    info["reachable"] = True
    info["http_status"] = resp.status_code
    info["api_version"] = resp.headers.get("Docker-Distribution-API-Version")
    resp.close()
    if resp.status_code != 200:
        return Check(
            "registry",
            "reach",
            "fail",
            f"{label} ({where}): {url} answered HTTP {resp.status_code}, not a registry API",
            "check the host and port; a registry answers GET /v2/ with 200 or 401",
        )
    api = info["api_version"] or "no API version header"
    return Check("registry", "reach", "ok", f"{label} ({where}): {url} answered 200 ({api})")
