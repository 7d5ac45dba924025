"""The ReDoS guard for platform-supplied regexes."""

from __future__ import annotations

import pytest

from floe.rules.regex_safety import UnsafeRegex, check_regex, compile_safe, is_safe


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+", "(a*)*", "(a|a)*", "(a|ab)*", r"(\w+\s?)*$", "(a+b*)*", r"(x)\1", "a" * 300],
)
def test_dangerous_patterns_are_rejected(pattern: str) -> None:
    assert not is_safe(pattern)
    with pytest.raises(UnsafeRegex):
        compile_safe(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "^[a-z_][a-z0-9_]*$",
        "^(bronze|silver|gold)_[a-z0-9_]+$",
        r"^[a-z]+(_[a-z0-9]+)*$",
        "([a-z]+_)*[a-z]+",
        r"(\d|[a-z])*",
        "(a+b)*",
        "^(dim|fct)_[a-z_]{1,40}$",
        "(ab|ac)+",  # Python factors this to a(?:b|c): no ambiguity left
    ],
)
def test_ordinary_naming_patterns_are_accepted(pattern: str) -> None:
    assert compile_safe(pattern).pattern == pattern


def test_reasons_are_specific() -> None:
    with pytest.raises(UnsafeRegex, match="nested quantifier"):
        check_regex("(a+)+")
    with pytest.raises(UnsafeRegex, match="overlapping alternatives"):
        check_regex("(a|a)*")
    with pytest.raises(UnsafeRegex, match="invalid regex"):
        check_regex("(unclosed")
    with pytest.raises(UnsafeRegex, match="limit is 256"):
        check_regex("x" * 257)


def test_without_cpythons_parser_the_fallback_is_conservative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from floe.rules import regex_safety

    monkeypatch.setattr(regex_safety, "HAVE_PARSER", False)
    assert regex_safety.is_safe("^[a-z][a-z0-9_]*$")
    for unsafe in ("(a+)+$", "(_[a-z]+)*", r"(a)\1", "(?P<x>a)(?P=x)", "(ab){2,}", "[a-"):
        assert not regex_safety.is_safe(unsafe), unsafe
