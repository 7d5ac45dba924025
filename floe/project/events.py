"""How the data-team lifecycle reports progress: one small event interface, never prints.

The CLI renders these (step lines, warnings on stderr, JSON); library code only calls
them. Same shape as the project-wide `floe.events` interface the CLI layer owns, so
the two unify by an import change: `step(name)` a unit of work that succeeded,
`info(msg)` something worth knowing (a newer version exists), `warn(msg)` something
the person must see whatever the output format (trust on first use).
"""

from __future__ import annotations

from typing import Protocol


class Events(Protocol):
    def step(self, name: str) -> None: ...

    def info(self, msg: str) -> None: ...

    def warn(self, msg: str) -> None: ...


class Quiet:
    """Events nobody listens to (library callers and tests)."""

    def step(self, name: str) -> None:
        return None

    def info(self, msg: str) -> None:
        return None

    def warn(self, msg: str) -> None:
        return None


class Recorder:
    """Keeps every event as (kind, text): for tests and for JSON renderers."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def step(self, name: str) -> None:
        self.events.append(("step", name))

    def info(self, msg: str) -> None:
        self.events.append(("info", msg))

    def warn(self, msg: str) -> None:
        self.events.append(("warn", msg))


QUIET: Events = Quiet()
