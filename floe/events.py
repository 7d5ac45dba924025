"""The one event interface: how library code reports progress without printing.

Library functions take `events: Events = NULL_EVENTS` and call `step`, `progress`,
`info` and `warn`; the CLI renders them (step lines, a rich progress bar, json).
Bottom layer: imports nothing from floe.
"""

from __future__ import annotations

from typing import Protocol


class Events(Protocol):
    """What a long-running library call tells whoever runs it."""

    def step(self, name: str) -> None:
        """A finished (or starting) step, e.g. `Publishing to oci://...`."""

    def progress(self, done: int, total: int) -> None:
        """Bytes transferred so far out of `total` (monotonic within one transfer)."""

    def info(self, message: str) -> None:
        """A detail line under the current step."""

    def warn(self, message: str) -> None:
        """Something the person should read even in quiet mode."""


class NullEvents:
    """Discards every event (the default for library callers that want none)."""

    def step(self, name: str) -> None:
        return None

    def progress(self, done: int, total: int) -> None:
        return None

    def info(self, message: str) -> None:
        return None

    def warn(self, message: str) -> None:
        return None


NULL_EVENTS: Events = NullEvents()


def human_size(size: int) -> str:
    """`300 B`, `4.5 KB`, `2.1 MB` (decimal units): the one size format of floe's output."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("KB", "MB"):
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
