"""`platform list`: the versions in a repository (newest first) with their digests."""

from __future__ import annotations

from dataclasses import dataclass

from floe.artifact.versions import split_version_tags
from floe.oci.options import RegistryOptions
from floe.oci.reference import Reference
from floe.oci.resolve import configured_registry, parse_repository, target_for
from floe.oci.target import Target


@dataclass(frozen=True)
class TagRow:
    tag: str
    digest: str
    size: int

    def to_json(self) -> dict[str, object]:
        return {"tag": self.tag, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class Listing:
    repository: Reference
    versions: list[TagRow]
    other_tags: list[TagRow]  # filled only with show_all
    hidden: int  # how many non-version tags there are


def _row(target: Target, tag: str) -> TagRow:
    desc = target.resolve(tag)
    return TagRow(tag, desc.digest, desc.size)


def list_versions(
    registry: str | None, *, show_all: bool = False, options: RegistryOptions | None = None
) -> Listing:
    """Versions of `registry` (flag > FLOE_REGISTRY > embedded), newest first."""
    repo = parse_repository(configured_registry(registry))
    target = target_for(repo, options)
    versions, others = split_version_tags(target.tags())
    rows = [_row(target, tag) for tag in versions]
    extra = [_row(target, tag) for tag in others] if show_all else []
    return Listing(repo, rows, extra, len(others))
