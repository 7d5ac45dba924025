"""How `floe compile`, `floe run`, `floe init` and project `pull` show a result as text
(the command bodies stay thin)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common

if TYPE_CHECKING:
    from floe.project.lifecycle import Outcome


def _console() -> Any:
    import sys

    from rich.console import Console

    # Findings tables stay readable in CI logs, where stdout is no terminal.
    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 120)


def _source_line(read_from: dict[str, Any]) -> str:
    kind = read_from.get("kind")
    if kind == "manifest":
        import time

        age = max(0, int(time.time() - float(read_from.get("mtime") or 0)))
        return f"  ✓ Read: manifest {read_from.get('path')} ({read_from.get('digest')}, {age}s old)"
    if kind == "dbt-parse":
        return (
            f"  ✓ Read: dbt parse (dbt {read_from.get('dbt_version')}, manifest "
            f"{read_from.get('digest')})"
        )
    return "  ✓ Read: files (dbt_project.yml, models, schema YAML; configs as written)"


def render_text(outcome: Any, root: Path) -> None:
    from floe.project import report
    from floe.project.compile import _relative

    loaded = outcome.platform
    click.echo("[1/4] Loading platform artifacts")
    click.echo(f"  ✓ Platform: {loaded.tree.manifest.metadata.name} {loaded.version}")
    click.echo(f"  ✓ Cached at: {_relative(loaded.tree_dir, root)}/")
    for plugin in outcome.plugins:
        click.echo(f"  {'✓' if plugin.status == 'installed' else '-'} Plugin {plugin.describe()}")
    if outcome.compiled.get("orchestrator"):
        click.echo(f"  ✓ Dagster code location: {outcome.compiled['orchestrator']['dagster']}")
    click.echo(_source_line(outcome.project.read_from or {"kind": outcome.project.origin}))
    click.echo("[2/4] Validating against platform")
    result = outcome.result
    for check in result.checks:
        click.echo(report.check_line(check))
    if result.findings:
        report.print_findings(_console(), result.findings)
    gates = loaded.tree.quality_gates
    click.echo(_coverage_line(result, gates.minimum_test_coverage, gates.block_on_failure))
    click.echo("[3/4] Generating dbt profile")
    if outcome.profile is None:
        click.echo("  - skipped: profiles.yml is written only when validation passes")
    else:
        shown = _relative(outcome.profile_path, root)
        click.echo(f"  ✓ {shown} (target: {outcome.profile.compute})")
        for note in outcome.profile.notes:
            click.echo(f"  ! {note}")


def _coverage_line(result: Any, minimum: float, blocking: bool = True) -> str:
    from floe.project.compile import coverage_line

    return str(coverage_line(result, minimum, blocking))


def render_warehouse(warehouse: Any) -> None:
    click.echo(f"Warehouse: {len(warehouse.applied)} grant statements applied")
    for finding in warehouse.findings:
        click.echo(f"  error[{finding.rule}] {finding.relation}: {finding.message}")
    if not warehouse.ok:
        n = len(warehouse.findings)
        click.echo(f"Warehouse drift: {n} finding{'s' if n != 1 else ''}", err=True)
        raise click.exceptions.Exit(1)
    click.echo("Warehouse verified: grants, schemas, classified columns and column types")


def print_outcome(outcome: Outcome, event: str, fmt: str) -> None:
    """The summary after init or pull (the transcript's format), or one JSON document."""
    manifest = outcome.tree.manifest
    chain = manifest.inheritance.parents if manifest.inheritance is not None else []
    if fmt == "json":
        extends = [parent.model_dump(mode="json") for parent in chain]
        common.emit_json({"event": event, **outcome.to_json(), "extends": extends})
        return
    naming = outcome.tree.naming_rules
    click.echo("")
    click.echo(f"Platform: {manifest.metadata.name} v{manifest.metadata.version}")
    for parent in chain:
        click.echo(
            f"Extends: {parent.name} v{parent.version} ({parent.ref}, {parent.manifest_digest})"
        )
    for slot in ("compute", "orchestrator", "catalog"):
        if slot in manifest.plugins:
            click.echo(f"{slot.capitalize()}: {manifest.plugins[slot]}")
    click.echo(f"Pattern: {naming.pattern} ({naming.enforcement} enforcement)")
    click.echo("")
    if outcome.created:
        click.echo(f"Created: {' '.join(outcome.created)}")
    if outcome.updated:
        click.echo(f"Updated: {' '.join(outcome.updated)}")
    if not outcome.created and not outcome.updated:
        if outcome.lock_written:
            click.echo("Updated: .floe/cache/artifacts.lock")
        else:
            click.echo(f"Up to date: floe.yaml .floe/platform/{outcome.locked.version}/")
