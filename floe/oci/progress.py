"""Transfer progress bars (rich, imported lazily), shown only when they help.

A bar appears for transfers over 1 MB when stderr is a terminal and the output
is text and not `--quiet`; otherwise the callback is a no-op.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from floe.oci.copy import ProgressFn
from floe.oci.target import Descriptor

THRESHOLD = 1_000_000


def wanted(total_bytes: int, *, quiet: bool, fmt: str = "text") -> bool:
    return total_bytes > THRESHOLD and not quiet and fmt == "text" and sys.stderr.isatty()


@contextmanager
def transfer_progress(total_bytes: int, *, enabled: bool, label: str) -> Iterator[ProgressFn]:
    """Yield an on_progress callback for copy_graph that drives one overall bar."""
    if not enabled:
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns: list[Any] = [
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    ]
    lock = threading.Lock()
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total_bytes)

        def advance(event: str, desc: Descriptor, nbytes: int) -> None:
            if event in ("advance", "skip"):
                with lock:
                    bar.advance(task, nbytes)

        yield advance


def _noop(event: str, desc: Descriptor, nbytes: int) -> None:
    return None
