"""`floe login` / `floe logout`: registry credentials in the docker config (like ORAS)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from floe.cli import common
from floe.cli.registry_flags import REGISTRY_CONFIG_OPTION, cli_hooks
from floe.errors import UsageError


def _host(value: str) -> str:
    """Accept `HOST[:PORT]`, `oci://HOST` or `https://HOST/...`; return `HOST[:PORT]`."""
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip()).split("/", 1)[0]
    if not host:
        raise UsageError("reference_invalid", f"{value!r} is not a registry host")
    return host


def _read_password(password: str | None, password_stdin: bool) -> str:
    from floe.cli.registry_flags import read_secret

    secret = read_secret(password, password_stdin)
    return secret if secret is not None else _prompt("Password", hide_input=True)


def _prompt(label: str, *, hide_input: bool = False) -> str:
    """Ask on the terminal; without one, say what to pass instead of a bare `Aborted.`."""
    if not sys.stdin.isatty():
        raise UsageError(
            "login_input_missing",
            f"{label.lower()} needed and stdin is not a terminal",
            hint="pass -u USER and the password with --password-stdin",
        )
    return str(click.prompt(label, hide_input=hide_input))


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach `login` and `logout` to the root group."""

    @cli.command()
    @click.argument("host")
    @click.option("-u", "--username", help="Registry user name (prompted when omitted).")
    @click.option("-p", "--password", help="Password or token (prefer --password-stdin).")
    @click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
    @click.option("--ca-file", type=click.Path(dir_okay=False, path_type=Path), help="CA bundle.")
    @click.option("--insecure", is_flag=True, help="Skip TLS certificate verification.")
    @click.option("--plain-http", is_flag=True, default=None, help="Use HTTP, not HTTPS.")
    @REGISTRY_CONFIG_OPTION
    @common.format_option()
    def login(
        host: str,
        username: str | None,
        password: str | None,
        password_stdin: bool,
        ca_file: Path | None,
        insecure: bool,
        plain_http: bool | None,
        registry_config: Path | None,
        fmt: str,
    ) -> None:
        """Verify credentials for HOST and store them in the docker config."""
        from floe.artifact.login import login as store_login
        from floe.oci.options import RegistryOptions

        registry = _host(host)
        user = username or _prompt("Username")
        secret = _read_password(password, password_stdin)
        if not secret:
            raise UsageError("login_password_empty", "the password is empty")
        options = RegistryOptions(
            plain_http=plain_http,
            insecure=insecure,
            ca_file=ca_file,
            docker_config=registry_config,
            **cli_hooks(),
        )
        path = store_login(registry, user, secret, options)
        if fmt == "json":
            common.emit_json({"event": "login", "host": registry, "config": str(path)})
        else:
            click.echo(f"Login Succeeded ({registry}, saved in {path})")

    @cli.command()
    @click.argument("host")
    @REGISTRY_CONFIG_OPTION
    @common.format_option()
    def logout(host: str, registry_config: Path | None, fmt: str) -> None:
        """Remove stored credentials for HOST from the docker config."""
        from floe.artifact.login import logout as erase_login

        registry = _host(host)
        removed = erase_login(registry, registry_config)
        if fmt == "json":
            common.emit_json({"event": "logout", "host": registry, "removed": removed})
        elif removed:
            click.echo(f"Removing login credentials for {registry}")
        else:
            click.echo(f"Not logged in to {registry}")
