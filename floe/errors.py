"""One error type for everything a user can meet.

Every foreseeable failure is a `FloeError` with a stable slug (machine-readable,
never renamed once shipped), a one-line message, a hint saying what to do next,
and an exit code: 1 when a gate fired (policy, signature, digest, drift), 2 for
usage or configuration errors. The CLI renders it as one line, or as
`{"event": slug, ...}` with `--format json`; no traceback reaches the user.
"""

from __future__ import annotations

from typing import Any, ClassVar

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2


class FloeError(Exception):
    """A failure with a stable slug, a message and a hint for the user."""

    default_exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(
        self,
        slug: str,
        message: str,
        *,
        hint: str | None = None,
        exit_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.slug = slug
        self.message = message
        self.hint = hint
        self.exit_code = self.default_exit_code if exit_code is None else exit_code
        self.details: dict[str, Any] = dict(details or {})

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.slug, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out["exit_code"] = self.exit_code
        out.update(self.details)
        return out

    def one_line(self) -> str:
        text = f"error[{self.slug}]: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class GateError(FloeError):
    """A gate fired: policy violation, bad signature, digest mismatch, drift (exit 1)."""

    default_exit_code = EXIT_GATE


class UsageError(FloeError):
    """Bad input, missing file, bad flag, bad YAML (exit 2)."""

    default_exit_code = EXIT_USAGE
