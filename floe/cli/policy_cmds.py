"""Commands of this area (see floe/cli/main.py for how they are registered)."""

from __future__ import annotations

import click


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the root group and the `platform` group."""
