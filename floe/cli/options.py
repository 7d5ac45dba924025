"""Flags shared by the commands that move artifacts: registry connection, download trust,
--quiet. Each decorator hands the command one typed value."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from floe.cli.registry_flags import copy_flags, registry_flags

if TYPE_CHECKING:
    from floe.artifact.verify import DownloadTrust

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["copy_flags", "quiet_option", "registry_flags", "trust_flags"]


def _stack(func: Any, options: tuple[Callable[[Any], Any], ...]) -> Any:
    for option in options:
        func = option(func)
    return func


def download_trust(
    keys: tuple[Path, ...], identities: tuple[str, ...], require: bool | None
) -> DownloadTrust:
    from floe.artifact.verify import DownloadTrust
    from floe.signing.policy import parse_identity

    parsed = tuple(parse_identity(text) for text in identities)
    return DownloadTrust(keys, parsed, require)


def trust_flags(func: F) -> F:
    """`--key PUB` (repeatable), `--identity ISSUER=SUBJECT`, `--require-signed/--no-...`,
    handed to the command as `trust` (a DownloadTrust; the command adds `offline`)."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        trusted_keys: tuple[Path, ...],
        identities: tuple[str, ...],
        require_signed: bool | None,
        **kwargs: Any,
    ) -> Any:
        kwargs["trust"] = download_trust(trusted_keys, identities, require_signed)
        return func(*args, **kwargs)

    return _stack(  # type: ignore[no-any-return]
        wrapper,
        (
            click.option(
                "--require-signed/--no-require-signed",
                default=None,
                help="Refuse (or accept, with a warning) an artifact with no signature. "
                "Default: required with --key/--identity, else the artifact's own policy.",
            ),
            click.option(
                "--identity",
                "identities",
                multiple=True,
                metavar="ISSUER=SUBJECT",
                help="A trusted keyless signer; repeat for several.",
            ),
            click.option(
                "--key",
                "trusted_keys",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A trusted public key (cosign.pub); repeat for several.",
            ),
        ),
    )


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="Print only the result.")(func)
