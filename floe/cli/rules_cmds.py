"""`floe rules list [--platform]` and `floe rules explain ID`: the rule catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from floe.cli import common


@click.group("rules")
def rules() -> None:
    """The rules floe enforces: list them, or explain one."""


@rules.command("list")
@click.option(
    "--platform",
    "with_platform",
    is_flag=True,
    default=False,
    help="Show each rule's severity in the project's cached platform (see --dir).",
)
@common.dir_option("The dbt project whose cached platform --platform reads.")
@common.format_option("text", "json")
def list_cmd(with_platform: bool, project_dir: Path, fmt: str) -> None:
    """Every rule id, its family and summary (and severity with --platform)."""
    from floe.project.report_formats import project_rules

    table = project_rules(project_dir.resolve() if with_platform else None)
    if fmt == "json":
        common.emit_json(
            {
                "event": "rules",
                "platform": table.platform,
                "rules": [row.to_json() for row in table.rows],
            }
        )
        return
    if table.platform:
        click.echo(f"Rules of {table.platform}:")
    width = max(len(row.rule_id) for row in table.rows)
    for row in table.rows:
        level = f"{row.severity:<8} " if row.severity else ""
        click.echo(f"  {level}{row.rule_id:<{width}}  {row.summary}")


@rules.command("explain")
@click.argument("rule_id")
@common.format_option("text", "json")
def explain_cmd(rule_id: str, fmt: str) -> None:
    """What one rule checks, why, how to fix it and where the platform configures it."""
    from floe.rules.rule_table import explain

    row = explain(rule_id)
    if fmt == "json":
        common.emit_json({"event": "rule", **row.to_json()})
        return
    click.echo(f"{row.rule_id} ({row.family})")
    click.echo(f"  What: {row.summary}")
    if row.why:
        click.echo(f"  Why:  {row.why}")
    if row.fix:
        click.echo(f"  Fix:  {row.fix}")
    if row.config:
        click.echo(f"  Set by the platform at: {row.config} (severity error|warn|off)")
    click.echo("  More: docs/rules.md")


def register(cli: click.Group, platform: click.Group) -> None:
    cli.add_command(rules)
