"""The data-team lifecycle's listeners of the one event interface (`floe.events.Events`).

`step(name)` a unit of work that succeeded, `info(msg)` something worth knowing (a
newer version exists), `warn(msg)` something the person must see whatever the output
format (trust on first use). The CLI renders them; library code never prints.
"""

from __future__ import annotations

from floe.events import Events as Events  # the one event interface (floe/events.py)
from floe.events import NullEvents


class Quiet(NullEvents):
    """Events nobody listens to (library callers and tests)."""


class Recorder:
    """Keeps every event as (kind, text): for tests and for JSON renderers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def step(self, name: str) -> None:
        self.events.append(("step", name))

    def progress(self, done: int, total: int) -> None:
        return None  # byte counts are not events worth keeping

    def info(self, msg: str) -> None:
        self.events.append(("info", msg))

    def warn(self, msg: str) -> None:
        self.events.append(("warn", msg))


QUIET: Events = Quiet()
