"""Version constraints: every documented form picks the right tag."""

from __future__ import annotations

import pytest

from floe.errors import UsageError
from floe.release.constraints import parse_constraint, parse_tag, resolve_constraint

TAGS = ["v1.2.2", "v1.2.3", "v1.3.0", "v2.0.0-rc.1", "latest", "sha256-abc.sig", "nightly"]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("v1.2.3", "v1.2.3"),
        ("1.2.3", "v1.2.3"),
        ("v1.2.*", "v1.2.3"),
        ("v1.*.*", "v1.3.0"),
        ("1.*", "v1.3.0"),
        ("1.2.x", "v1.2.3"),
        ("^1.2", "v1.3.0"),
        ("^1.2.3", "v1.3.0"),
        ("~1.2.3", "v1.2.3"),
        ("~1.2.2", "v1.2.3"),
        ("~1.2", "v1.2.3"),
        (">=1.2,<2", "v1.3.0"),
        (">=1.2, <1.3", "v1.2.3"),
        (">1.2.2 <=1.2.3", "v1.2.3"),
        ("<1.2.3", "v1.2.2"),
        ("latest", "v1.3.0"),
        ("v2.0.0-rc.1", "v2.0.0-rc.1"),
        (">=2.0.0-rc.1", "v2.0.0-rc.1"),
        ("=1.2.2", "v1.2.2"),
        ("!=1.3.0, ^1", "v1.2.3"),
    ],
)
def test_each_constraint_form_picks_the_highest_match(constraint: str, expected: str) -> None:
    tag, _ = resolve_constraint(parse_constraint(constraint), TAGS, "test")
    assert tag == expected


def test_prereleases_only_when_named() -> None:
    for text in ("latest", ">=1.0", "^2.0.0", "v2.*.*", "*"):
        constraint = parse_constraint(text)
        assert not constraint.matches(parse_tag("v2.0.0-rc.1"))  # type: ignore[arg-type]
    assert parse_constraint(">=2.0.0-rc.0").matches(parse_tag("2.0.0-rc.1"))  # type: ignore[arg-type]


def test_caret_below_one_keeps_the_minor() -> None:
    tags = ["v0.2.1", "v0.2.9", "v0.3.0", "v0.0.3", "v0.0.4"]
    assert resolve_constraint(parse_constraint("^0.2"), tags, "x")[0] == "v0.2.9"
    assert resolve_constraint(parse_constraint("^0.0.3"), tags, "x")[0] == "v0.0.3"


def test_v_tag_wins_over_bare_tag_of_the_same_version() -> None:
    assert resolve_constraint(parse_constraint("1.2.3"), ["1.2.3", "v1.2.3"], "x")[0] == "v1.2.3"


def test_no_match_lists_available_versions() -> None:
    with pytest.raises(UsageError) as info:
        resolve_constraint(parse_constraint("v3.*.*"), TAGS, "oci://r/p")
    assert info.value.slug == "constraint_unsatisfied"
    assert "v1.3.0, v1.2.3, v1.2.2" in info.value.message
    assert info.value.details["available"][0] == "v2.0.0-rc.1"


@pytest.mark.parametrize("bad", ["", "vv1", "1.*.3", "^", "~*", ">=abc", "1.2.3.4", "!=1.*"])
def test_malformed_constraints_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_constraint(bad)
    assert info.value.slug == "constraint_invalid"


def test_non_semver_tags_are_ignored() -> None:
    assert parse_tag("latest") is None
    assert parse_tag("v1.2") is None
    assert parse_tag("sha256-abc.sig") is None
    assert str(parse_tag("v1.2.3")) == "1.2.3"
