"""Install a verified platform: stage, check, then commit to the caches, the tree, the lock.

Nothing lands before every check. The graph is copied into a private staging layout
(`.floe/cache/.tmp-*/oci`), unpacked there into a tree (titles, tar members, sizes,
the tree's schema and content digest are checked by the unpacker), and only then are
blobs and tags committed to the user-wide and the project caches (content-addressed
files, each written temp-then-rename), the tree renamed into `.floe/platform/vX/`,
floe.yaml written, and artifacts.lock written last. A rejection at any step leaves
both caches as they were; the staging folder is removed (a killed process's is removed
by the next writer).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from floe.project.floe_yaml import PlatformSpec, SecuritySpec, read_floe_yaml, write_floe_yaml
from floe.release.cache import (
    ProjectPaths,
    ensure_gitignore,
    human_size,
    locked_files,
    remove_tree,
    writer_lock,
)
from floe.release.install import Staged, commit_blobs, commit_tree, kept_signers
from floe.release.install import stage as stage_release
from floe.release.lockfile import Lock, LockedPlatform, dumps, write_lock
from floe.tree.model import PlatformTree, parse_tree

if TYPE_CHECKING:
    from floe.oci.target import Target
    from floe.project.events import Events
    from floe.release.constraints import Newer
    from floe.release.resolve import Source
    from floe.release.verify import Verified


@dataclass
class Outcome:
    """What init or pull did, for the CLI to render."""

    ref: str
    locked: LockedPlatform
    tree: PlatformTree
    size: int
    downloaded: int
    signed: bool
    trust: str  # where trust came from: floe.yaml | lock | first-use | unverified
    newer: Newer | None = None  # None: the registry was not asked (locked, offline)
    created: list[str] = field(default_factory=list)  # floe.yaml, the tree folder
    updated: list[str] = field(default_factory=list)
    lock_written: bool = False  # artifacts.lock changed (it is written last)

    def to_json(self) -> dict[str, object]:
        manifest = self.tree.manifest
        return {
            "ref": self.ref,
            "version": self.locked.version,
            "manifest_digest": self.locked.manifest_digest,
            "content_digest": self.locked.content_digest,
            "signer": self.locked.signer,
            "signed": self.signed,
            "trust": self.trust,
            "signers": [s.name for s in self.locked.signers],
            "size": self.size,
            "downloaded_bytes": self.downloaded,
            "newer": self.newer.to_json() if self.newer is not None else None,
            "platform": {
                "name": manifest.metadata.name,
                "version": manifest.metadata.version,
                "plugins": dict(sorted(manifest.plugins.items())),
                "pattern": self.tree.naming_rules.pattern,
                "enforcement": self.tree.naming_rules.enforcement,
            },
            "created": self.created,
            "updated": self.updated,
            "lock_written": self.lock_written,
        }


@dataclass(frozen=True)
class Plan:
    """What to install: a verified artifact, how to read it, and what lies above it."""

    source: Source
    reader: Target
    verified: Verified
    tag: str
    label: str
    constraint: str
    downloaded: Callable[[], int]
    newer: Newer | None = None
    locked: LockedPlatform | None = None  # the lock before this command


def stage(paths: ProjectPaths, plan: Plan, concurrency: int) -> Staged:
    """The plan's graph staged and checked in private (floe.release.install.stage)."""
    return stage_release(
        paths, plan.reader, plan.verified.desc, plan.tag, plan.label, concurrency=concurrency
    )


# ---- the lock and floe.yaml ---------------------------------------------------------------


def lock_entry(plan: Plan, files: dict[str, bytes]) -> LockedPlatform:
    """The lock's record; a project anchored by its lock keeps every recorded signer."""
    tree = parse_tree(files)
    signers = kept_signers(plan.verified.decision, plan.locked.signers if plan.locked else None)
    return LockedPlatform(
        ref=plan.source.with_tag(plan.tag),
        constraint=plan.constraint,
        version=plan.label,
        tag=plan.tag,
        manifest_digest=plan.verified.desc.digest,
        content_digest=tree.manifest.metadata.digest,
        name=tree.manifest.metadata.name,
        signer=plan.verified.signer,
        files=locked_files(files),
        signers=signers,
    )


def _write_floe_yaml(
    paths: ProjectPaths, spec: PlatformSpec, security: SecuritySpec | None, outcome: Outcome
) -> None:
    before = paths.floe_yaml.read_bytes() if paths.floe_yaml.exists() else None
    current = read_floe_yaml(paths.floe_yaml)
    if (
        current is not None
        and current.platform == spec
        and (security is None or current.security == security)
    ):
        return
    created = write_floe_yaml(paths.floe_yaml, spec, security)
    if created:
        outcome.created.insert(0, "floe.yaml")
    elif before != paths.floe_yaml.read_bytes():
        outcome.updated.insert(0, "floe.yaml")


def _write_lock(paths: ProjectPaths, entry: LockedPlatform, outcome: Outcome) -> None:
    lock = Lock((entry,))
    existing = paths.lock_file.read_bytes() if paths.lock_file.exists() else None
    if existing == dumps(lock):
        return
    write_lock(paths.lock_file, lock)
    outcome.lock_written = True


# ---- the whole install -----------------------------------------------------------------------


def install(
    paths: ProjectPaths,
    plan: Plan,
    *,
    force: bool,
    security: SecuritySpec | None,
    concurrency: int,
    events: Events,
) -> Outcome:
    """Under the project's writer lock: stage + check, caches, tree, floe.yaml, lock (last)."""
    fresh = not os.path.lexists(paths.floe_dir)
    try:
        with writer_lock(paths):
            return _install_locked(paths, plan, force, security, concurrency, events)
    except BaseException:
        if fresh:
            remove_tree(paths.floe_dir)  # a rejected first init leaves no `.floe/` behind
        raise


def _install_locked(
    paths: ProjectPaths,
    plan: Plan,
    force: bool,
    security: SecuritySpec | None,
    concurrency: int,
    events: Events,
) -> Outcome:
    staged = stage(paths, plan, concurrency)
    try:
        size, downloaded = plan.verified.checked.size, plan.downloaded()
        what = "Downloading artifacts" if downloaded else "Artifacts already cached"
        events.step(f"{what} ({human_size(size)})")
        commit_blobs(staged, paths, plan.verified.desc, plan.label, force=force)
        ensure_gitignore(paths)
        wrote_tree = commit_tree(staged, paths, plan.label, force=force)
    finally:
        remove_tree(staged.root)
    entry = lock_entry(plan, staged.files)
    outcome = Outcome(
        ref=entry.ref,
        locked=entry,
        tree=staged.parsed,
        size=size,
        downloaded=downloaded,
        signed=plan.verified.signed,
        trust=plan.verified.decision.origin,
        newer=plan.newer,
    )
    if wrote_tree:
        outcome.created.append(f".floe/platform/{plan.label}/")
    _write_floe_yaml(paths, PlatformSpec(ref=entry.ref, version=plan.constraint), security, outcome)
    _write_lock(paths, entry, outcome)
    return outcome
