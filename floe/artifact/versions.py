"""Release versions: the one place a tag is read as semver (`v1.2.3` and `1.2.3` are one
version) and sorted."""

from __future__ import annotations

import semver


def parse_version(text: str) -> semver.Version | None:
    """`v1.2.3` or `1.2.3` -> the version; None when the text is not semver."""
    bare = text[1:] if text.startswith("v") else text
    if not semver.Version.is_valid(bare):
        return None
    return semver.Version.parse(bare)


def bare_version(text: str) -> str | None:
    """`v1.2.3` -> `1.2.3`; None when the text is not semver."""
    version = parse_version(text)
    return str(version) if version is not None else None


def split_version_tags(tags: list[str]) -> tuple[list[str], list[str]]:
    """(semver tags newest first, every other tag sorted)."""
    versions: list[tuple[semver.Version, str]] = []
    others: list[str] = []
    for tag in tags:
        version = parse_version(tag)
        if version is None:
            others.append(tag)
        else:
            versions.append((version, tag))
    versions.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [tag for _, tag in versions], sorted(others)
