"""Rendering floe.events for a terminal: step lines (text mode, not --quiet), warnings on
stderr, and one rich progress bar for transfers over 1 MB when stderr is a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from floe.cli import common


class CliEvents:
    """floe.events.Events for the CLI; close() ends a progress bar."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._bar: Any = None
        self._task: Any = None
        self._off = False

    def step(self, name: str) -> None:
        self.close()
        common.step(name, self.quiet)

    def info(self, message: str) -> None:
        common.step(message, self.quiet)

    def warn(self, message: str) -> None:
        click.echo(message.strip(), err=True)

    def progress(self, done: int, total: int) -> None:
        if self._off:
            return
        if self._bar is None and not self._start(total):
            return
        self._bar.update(self._task, completed=done)

    def _start(self, total: int) -> bool:
        from floe.oci.progress import wanted

        if not wanted(total, quiet=self.quiet, fmt=common.output_format()):
            self._off = True
            return False
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            console=Console(stderr=True), transient=True,
        )  # fmt: skip
        self._bar.start()
        self._task = self._bar.add_task("Transferring", total=total)
        return True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self._off = False


@contextmanager
def cli_events(quiet: bool = False) -> Iterator[CliEvents]:
    events = CliEvents(quiet)
    try:
        yield events
    finally:
        events.close()


class Rendered:
    """The lifecycle's events as lines: steps and notes on stdout (text only), warnings
    on stderr whatever the format (stdout may be JSON)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def step(self, name: str) -> None:
        common.step(f"  ✓ {name}", self.quiet)

    def info(self, msg: str) -> None:
        common.step(msg, self.quiet)

    def warn(self, msg: str) -> None:
        click.echo(msg.strip() if common.output_format() == "json" else msg, err=True)

    def progress(self, done: int, total: int) -> None:
        return None  # init/pull show steps, not a byte bar
