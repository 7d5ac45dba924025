"""The `floe` command: a thin click tree; each area registers its own commands."""

from __future__ import annotations

import sys

import click

from floe import __version__
from floe.cli import common
from floe.errors import FloeError, UsageError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="floe")
@click.option(
    "--debug", is_flag=True, help="Trace every registry HTTP request on stderr (no credentials)."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """floe: ship a data platform's rules as signed OCI artifacts and enforce them."""
    ctx.meta["floe.debug"] = debug


@cli.group()
def platform() -> None:
    """Platform team: compile, test, publish, sign and inspect platform artifacts."""


@cli.command()
def version() -> None:
    """Print the floe version."""
    click.echo(f"floe {__version__}")


def _register() -> None:
    # Each area owns one module with a register(cli, platform) function.
    from floe.cli import (
        auth_cmds,
        diff_cmds,
        lifecycle_cmds,
        platform_cmds,
        policy_cmds,
        project_cmds,
        rules_cmds,
        signing_cmds,
        transport_cmds,
        util_cmds,
    )

    areas = (platform_cmds, policy_cmds, transport_cmds, auth_cmds, signing_cmds)
    for module in (*areas, diff_cmds, lifecycle_cmds, project_cmds, util_cmds, rules_cmds):
        module.register(cli, platform)


_register()


def run(args: list[str]) -> int:
    """Run the CLI and return its exit code; foreseeable errors become one line."""
    try:
        # Without standalone mode click *returns* the code of a click.exceptions.Exit.
        code = cli.main(args, prog_name="floe", standalone_mode=False)
    except FloeError as exc:
        common.render_error(exc)
        return exc.exit_code
    except OSError as exc:
        # The last line of defence: a file or folder that is not what a module expected.
        error = common.os_error(exc)
        common.render_error(error)
        return error.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if common.output_format() == "json":  # a bad flag or argument, as JSON too
            common.render_error(UsageError("usage_invalid", exc.format_message()))
        else:
            exc.show()
        return 2
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except RecursionError:
        return _internal(UsageError("input_too_deep", "input nested too deeply to process"))
    except Exception as exc:  # the last net: never a traceback for the user
        return _internal(exc)
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _internal(exc: BaseException) -> int:
    """An unexpected failure: one line with `internal_error` (traceback with FLOE_DEBUG=1)."""
    import os
    import traceback

    if isinstance(exc, FloeError):
        common.render_error(exc)
        return exc.exit_code
    if os.environ.get("FLOE_DEBUG"):
        traceback.print_exception(exc)
    error = UsageError(
        "internal_error",
        f"floe failed unexpectedly ({type(exc).__name__})",
        hint="this is a bug in floe: re-run with FLOE_DEBUG=1 and report the trace",
        exit_code=1,
    )
    common.render_error(error)
    return error.exit_code


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
