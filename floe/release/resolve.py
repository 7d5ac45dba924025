"""Where a project's platform comes from, and which version a constraint picks.

Nothing here writes: it opens the source, lists tags, resolves a constraint, and
compares the registry with the lock (`lock_drift` for a moved tag, `lock_downgrade`
for a rollback). A relative `oci-layout://` path in floe.yaml or the lock is relative
to the project; on the command line it is relative to the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import GateError
from floe.release.constraints import (
    Constraint,
    Newer,
    newer_versions,
    parse_tag,
    resolve_constraint,
    version_label,
)

if TYPE_CHECKING:
    from semver import Version

    from floe.oci.options import RegistryOptions
    from floe.oci.reference import Reference
    from floe.oci.target import Descriptor, Target
    from floe.release.lockfile import LockedPlatform

ACCEPT_DRIFT_HINT = (
    "ask the platform team why the tag moved (versions should be immutable); to accept "
    "the new content, verified against the signers the lock recorded: "
    "`floe platform pull --accept-drift`"
)


def repository_of(ref: str) -> str:
    """`oci://host/repo:v1` -> `oci://host/repo` (how floe.yaml and the lock are compared)."""
    from floe.oci.reference import parse_reference

    return parse_reference(ref).repository_ref()


@dataclass(frozen=True)
class Source:
    """A platform repository: as floe.yaml and the lock write it, and as opened here."""

    stored: Reference  # repository only; layout paths relative to the project
    opened: Reference  # layout paths absolute

    def with_tag(self, tag: str) -> str:
        return str(self.stored.with_tag(tag))

    def open(self, options: RegistryOptions) -> Target:
        from floe.oci.resolve import target_for

        return target_for(self.opened, options)


def source_from(text: str, base: Path, project: Path, *, pinned: bool = False) -> Source:
    """`pinned`: text is a stored reference with its tag (floe.yaml, lock), dropped here."""
    from floe.oci.reference import DEFAULT_REPOSITORY, parse_reference
    from floe.oci.resolve import parse_repository

    if pinned:
        repo = parse_reference(text, default_repository=DEFAULT_REPOSITORY).with_tag(None)
    else:
        repo = parse_repository(text)
    if not repo.is_layout:
        return Source(repo, repo)
    path = Path(repo.path)
    absolute = path if path.is_absolute() else (base / path).resolve()
    stored_path = repo.path if path.is_absolute() else os.path.relpath(absolute, project)
    return Source(replace(repo, path=stored_path), replace(repo, path=str(absolute)))


def pins_repository(locked: LockedPlatform | None, source: Source) -> bool:
    """The lock pins this very repository (else the lock says nothing about it)."""
    return locked is not None and repository_of(locked.ref) == str(source.stored)


@dataclass(frozen=True)
class Resolved:
    tag: str
    version: Version
    desc: Descriptor
    newer: Newer

    @property
    def label(self) -> str:
        return version_label(self.version)


def resolve(src: Target, constraint: Constraint, where: str) -> Resolved:
    """The highest version the constraint accepts, and what lies above it."""
    tags = src.tags()
    tag, version = resolve_constraint(constraint, tags, where)
    return Resolved(tag, version, src.resolve(tag), newer_versions(constraint, tags, version))


def check_against_lock(
    resolved: Resolved,
    locked: LockedPlatform | None,
    same_repo: bool,
    *,
    allow_downgrade: bool,
    accept_drift: bool = False,
) -> None:
    """A moved tag is `lock_drift`; an older version than the lock is `lock_downgrade`."""
    if locked is None or not same_repo:
        return
    pinned = parse_tag(locked.version)
    moved = pinned == resolved.version and resolved.desc.digest != locked.manifest_digest
    if moved and not accept_drift:
        raise drift_error(locked, resolved.desc.digest)
    if pinned is not None and resolved.version < pinned and not allow_downgrade:
        raise GateError(
            "lock_downgrade",
            f"resolving would go back from {locked.version} (locked) to {resolved.label}",
            hint="pass --allow-downgrade if the rollback is intended",
            details={"locked": locked.version, "resolved": resolved.label},
        )


def drift_error(locked: LockedPlatform, digest: str) -> GateError:
    return GateError(
        "lock_drift",
        f"{locked.ref} now points to {digest}, but artifacts.lock pins "
        f"{locked.manifest_digest}; versions are immutable, so the registry changed under you",
        hint=ACCEPT_DRIFT_HINT,
        details={"locked": locked.manifest_digest, "registry": digest},
    )


def locked_tag_now(src: Target, locked: LockedPlatform, tags: list[str]) -> Descriptor | None:
    """What the registry's tag for the locked version points at (None: the tag is gone)."""
    if locked.tag not in tags:
        return None
    return src.resolve(locked.tag)


def check_drift(src: Target, locked: LockedPlatform, tags: list[str]) -> None:
    """Compare the registry's tag with the lock (only where the registry is consulted)."""
    current = locked_tag_now(src, locked, tags)
    if current is not None and current.digest != locked.manifest_digest:
        raise drift_error(locked, current.digest)
