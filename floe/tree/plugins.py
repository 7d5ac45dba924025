"""Which code implements each plugin a platform may name (data, no imports of it).

Both sides read this table: `floe platform compile` checks a manifest's plugins against
it and records the version range the platform requires; `floe compile` / `floe run`
resolve the installed packages (floe.project.plugins). A plugin with no packages is
recorded metadata: floe does not act on it, and says so.
"""

from __future__ import annotations

from typing import NamedTuple


class PluginSpec(NamedTuple):
    slot: str
    type: str
    packages: tuple[str, ...]  # PyPI distributions that implement it; () = metadata only
    extra: str | None  # the floe extra that installs them
    role: str  # what floe does with it, for the compile transcript


KNOWN: dict[tuple[str, str], PluginSpec] = {
    ("compute", "duckdb"): PluginSpec(
        "compute", "duckdb", ("dbt-duckdb",), "dbt", "dbt adapter; floe writes its profile"
    ),
    ("compute", "postgres"): PluginSpec(
        "compute",
        "postgres",
        ("dbt-postgres",),
        "postgres",
        "dbt adapter; floe writes its profile, applies and verifies grants",
    ),
    ("orchestrator", "dagster"): PluginSpec(
        "orchestrator",
        "dagster",
        ("dagster", "dagster-dbt"),
        "dagster",
        "floe writes a Dagster code location",
    ),
    ("catalog", "polaris"): PluginSpec(
        "catalog", "polaris", (), None, "recorded metadata; floe does not act on it"
    ),
}


def known_types(slot: str) -> list[str]:
    return sorted(kind for (s, kind) in KNOWN if s == slot)


def describe(slot: str, plugin_type: str, required: str) -> str:
    """One transcript line: what the plugin is and the range the platform requires."""
    spec = KNOWN.get((slot, plugin_type))
    if spec is None or not spec.packages:
        return f"{slot}: {plugin_type} (recorded metadata; floe does not act on it)"
    wanted = required or "any version"
    return f"{slot}: {plugin_type} -> {', '.join(spec.packages)} {wanted} ({spec.role})"
