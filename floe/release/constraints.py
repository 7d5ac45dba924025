"""Version constraints of a data team's platform (`floe init --platform=...`).

Accepted forms (a leading `v` is optional everywhere):
`v1.2.3` / `1.2.3` (exact), `v1.2.*` / `v1.*.*` / `1.*` (wildcards), `^1.2` (same
major; same minor below 1.0), `~1.2.3` (same minor), comparator lists such as
`>=1.2,<2`, and `latest` (the highest release). Tags that are not semver are
ignored. Prereleases match only when the constraint names a prerelease of the
same major.minor.patch (as npm and Cargo do), so `v1.*.*` never picks `1.3.0-rc.1`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from semver import Version

from floe.errors import UsageError

_OPERATORS = ("==", ">=", "<=", "!=", ">", "<", "=")
_PARTIAL = re.compile(
    r"^v?(?P<major>\d+|\*|x)(?:\.(?P<minor>\d+|\*|x))?(?:\.(?P<patch>\d+|\*|x))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?$"
)
_TAG_VERSION = re.compile(r"^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")


def parse_tag(tag: str) -> Version | None:
    """The semver version a registry tag names (`v1.2.3`, `1.2.3`, `v2.0.0-rc.1`), or None."""
    match = _TAG_VERSION.match(tag)
    if not match:
        return None
    try:
        return Version.parse(match.group(1))
    except ValueError:
        return None


def version_label(version: Version) -> str:
    """How floe shows a version and names its cache folder: `v1.2.3`."""
    return f"v{version}"


@dataclass(frozen=True)
class Comparator:
    op: str  # one of _OPERATORS, "=" normalised to "=="
    version: Version

    def matches(self, candidate: Version) -> bool:
        order = candidate.compare(self.version)
        return {
            "==": order == 0,
            "!=": order != 0,
            ">=": order >= 0,
            "<=": order <= 0,
            ">": order > 0,
            "<": order < 0,
        }[self.op]


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: every comparator must hold."""

    text: str
    comparators: tuple[Comparator, ...]

    def matches(self, candidate: Version) -> bool:
        if candidate.prerelease and not self._names_prerelease_of(candidate):
            return False
        return all(c.matches(candidate) for c in self.comparators)

    def _names_prerelease_of(self, candidate: Version) -> bool:
        core = (candidate.major, candidate.minor, candidate.patch)
        return any(
            c.version.prerelease and (c.version.major, c.version.minor, c.version.patch) == core
            for c in self.comparators
        )

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> UsageError:
    return UsageError(
        "constraint_invalid",
        f"invalid version constraint {text!r}: {why}",
        hint="use v1.2.3, v1.2.*, v1.*.*, ^1.2, ~1.2.3, >=1.2,<2 or latest",
    )


def _partial(text: str, part: str) -> tuple[list[int | None], str | None]:
    """`1.2` -> ([1, 2, None], None); `*` / `x` parts become None."""
    match = _PARTIAL.match(part)
    if not match:
        raise _bad(text, f"{part!r} is not a version")
    numbers: list[int | None] = []
    for name in ("major", "minor", "patch"):
        value = match.group(name)
        numbers.append(None if value in (None, "*", "x") else int(value))
    # 1.*.3 makes no sense: once a part is a wildcard, every later part must be too.
    seen_wild = False
    for number in numbers:
        if number is None:
            seen_wild = True
        elif seen_wild:
            raise _bad(text, f"{part!r} has a number after a wildcard")
    pre = match.group("pre")
    if pre and None in numbers:
        raise _bad(text, "a prerelease needs a full major.minor.patch version")
    return numbers, pre


def _version(numbers: list[int | None], pre: str | None = None) -> Version:
    major, minor, patch = (n or 0 for n in numbers)
    return Version(major, minor, patch, prerelease=pre)


def _wildcard_range(numbers: list[int | None], pre: str | None) -> list[Comparator]:
    """`1.2.3` exact; `1.2.*` -> [1.2.0, 1.3.0); `1.*` -> [1.0.0, 2.0.0); `*` -> any."""
    major, minor, patch = numbers
    if major is None:
        return [Comparator(">=", Version(0, 0, 0))]
    if minor is None:
        return [Comparator(">=", Version(major, 0, 0)), Comparator("<", Version(major + 1, 0, 0))]
    if patch is None:
        return [
            Comparator(">=", Version(major, minor, 0)),
            Comparator("<", Version(major, minor + 1, 0)),
        ]
    return [Comparator("==", _version(numbers, pre))]


def _caret(text: str, part: str) -> list[Comparator]:
    numbers, pre = _partial(text, part)
    major, minor, patch = numbers
    low = _version(numbers, pre)
    if major is None:
        raise _bad(text, "^ needs at least a major version")
    if major > 0 or minor is None:
        high = Version(major + 1, 0, 0)
    elif minor > 0 or patch is None:
        high = Version(0, minor + 1, 0)
    else:
        high = Version(0, 0, patch + 1)
    return [Comparator(">=", low), Comparator("<", high)]


def _tilde(text: str, part: str) -> list[Comparator]:
    numbers, pre = _partial(text, part)
    major, minor, _ = numbers
    if major is None:
        raise _bad(text, "~ needs at least a major version")
    low = _version(numbers, pre)
    high = Version(major + 1, 0, 0) if minor is None else Version(major, minor + 1, 0)
    return [Comparator(">=", low), Comparator("<", high)]


def _comparator(text: str, part: str) -> list[Comparator]:
    for op in _OPERATORS:
        if part.startswith(op):
            numbers, pre = _partial(text, part[len(op) :].strip())
            normalised = "==" if op == "=" else op
            if normalised in ("==", "!=") and None in numbers:
                if normalised == "!=":
                    raise _bad(text, "!= needs a full version")
                return _wildcard_range(numbers, pre)
            return [Comparator(normalised, _version(numbers, pre))]
    if part.startswith("^"):
        return _caret(text, part[1:].strip())
    if part.startswith("~"):
        return _tilde(text, part[1:].strip())
    numbers, pre = _partial(text, part)
    return _wildcard_range(numbers, pre)


def parse_constraint(text: str) -> Constraint:
    stripped = text.strip()
    if not stripped:
        raise _bad(text, "it is empty")
    if stripped.lower() in ("latest", "*"):
        return Constraint(stripped, (Comparator(">=", Version(0, 0, 0)),))
    comparators: list[Comparator] = []
    for part in re.split(r"\s*,\s*|\s+", stripped):
        if part:
            comparators.extend(_comparator(text, part))
    return Constraint(stripped, tuple(comparators))


def matching_versions(constraint: Constraint, tags: Iterable[str]) -> list[tuple[Version, str]]:
    """(version, tag) pairs the constraint accepts, highest first; `v` tags win ties."""
    found: dict[Version, str] = {}
    for tag in tags:
        version = parse_tag(tag)
        if version is None or not constraint.matches(version):
            continue
        current = found.get(version)
        if current is None or (tag.startswith("v"), tag) > (current.startswith("v"), current):
            found[version] = tag
    return sorted(found.items(), key=lambda item: item[0], reverse=True)


def resolve_constraint(
    constraint: Constraint, tags: Iterable[str], where: str
) -> tuple[str, Version]:
    """The tag of the highest version matching; `constraint_unsatisfied` lists what exists."""
    tag_list = list(tags)
    matches = matching_versions(constraint, tag_list)
    if matches:
        version, tag = matches[0]
        return tag, version
    available = sorted({v for v in (parse_tag(t) for t in tag_list) if v is not None}, reverse=True)
    shown = ", ".join(version_label(v) for v in available[:20]) or "none"
    if len(available) > 20:
        shown += f", ... ({len(available)} in all)"
    raise UsageError(
        "constraint_unsatisfied",
        f"no version in {where} matches {constraint.text!r} (available: {shown})",
        hint="pick one of the available versions, or publish a matching one",
        details={"available": [version_label(v) for v in available]},
    )


@dataclass(frozen=True)
class Newer:
    """Releases above the one in use: the highest the constraint accepts, and the highest
    it does not (prereleases never count). Either is None when there is none."""

    matching: str | None = None
    outside: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"matching": self.matching, "outside_constraint": self.outside}


def newer_versions(constraint: Constraint, tags: Iterable[str], current: Version) -> Newer:
    """What a data team could move to from `current` (`floe platform pull` / `init` say it)."""
    matching: Version | None = None
    outside: Version | None = None
    for tag in tags:
        version = parse_tag(tag)
        if version is None or version.prerelease or version <= current:
            continue
        if constraint.matches(version):
            matching = version if matching is None or version > matching else matching
        else:
            outside = version if outside is None or version > outside else outside
    return Newer(
        version_label(matching) if matching is not None else None,
        version_label(outside) if outside is not None else None,
    )
