"""docs/errors.md lists every error slug floe raises (slug, exit code, meaning, what to do)."""

from __future__ import annotations

import re
from pathlib import Path

from slug_scan import error_slugs

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([12](?: / [12])?) \| .+ \| .+ \|$", re.MULTILINE)


def _documented() -> dict[str, str]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return {match.group(1): match.group(2) for match in ROW.finditer(text)}


def test_every_slug_in_the_code_is_documented() -> None:
    raised = error_slugs(ROOT / "floe")
    missing = {slug: files for slug, files in raised.items() if slug not in _documented()}
    assert missing == {}, "add these slugs to docs/errors.md"


def test_the_scan_finds_slugs_in_every_form() -> None:
    """Direct calls, slug= keywords, SLUG constants and slug parameters' defaults."""
    raised = error_slugs(ROOT / "floe")
    for slug in ("lock_drift", "trusted_key_unreadable", "project_invalid", "signature_missing"):
        assert slug in raised
    assert len(raised) > 60


def test_documented_exit_codes_match_the_error_class() -> None:
    from floe.errors import GateError, UsageError

    documented = _documented()
    assert GateError("lock_drift", "x").exit_code == 1
    assert documented["lock_drift"] == "1"
    assert UsageError("lock_invalid", "x").exit_code == 2
    assert documented["lock_invalid"] == "2"
