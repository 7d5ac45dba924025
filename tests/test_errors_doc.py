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


def test_the_slug_registry_is_the_doc() -> None:
    """floe.errors.SLUGS (slug -> kind, exit code, doc line) and docs/errors.md agree."""
    from floe.errors import SLUGS

    documented = _documented()
    assert sorted(set(SLUGS) ^ set(documented)) == [], "registry and docs/errors.md differ"
    wrong = {
        s: (i.exit_code, documented[s])
        for s, i in SLUGS.items()
        if str(i.exit_code) != documented[s]
    }
    assert wrong == {}
    assert all(info.doc for info in SLUGS.values())


def test_every_raised_slug_is_registered() -> None:
    from floe.errors import SLUGS

    raised = error_slugs(ROOT / "floe")
    assert sorted(set(raised) - set(SLUGS)) == [], "add these slugs to floe.errors.SLUGS"


def test_kinds_come_from_the_registry_and_survive_pickling() -> None:
    import pickle

    from floe.errors import Conflict, Denied, GateError, Integrity, NotFound, Transient, UsageError

    missing_blob = GateError("blob_not_found", "gone", hint="pull again")
    assert isinstance(missing_blob, NotFound) and isinstance(missing_blob, GateError)
    assert missing_blob.exit_code == 1 and missing_blob.kind == "not_found"
    assert isinstance(UsageError("reference_not_found", "x"), NotFound)
    assert isinstance(GateError("publish_tag_exists", "x"), Conflict)
    assert isinstance(GateError("pull_digest_mismatch", "x"), Integrity)
    assert isinstance(UsageError("registry_unreachable", "x"), Transient)
    assert isinstance(GateError("signature_untrusted", "x"), Denied)
    assert not isinstance(GateError("pull_digest_mismatch", "x"), NotFound)
    again = pickle.loads(pickle.dumps(missing_blob))
    assert isinstance(again, NotFound) and isinstance(again, GateError)
    assert (again.slug, again.message, again.hint) == ("blob_not_found", "gone", "pull again")
