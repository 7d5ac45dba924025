"""Data team: `floe compile` (enforce the platform's rules) and `floe run` (gate, then dbt)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common, report_options
from floe.cli.options import registry_flags
from floe.cli.project_render import render_text, render_warehouse

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions

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


MANIFEST_OPTION = click.option(
    "--manifest",
    "manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read this dbt manifest.json instead of the project files.",
)


PLATFORM_OPTION = click.option(
    "--platform",
    "candidate",
    metavar="VERSION",
    default=None,
    help="Preview a platform version or constraint from floe.yaml's repository: verified "
    "and cached, never locked; shows the findings it adds and removes.",
)


PARSE_OPTION = click.option(
    "--parse",
    is_flag=True,
    help="Run dbt's parse first (dbt installed) and check what dbt resolved.",
)


def _compile(
    project_dir: Path,
    out: Path | None,
    profiles_dir: Path | None,
    fmt: str,
    **kwargs: Any,
) -> Any:
    """compile_project; on an early error a non-text format still prints its document."""
    from floe.errors import FloeError
    from floe.project import report
    from floe.project.compile import DEFAULT_OUT, compile_project

    root = project_dir.resolve()
    try:
        outcome = compile_project(
            root,
            (out.resolve() if out else root / DEFAULT_OUT),
            profiles_dir.resolve() if profiles_dir else None,
            **kwargs,
        )
    except FloeError as exc:
        # json: the CLI's error event is the document (`{"event": slug, ...}`).
        if fmt == "junit":
            click.echo(report.error_junit(exc), nl=False)
        elif fmt == "sarif":
            click.echo(report.dumps_json(report.error_sarif(exc)), nl=False)
        raise
    if fmt == "text":
        render_text(outcome, root)
    return outcome


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
@MANIFEST_OPTION
@PARSE_OPTION
@report_options.BASELINE_OPTION
@report_options.COMPACT_OPTION
@PLATFORM_OPTION
@registry_flags
def compile_cmd(
    project_dir: Path,
    fmt: str,
    out: Path | None,
    profiles_dir: Path | None,
    manifest: Path | None,
    parse: bool,
    baseline: Path | None,
    compact: bool,
    candidate: str | None,
    options: RegistryOptions,
) -> None:
    """Check the dbt project against the platform's rules and write profiles.yml.

    Exit 1 when a blocking rule fails (profiles.yml is then not written); the report
    files (compiled.json, findings.json, junit.xml, findings.sarif) are always written.
    With --platform VERSION: an upgrade preview (exit 1 when VERSION would block).
    """
    from floe.errors import UsageError

    if manifest is not None and parse:
        raise UsageError("usage_invalid", "--manifest and --parse are alternatives; give one")
    if candidate is not None:
        from floe.cli.preview_render import run_preview

        unused = {"--out": out, "--profiles-dir": profiles_dir, "--baseline": baseline,
                  "--compact": compact}  # fmt: skip
        run_preview(project_dir, candidate, fmt, manifest, parse, options, unused)
        return
    known = report_options.load(baseline)
    shown = "compact" if fmt == "text" and compact else fmt
    outcome = _compile(
        project_dir, out, profiles_dir, shown, manifest=manifest, parse=parse, baseline=known
    )
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
    """Let dbt parse, enforce the rules on that parse, then `dbt build` exactly it.

    Extra dbt arguments go after `--` (vars and target shape the parse too). dbt builds
    only when the gate passed; its exit code becomes floe's and <out>/run.json records
    the digest of the manifest that was checked and of the one that was built.
    """
    from floe.project import report
    from floe.project.compile import platform_record
    from floe.project.run import RUN_FILE, build_parsed, require_dbt, run_record, target_path

    require_dbt()
    root = project_dir.resolve()
    outcome = _compile(project_dir, out, profiles_dir, "text", parse=True, dbt_args=dbt_args)
    _verdict(outcome)
    record_path = outcome.out_dir / RUN_FILE
    if outcome.blocked:
        record_path.unlink(missing_ok=True)
        click.echo("dbt was not started: fix the blocking findings first", err=True)
        raise click.exceptions.Exit(1)
    profiles = outcome.profile_path.parent
    from floe.project.plugins.warehouse import after_build, before_build

    before_build(outcome.platform.tree)  # roles first: dbt's own `grants:` name them
    click.echo(f"Running dbt build (target: floe, profiles: {_shown(profiles)})")
    dbt, built = build_parsed(root, profiles, dbt_args, outcome.parsed)
    digests = (outcome.parsed.digest, built)
    record = run_record(
        platform_record(outcome.platform, root), outcome.project.name, dbt, str(profiles), digests
    )
    warehouse = after_build(outcome.platform.tree, target_path(root)) if not dbt.exit_code else None
    if warehouse is not None:
        record["warehouse"] = warehouse.to_json()
    report.write_text(record_path, report.dumps_json(record))
    status = "succeeded" if dbt.exit_code == 0 else f"failed (exit {dbt.exit_code})"
    click.echo(f"dbt build {status}; run recorded in {_shown(record_path)}")
    if dbt.exit_code:
        raise click.exceptions.Exit(dbt.exit_code)
    if warehouse is not None:
        render_warehouse(warehouse)


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach `compile` and `run` to the root group."""
    cli.add_command(compile_cmd)
    cli.add_command(run_cmd)
