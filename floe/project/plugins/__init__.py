"""Plugins are code the environment really has: each slot maps to installed packages.

A platform names a plugin per slot (`compute: duckdb`, `orchestrator: dagster`,
`catalog: polaris`). floe acts on a plugin only through real code:

- compute plugins are dbt adapters (`duckdb` -> dbt-duckdb, `postgres` -> dbt-postgres);
  floe writes their profile, and for a server warehouse applies and verifies grants;
- orchestrator plugins are Python packages (`dagster` -> dagster + dagster-dbt);
- a slot floe does not act on (the catalog today) is recorded metadata, never "resolved".

"Resolving" reads the installed version from the environment (importlib.metadata, no
import of the package) and checks it against the version range the platform requires
(a PEP 440 specifier in the tree's `plugin_details[slot].version`; empty = any).
No line of output names a version that nothing resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from floe.errors import UsageError
from floe.tree.model import PlatformTree
from floe.tree.plugins import KNOWN

Status = Literal["installed", "not_installed", "recorded"]


@dataclass(frozen=True)
class ResolvedPlugin:
    slot: str
    type: str
    status: Status
    required: str  # the platform's version range for the first package ("" = any)
    versions: tuple[tuple[str, str], ...] = ()  # (package, installed version)
    missing: tuple[str, ...] = ()

    @property
    def pip_line(self) -> str:
        """The install command: the platform's range when it has one, else floe's extra."""
        spec = KNOWN.get((self.slot, self.type))
        if not self.required and spec is not None and spec.extra:
            return f"pip install 'floe[{spec.extra}]'"
        return "pip install " + " ".join(f"'{name}{self.required}'" for name in self.missing)

    def describe(self) -> str:
        if self.status == "recorded":
            return f"{self.slot}: {self.type} (recorded metadata; floe does not act on it)"
        if self.status == "not_installed":
            return f"{self.slot}: {self.type} needs {', '.join(self.missing)} (not installed)"
        found = ", ".join(f"{name} {version}" for name, version in self.versions)
        wanted = f", platform requires {self.required}" if self.required else ""
        return f"{self.slot}: {self.type} ({found}{wanted})"


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def resolve(slot: str, plugin_type: str, required: str = "") -> ResolvedPlugin:
    """What the environment has for one plugin; never raises for a missing package."""
    spec = KNOWN.get((slot, plugin_type))
    if spec is None or not spec.packages:
        return ResolvedPlugin(slot, plugin_type, "recorded", required)
    found = tuple((p, v) for p in spec.packages if (v := installed_version(p)) is not None)
    missing = tuple(p for p in spec.packages if p not in dict(found))
    status: Status = "not_installed" if missing else "installed"
    return ResolvedPlugin(slot, plugin_type, status, required, found, missing)


def platform_plugins(tree: PlatformTree) -> list[ResolvedPlugin]:
    """Every plugin slot of the platform, resolved against this environment."""
    out: list[ResolvedPlugin] = []
    for slot, plugin_type in sorted(tree.manifest.plugins.items()):
        detail = tree.manifest.plugin_details.get(slot)
        out.append(resolve(slot, plugin_type, _range(detail.version if detail else "")))
    return out


def _range(label: str) -> str:
    """A PEP 440 range from the tree; a bare version label of an older floe means any."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return str(SpecifierSet(label)) if label else ""
    except InvalidSpecifier:
        return ""


def check_compute(tree: PlatformTree) -> ResolvedPlugin:
    """The compute adapter must be installed and inside the platform's range."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    compute = next((p for p in platform_plugins(tree) if p.slot == "compute"), None)
    if compute is None or compute.status == "recorded":
        return compute or ResolvedPlugin("compute", "none", "recorded", "")
    if compute.status == "not_installed":
        raise UsageError(
            "plugin_not_installed",
            f"the platform's compute plugin {compute.type} needs "
            f"{', '.join(compute.missing)}, which is not installed",
            hint=compute.pip_line,
        )
    package, version = compute.versions[0]
    try:
        inside = not compute.required or Version(version) in SpecifierSet(compute.required)
    except InvalidVersion:
        inside = False
    if not inside:
        raise UsageError(
            "plugin_version_unsupported",
            f"{package} {version} is installed; the platform requires {package}{compute.required}",
            hint=f"pip install '{package}{compute.required}'",
        )
    return compute


def resolve_for_compile(tree: PlatformTree, *, need_adapter: bool) -> list[ResolvedPlugin]:
    """Every plugin, resolved; the compute adapter checked against the platform's range.

    An installed adapter outside the range is always `plugin_version_unsupported`; a
    missing one is `plugin_not_installed` only where dbt must run (floe run, --parse):
    files-mode compile (a pre-commit hook) needs no dbt.
    """
    resolved = platform_plugins(tree)
    compute = next((p for p in resolved if p.slot == "compute"), None)
    if compute is not None and (compute.status == "installed" or need_adapter):
        check_compute(tree)
    return resolved


def plugin_json(plugin: ResolvedPlugin) -> dict[str, object]:
    return {
        "slot": plugin.slot,
        "type": plugin.type,
        "status": plugin.status,
        "required": plugin.required,
        "installed": dict(plugin.versions),
    }
