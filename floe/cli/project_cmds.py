"""Data team: `floe compile` (enforce the platform's rules) and `floe run` (gate, then dbt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from floe.cli import common, report_options

FORMATS = ("text", "json", "junit", "sarif", "github")


DIR_OPTION = common.dir_option("The dbt project (with floe.yaml).")


OUT_OPTION = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Report folder [default: <dir>/target/floe].",
)


PROFILES_OPTION = click.option(
    "--profiles-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write profiles.yml [default: the project directory].",
)


def _console() -> Any:
    import sys

    from rich.console import Console

    # Findings tables stay readable in CI logs, where stdout is no terminal.
    return Console(file=sys.stdout, highlight=False, width=None if sys.stdout.isatty() else 120)


def _compile(
    project_dir: Path, out: Path | None, profiles_dir: Path | None, text: bool, baseline: Any = None
) -> Any:
    from floe.project.compile import DEFAULT_OUT, compile_project

    root = project_dir.resolve()
    return compile_project(
        root,
        (out.resolve() if out else root / DEFAULT_OUT),
        profiles_dir.resolve() if profiles_dir else None,
        echo=click.echo if text else None,
        console=_console() if text else None,
        baseline=baseline,
    )


def _print_document(outcome: Any, fmt: str) -> None:
    from floe.project import report

    if fmt == "json":
        click.echo(report.dumps_json(outcome.compiled), nl=False)
    elif fmt == "junit":
        click.echo(report.junit_document(outcome.result), nl=False)
    else:
        click.echo(report.dumps_json(report.sarif_document(outcome.result)), nl=False)


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _verdict(outcome: Any) -> None:
    """The closing line of the text output."""
    if outcome.blocked:
        n = outcome.errors
        click.echo(f"[4/4] Compilation blocked: {n} error{'s' if n != 1 else ''}")
        click.echo(
            f"  Reports: {_shown(outcome.out_dir)}/ (findings.json, junit.xml, findings.sarif)"
        )
    else:
        click.echo("[4/4] Compilation successful")


@click.command("compile")
@DIR_OPTION
@common.format_option(*FORMATS)
@OUT_OPTION
@PROFILES_OPTION
@report_options.BASELINE_OPTION
@report_options.COMPACT_OPTION
def compile_cmd(
    project_dir: Path,
    fmt: str,
    out: Path | None,
    profiles_dir: Path | None,
    baseline: Path | None,
    compact: bool,
) -> None:
    """Check the dbt project against the platform's rules and write profiles.yml.

    Exit 1 when a blocking rule fails (profiles.yml is then not written); the report
    files (compiled.json, findings.json, junit.xml, findings.sarif) are always written.
    """
    known = report_options.load(baseline)
    text = fmt == "text" and not compact
    outcome = _compile(project_dir, out, profiles_dir, text=text, baseline=known)
    if report_options.render(outcome, fmt, compact, known):
        pass
    elif fmt == "text":
        _verdict(outcome)
    else:
        _print_document(outcome, fmt)
    if outcome.blocked:
        raise click.exceptions.Exit(1)


@click.command("run", context_settings={"ignore_unknown_options": True})
@DIR_OPTION
@OUT_OPTION
@PROFILES_OPTION
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def run_cmd(
    project_dir: Path, out: Path | None, profiles_dir: Path | None, dbt_args: tuple[str, ...]
) -> None:
    """Run the compile gate, then `dbt build` with floe's profile (extra args after --).

    dbt starts only when compilation passed; its exit code becomes floe's and the run is
    recorded in <out>/run.json.
    """
    from floe.project import report
    from floe.project.compile import platform_record
    from floe.project.run import RUN_FILE, require_dbt, run_dbt, run_record, target_path

    outcome = _compile(project_dir, out, profiles_dir, text=True)
    _verdict(outcome)
    root = project_dir.resolve()
    record_path = outcome.out_dir / RUN_FILE
    if outcome.blocked:
        record_path.unlink(missing_ok=True)
        click.echo("dbt was not started: fix the blocking findings first", err=True)
        raise click.exceptions.Exit(1)
    require_dbt()
    from floe.project.plugins.warehouse import before_build

    before_build(outcome.platform.tree)
    profiles = outcome.profile_path.parent
    click.echo(f"Running dbt build (target: floe, profiles: {_shown(profiles)})")
    dbt = run_dbt(root, profiles, dbt_args, click.echo)
    record = run_record(
        platform_record(outcome.platform, root), outcome.project.name, dbt, str(profiles)
    )
    warehouse = None
    if dbt.exit_code == 0:
        from floe.project.plugins.warehouse import after_build

        warehouse = after_build(outcome.platform.tree, target_path(root))
    if warehouse is not None:
        record["warehouse"] = warehouse.to_json()
    report.write_text(record_path, report.dumps_json(record))
    status = "succeeded" if dbt.exit_code == 0 else f"failed (exit {dbt.exit_code})"
    click.echo(f"dbt build {status}; run recorded in {_shown(record_path)}")
    if dbt.exit_code:
        raise click.exceptions.Exit(dbt.exit_code)
    if warehouse is not None:
        _render_warehouse(warehouse)


def _render_warehouse(warehouse: Any) -> None:
    click.echo(f"Warehouse: {len(warehouse.applied)} grant statements applied")
    for finding in warehouse.findings:
        click.echo(f"  error[{finding.rule}] {finding.relation}: {finding.message}")
    if not warehouse.ok:
        n = len(warehouse.findings)
        click.echo(f"Warehouse drift: {n} finding{'s' if n != 1 else ''}", err=True)
        raise click.exceptions.Exit(1)
    click.echo("Warehouse verified: grants, schemas, classified columns and column types")


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach `compile` and `run` to the root group."""
    cli.add_command(compile_cmd)
    cli.add_command(run_cmd)
