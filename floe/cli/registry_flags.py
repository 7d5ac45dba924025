"""Registry flags: the connection, credential and `--debug` flags every remote command
takes (`registry_flags`), and `copy`'s per-end `--from-*` / `--to-*` (`copy_flags`)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _stack(func: Any, options: tuple[Callable[[Any], Any], ...]) -> Any:
    for option in options:
        func = option(func)
    return func


class _Once:
    """A stderr line printer that prints each distinct message once per command."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()  # parallel blob transfers warn from several threads

    def __call__(self, message: str) -> None:
        with self.lock:
            new = message not in self.seen
            self.seen.add(message)
        if new:
            click.echo(message, err=True)


def read_secret(password: str | None, password_stdin: bool) -> str | None:
    """`-p` (warned: visible in `ps`) or `--password-stdin` (one line), never both."""
    import sys

    from floe.errors import UsageError

    if password_stdin:
        if password is not None:
            raise UsageError(
                "login_password_conflict", "--password and --password-stdin are exclusive"
            )
        return sys.stdin.readline().rstrip("\r\n")
    if password is not None:
        warning = "other users can read it in `ps`. Use --password-stdin."
        click.echo(f"WARNING! Using --password via the CLI is insecure: {warning}", err=True)
    return password


def _check_pair(username: str | None, password: str | None, prefix: str) -> None:
    if (username is None) != (password is None):
        from floe.errors import UsageError

        raise UsageError(
            "registry_credentials_incomplete",
            f"--{prefix}username and a password (--{prefix}password[-stdin]) go together",
            hint="pass both, or neither to use floe login / the docker config",
        )


def registry_options(
    *,
    plain_http: bool,
    insecure: bool,
    ca_file: Path | None,
    timeout: float,
    username: str | None = None,
    password: str | None = None,
    registry_config: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """The command's RegistryOptions from its flags (warnings and --debug wired in)."""
    from floe.oci.options import RegistryOptions

    _check_pair(username, password, "")
    return RegistryOptions(
        plain_http=True if plain_http else None,
        insecure=insecure,
        ca_file=ca_file,
        timeout=timeout,
        username=username,
        password=password,
        docker_config=registry_config,
        **cli_hooks(warn),
    )


def cli_hooks(warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """RegistryOptions' `warn` (each line once per command) and `trace` (`--debug`)."""
    ctx = click.get_current_context(silent=True)  # `floe --debug` sets it on the root
    debug = ctx is not None and ctx.meta.get("floe.debug")
    trace = functools.partial(click.echo, err=True) if debug else None
    return {"warn": warn or _Once(), "trace": trace}


def connection_flags(prefix: str = "", what: str = "the registry") -> tuple[Any, ...]:
    """`--[PREFIX]ca-file/--[PREFIX]insecure/--[PREFIX]plain-http`."""
    name = prefix.replace("-", "_")
    return (
        click.option(
            f"--{prefix}ca-file",
            f"{name}ca_file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help=f"CA bundle to verify {what}'s TLS certificate.",
        ),
        click.option(
            f"--{prefix}insecure",
            f"{name}insecure",
            is_flag=True,
            help=f"Skip TLS certificate verification of {what} (warned).",
        ),
        click.option(
            f"--{prefix}plain-http",
            f"{name}plain_http",
            is_flag=True,
            help=f"Use HTTP, not HTTPS, for {what} (automatic for loopback).",
        ),
    )


def credential_flags(prefix: str = "", what: str = "the registry") -> tuple[Any, ...]:
    """`-u/--[PREFIX]username`, `-p/--[PREFIX]password`, `--[PREFIX]password-stdin`."""
    name = prefix.replace("-", "_")
    short_u, short_p = ("-u",) if not prefix else (), ("-p",) if not prefix else ()
    return (
        click.option(
            *short_u, f"--{prefix}username", f"{name}username", help=f"User name for {what}."
        ),
        click.option(
            *short_p,
            f"--{prefix}password",
            f"{name}password",
            help=f"Password or token for {what} (visible in ps: prefer --{prefix}password-stdin).",
        ),
        click.option(
            f"--{prefix}password-stdin",
            f"{name}password_stdin",
            is_flag=True,
            help=f"Read the password for {what} from stdin.",
        ),
    )


REGISTRY_CONFIG_OPTION = click.option(
    "--registry-config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The docker config.json to read credentials from (default: $DOCKER_CONFIG/config.json).",
)


_FLAG_NAMES = ("plain_http", "insecure", "ca_file", "timeout", "username", "password",
               "password_stdin", "registry_config")  # fmt: skip


def registry_flags(func: F) -> F:
    """`--plain-http/--insecure/--ca-file/--timeout/-u/-p/--password-stdin/--registry-config`,
    handed to the command as `options` (a RegistryOptions)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in _FLAG_NAMES}
        password = read_secret(flags.pop("password"), flags.pop("password_stdin"))
        kwargs["options"] = registry_options(password=password, **flags)
        return func(*args, **kwargs)

    return _stack(  # type: ignore[no-any-return]
        wrapper,
        (
            REGISTRY_CONFIG_OPTION,
            *credential_flags(),
            TIMEOUT_OPTION,
            *connection_flags(),
        ),
    )


TIMEOUT_OPTION = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=86400),
    default=20.0,  # floe.oci.options' default; repeated so --help imports no oci
    show_default=True,
    metavar="SECONDS",
    help="Deadline for all of the command's network work (retries included).",
)


def _end(base: Any, flags: dict[str, Any], prefix: str) -> Any:
    """`base` with one end's `--from-*` / `--to-*` flags over the shared ones."""
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if flags[f"{prefix}ca_file"] is not None:
        changes["ca_file"] = flags[f"{prefix}ca_file"]
    if flags[f"{prefix}insecure"]:
        changes["insecure"] = True
    if flags[f"{prefix}plain_http"]:
        changes["plain_http"] = True
    if flags[f"{prefix}registry_config"] is not None:
        changes["docker_config"] = flags[f"{prefix}registry_config"]
    password = read_secret(flags[f"{prefix}password"], flags[f"{prefix}password_stdin"])
    username = flags[f"{prefix}username"]
    _check_pair(username, password, prefix.replace("_", "-"))
    if username is not None:
        changes.update(username=username, password=password)
    return replace(base, **changes) if changes else base


def copy_flags(func: F) -> F:
    """`registry_flags` plus ORAS's `--from-*` / `--to-*` per end: the command gets
    `options` (the source) and `dst_options` (the destination); the shared flags are
    the default of both ends, one end's own flags win for that end."""

    ends = ("from_", "to_")
    names = ("ca_file", "insecure", "plain_http", "username", "password", "password_stdin",
             "registry_config")  # fmt: skip

    @functools.wraps(func)
    def wrapper(*args: Any, options: Any, **kwargs: Any) -> Any:
        flags = {f"{end}{name}": kwargs.pop(f"{end}{name}") for end in ends for name in names}
        shared = bool(click.get_current_context().params.get("password_stdin"))
        if shared + flags["from_password_stdin"] + flags["to_password_stdin"] > 1:
            from floe.errors import UsageError

            raise UsageError(
                "login_password_conflict",
                "stdin holds one password: give one of --password-stdin, "
                "--from-password-stdin, --to-password-stdin",
            )
        kwargs["options"] = _end(options, flags, "from_")
        kwargs["dst_options"] = _end(options, flags, "to_")
        return func(*args, **kwargs)

    decorators: list[Callable[[Any], Any]] = []
    for end, what in (("from-", "the source registry"), ("to-", "the destination registry")):
        decorators += [*connection_flags(end, what), *credential_flags(end, what)]
        decorators.append(
            click.option(
                f"--{end}registry-config",
                f"{end.replace('-', '_')}registry_config",
                type=click.Path(dir_okay=False, path_type=Path),
                help=f"The docker config.json with the credentials of {what}.",
            )
        )
    return registry_flags(_stack(wrapper, tuple(decorators)))  # type: ignore[no-any-return]
