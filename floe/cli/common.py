"""Shared CLI plumbing: the --format option, output helpers, error rendering.

CLI modules import only click and light floe modules at top level; anything heavy
(pydantic models, yaml, requests, rich tables, sigstore, dbt) is imported inside
the command body so `floe --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from floe.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])

# Set by the --format option callback so main() renders errors the same way.
_STATE: dict[str, str] = {"format": "text"}


def output_format() -> str:
    return _STATE["format"]


def _remember_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    _STATE["format"] = value
    return value


def format_option(*choices: str) -> Callable[[F], F]:
    """`--format text|json[|...]`; json output is one JSON document on stdout."""
    allowed = choices or ("text", "json")
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(allowed)),
        default="text",
        show_default=True,
        callback=_remember_format,
        is_eager=True,
        help="Output format.",
    )


def dir_option(help_text: str) -> Callable[[F], F]:
    """`--dir PROJECT` (default: here), the dbt project a data-team command works on."""
    return click.option(
        "--dir",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help=help_text,
    )


def signer_options(when: str = "") -> Callable[[F], F]:
    """`--key cosign.key`, `--keyless`, `--identity-token` of every command that signs
    (`sign`, `publish`); `when` ends each help text, e.g. " after pushing"."""

    def decorate(func: F) -> F:
        for option in (
            click.option(
                "--identity-token",
                envvar="SIGSTORE_IDENTITY_TOKEN",
                help="OIDC token for --keyless (default: ambient CI credentials, else the "
                "browser).",
            ),
            click.option("--keyless", is_flag=True, help=f"Sign keyless (Fulcio/Rekor){when}."),
            click.option(
                "--key",
                "key_path",
                type=click.Path(dir_okay=False, path_type=Path),
                help=f"Sign with this cosign.key{when} (password: FLOE_SIGNING_PASSWORD or "
                "a prompt).",
            ),
        ):
            func = option(func)
        return func

    return decorate


def signing_identity_option(func: F) -> F:
    """`--signing-identity HOST/REPO` of every command that signs (`sign`, `publish`)."""
    return click.option(
        "--signing-identity",
        metavar="HOST/REPO",
        help="The registry name the signatures name (cosign's docker-reference; default: "
        "the registry's; for an OCI layout localhost/<folder>, never a path).",
    )(func)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def step(text: str, quiet: bool = False) -> None:
    """A progress line like `  ✓ Schema validation passed` (text mode only)."""
    if not quiet and output_format() == "text":
        click.echo(text)


def render_error(exc: Any) -> None:
    """Print a FloeError: one line on stderr, or {"event": slug, ...} on stdout for json."""
    if output_format() == "json":
        emit_json(exc.to_json())
    else:
        click.echo(exc.one_line(), err=True)


def os_error(exc: OSError) -> UsageError:
    """An OSError no module turned into its own slug, as one line naming the file."""
    where = f"{exc.filename}: " if exc.filename else ""
    return UsageError(
        "io_error",
        f"{where}{exc.strerror or exc}",
        hint="check that the path exists, is the right kind (file or folder) and is accessible",
    )


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(2)
