"""Reject regexes that can backtrack catastrophically before anyone compiles them.

Platform teams ship custom naming and column-name regexes to every data team; a
pattern like `(a+)+$` would hang `floe compile` on a hostile or unlucky model name.
Python's `re` has no timeout, so floe checks the parsed pattern instead:

- length: at most MAX_PATTERN_LENGTH characters;
- nested quantifiers: an unbounded repeat whose body ends with another repeat that
  can also match the first character of the next iteration (`(a+)+`, `(a*)*`,
  `(\\w+\\s?)*`) is ambiguous and exponential. `(_[a-z0-9]+)*` is fine: `_` cannot be
  eaten by `[a-z0-9]+`;
- overlapping alternation under a repeat: `(a|a)*`, `(a|ab)*`, `(\\w|\\d)+`;
- backreferences (not needed for names, and matching them is NP-hard).

The character sets are computed over ASCII; anything beyond counts as "other", and two
sets that both allow "other" overlap (conservative).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The analysis walks CPython's own parse tree (`re._parser`, 3.11+). It is private, so it is
# used only where it has the shape this module knows; elsewhere a conservative textual check
# stands in (`_conservative_check`): no backreferences, no quantified group at all.
try:
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser as P  # type: ignore[attr-defined]

    HAVE_PARSER = all(hasattr(C, name) for name in ("MAX_REPEAT", "SUBPATTERN", "BRANCH"))
except ImportError:  # pragma: no cover - a Python without re._parser
    HAVE_PARSER = False

MAX_PATTERN_LENGTH = 256
_ALL = frozenset(range(128))
_DIGITS = frozenset(range(ord("0"), ord("9") + 1))
_WORD = frozenset(c for c in range(128) if chr(c).isalnum() or chr(c) == "_")
_SPACE = frozenset(ord(c) for c in " \t\n\r\f\v")
_CATEGORIES: dict[Any, tuple[frozenset[int], bool]] = {
    C.CATEGORY_DIGIT: (_DIGITS, True),
    C.CATEGORY_NOT_DIGIT: (_ALL - _DIGITS, True),
    C.CATEGORY_WORD: (_WORD, True),
    C.CATEGORY_NOT_WORD: (_ALL - _WORD, True),
    C.CATEGORY_SPACE: (_SPACE, True),
    C.CATEGORY_NOT_SPACE: (_ALL - _SPACE, True),
}
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", C.MAX_REPEAT)}
_UNBOUNDED = 32  # a repeat with a larger max backtracks like an unbounded one


class UnsafeRegex(ValueError):
    """The pattern is invalid, too long, or can backtrack catastrophically."""


@dataclass(frozen=True, slots=True)
class _Chars:
    ascii: frozenset[int]
    other: bool  # may match a non-ASCII character

    def __or__(self, rhs: _Chars) -> _Chars:
        return _Chars(self.ascii | rhs.ascii, self.other or rhs.other)

    def overlaps(self, rhs: _Chars) -> bool:
        return bool(self.ascii & rhs.ascii) or (self.other and rhs.other)


_NONE = _Chars(frozenset(), False)
_ANY = _Chars(_ALL, True)


def check_regex(pattern: str) -> None:
    """Raise UnsafeRegex (with a one-line reason) unless the pattern is safe to run."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafeRegex(f"pattern is {len(pattern)} characters; the limit is 256")
    if not HAVE_PARSER:
        _conservative_check(pattern)
        return
    try:
        parsed = P.parse(pattern)
    except re.error as exc:
        raise UnsafeRegex(f"invalid regex: {exc}") from None
    _check_sequence(list(parsed))


def compile_safe(pattern: str) -> re.Pattern[str]:
    check_regex(pattern)
    return re.compile(pattern)


def is_safe(pattern: str) -> bool:
    try:
        check_regex(pattern)
    except UnsafeRegex:
        return False
    return True


# ---- the walk ------------------------------------------------------------------


def _check_sequence(items: list[tuple[Any, Any]]) -> None:
    for op, av in items:
        if op in (C.GROUPREF, C.GROUPREF_EXISTS):
            raise UnsafeRegex("backreferences are not allowed")
        if op in _REPEATS:
            _check_repeat(av)
        for child in _children(op, av):
            _check_sequence(child)


def _check_repeat(av: Any) -> None:
    low, high, body = av
    body_items = list(body)
    if high != C.MAXREPEAT and high <= _UNBOUNDED:
        return
    first = _first(body_items)
    for inner in _trailing_repeat_chars(body_items):
        if inner.overlaps(first):
            raise UnsafeRegex(
                "nested quantifier: a repeat inside a repeat can match the same text "
                "two ways (like (a+)+ or (a*)*), which backtracks exponentially"
            )
    for branch in _branches(body_items):
        if _ambiguous(branch):
            raise UnsafeRegex(
                "overlapping alternatives under a repeat (like (a|a)* or (a|ab)*) "
                "backtrack exponentially"
            )
    del low


def _ambiguous(alternatives: list[Any]) -> bool:
    """Two alternatives can match the same text.

    Python's parser factors a shared prefix out of a branch (`a|ab` becomes `a(?:|b)`),
    so an empty alternative means the written alternatives overlapped.
    """
    alts = [list(alt) for alt in alternatives]
    if any(not alt for alt in alts) or sum(1 for alt in alts if _nullable(alt)) > 1:
        return True
    firsts = [_first(alt) for alt in alts]
    return any(left.overlaps(right) for i, left in enumerate(firsts) for right in firsts[i + 1 :])


def _children(op: Any, av: Any) -> list[list[tuple[Any, Any]]]:
    if op in _REPEATS:
        return [list(av[2])]
    if op == C.SUBPATTERN:
        return [list(av[3])]
    if op == C.BRANCH:
        return [list(alt) for alt in av[1]]
    if op in (C.ASSERT, C.ASSERT_NOT):
        return [list(av[1])]
    if op == getattr(C, "ATOMIC_GROUP", None):
        return [list(av)]
    return []


def _branches(items: list[tuple[Any, Any]]) -> list[list[Any]]:
    """Alternations directly in this sequence (looking through plain groups)."""
    found: list[list[Any]] = []
    for op, av in items:
        if op == C.BRANCH:
            found.append(list(av[1]))
        elif op == C.SUBPATTERN:
            found.extend(_branches(list(av[3])))
    return found


def _nullable(items: list[tuple[Any, Any]]) -> bool:
    return all(_nullable_item(op, av) for op, av in items)


def _nullable_item(op: Any, av: Any) -> bool:
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return True
    if op in _REPEATS:
        return bool(av[0] == 0 or _nullable(list(av[2])))
    if op == C.SUBPATTERN:
        return _nullable(list(av[3]))
    if op == C.BRANCH:
        return any(_nullable(list(alt)) for alt in av[1])
    return False


def _first(items: list[tuple[Any, Any]]) -> _Chars:
    """Characters that can start a match of the sequence."""
    chars = _NONE
    for op, av in items:
        chars = chars | _first_item(op, av)
        if not _nullable_item(op, av):
            break
    return chars


def _first_item(op: Any, av: Any) -> _Chars:
    if op in _REPEATS:
        return _first(list(av[2]))
    if op == C.SUBPATTERN:
        return _first(list(av[3]))
    if op == C.BRANCH:
        chars = _NONE
        for alt in av[1]:
            chars = chars | _first(list(alt))
        return chars
    if op == getattr(C, "ATOMIC_GROUP", None):
        return _first(list(av))
    return _atom_chars(op, av)


def _atom_chars(op: Any, av: Any) -> _Chars:
    if op == C.LITERAL:
        return _Chars(frozenset({av}), False) if av < 128 else _Chars(frozenset(), True)
    if op == C.NOT_LITERAL:
        return _Chars(_ALL - {av}, True)
    if op == C.IN:
        return _in_chars(av)
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return _NONE
    return _ANY  # ANY, categories outside a set, anything unexpected: assume everything


def _in_chars(items: list[tuple[Any, Any]]) -> _Chars:
    ascii_set: set[int] = set()
    other = False
    negate = False
    for op, av in items:
        if op == C.NEGATE:
            negate = True
        elif op == C.LITERAL:
            if av < 128:
                ascii_set.add(av)
            else:
                other = True
        elif op == C.RANGE:
            low, high = av
            ascii_set.update(range(low, min(high, 127) + 1))
            other = other or high > 127
        elif op == C.CATEGORY and av in _CATEGORIES:
            chars, category_other = _CATEGORIES[av]
            ascii_set.update(chars)
            other = other or category_other
        else:
            return _ANY
    if negate:
        return _Chars(_ALL - frozenset(ascii_set), True)
    return _Chars(frozenset(ascii_set), other)


def _all_chars(items: list[tuple[Any, Any]]) -> _Chars:
    """Every character the sequence can match anywhere."""
    chars = _NONE
    for op, av in items:
        children = _children(op, av)
        if children:
            for child in children:
                chars = chars | _all_chars(child)
        else:
            chars = chars | _atom_chars(op, av)
    return chars


def _trailing_repeat_chars(items: list[tuple[Any, Any]]) -> list[_Chars]:
    """For each repeat that can end the sequence, the characters it can eat."""
    found: list[_Chars] = []
    for op, av in reversed(items):
        if op in _REPEATS and (av[1] == C.MAXREPEAT or av[1] > 1):
            found.append(_all_chars(list(av[2])))
        for child in _children(op, av):
            if op not in (C.ASSERT, C.ASSERT_NOT):
                found.extend(_trailing_repeat_chars(child))
        if not _nullable_item(op, av):
            break
    return found


_QUANTIFIED_GROUP = re.compile(r"\)(?:[*+?]|\{\d*,?\d*\})")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def _conservative_check(pattern: str) -> None:
    """Without CPython's parser: refuse every shape that could backtrack badly."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise UnsafeRegex(f"invalid regex: {exc}") from None
    if _BACKREFERENCE.search(pattern):
        raise UnsafeRegex("backreferences are not allowed")
    if _QUANTIFIED_GROUP.search(pattern):
        raise UnsafeRegex("a repeated group can backtrack catastrophically; repeat characters only")
