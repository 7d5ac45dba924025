"""An unexpected exception is one line with `internal_error`, never a traceback."""

from __future__ import annotations

import pytest
from conftest import run_floe

import floe.cli.main as cli_main


def _explode(*args: object, **kwargs: object) -> None:
    raise ValueError("boom at a place nobody foresaw")


def test_unexpected_exception_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main.cli, "main", _explode)
    result = run_floe("version")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error[internal_error]: "), lines
    assert "ValueError" in lines[0] and "FLOE_DEBUG=1" in lines[0]


def test_debug_shows_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_main.cli, "main", _explode)
    monkeypatch.setenv("FLOE_DEBUG", "1")
    result = run_floe("version")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "boom at a place nobody foresaw" in result.stderr


def test_runaway_nesting_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def recurse(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(cli_main.cli, "main", recurse)
    result = run_floe("version")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[input_too_deep]: ")
