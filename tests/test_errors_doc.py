"""docs/errors.md lists every error slug floe raises (slug, exit code, meaning, what to do)."""

from __future__ import annotations

import re
from pathlib import Path

from slug_scan import direct_exit_codes, error_slugs

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `([a-z0-9_]+)` \| ([^|]+) \| .+ \| .+ \|$", re.MULTILINE)


def _rows() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return [(match.group(1), match.group(2).strip()) for match in ROW.finditer(text)]


def _documented() -> dict[str, str]:
    return dict(_rows())


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


def test_every_documented_slug_is_still_raised() -> None:
    raised = error_slugs(ROOT / "floe")
    stale = sorted(slug for slug in _documented() if slug not in raised)
    assert stale == [], "remove these slugs from docs/errors.md (nothing raises them)"


def test_each_slug_has_exactly_one_exit_code_in_the_doc() -> None:
    rows = _rows()
    slugs = [slug for slug, _ in rows]
    assert len(rows) > 60
    assert sorted({s for s in slugs if slugs.count(s) > 1}) == [], "one row per slug"
    assert {slug: code for slug, code in rows if code not in ("1", "2")} == {}


def test_each_slug_is_raised_with_one_exit_code_that_the_doc_names() -> None:
    """`GateError("x")` in one place and `UsageError("x")` in another would give a slug two
    exit codes (as `manifest_invalid` and `blob_not_found` once had)."""
    documented = _documented()
    codes = direct_exit_codes(ROOT / "floe")
    assert codes["blob_not_found"] == {1} and codes["artifact_manifest_invalid"] == {1}
    assert codes["reference_not_found"] == {2}
    two_codes = {slug: found for slug, found in codes.items() if len(found) > 1}
    assert two_codes == {}
    wrong = {
        slug: (found, documented[slug])
        for slug, found in codes.items()
        if slug in documented and {int(documented[slug])} != found
    }
    assert wrong == {}, "docs/errors.md names another exit code than the code raises"
