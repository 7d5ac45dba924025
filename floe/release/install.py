"""Installing a verified release: stage and check in private, then commit (one way for all).

A data team's `floe init`/`pull` (floe.project.install) and a domain platform's parent
(floe.platform.inherit_source) both land a release the same way. The graph is copied into
a private staging layout (`<cache>/.tmp-*/oci`) and unpacked there into a tree (titles,
tar members, sizes, the tree's schema and content digest are checked by the unpacker);
only then are blobs and tags committed to the user-wide and the project caches
(content-addressed files, each written temp-then-rename) and the tree renamed into
`.floe/platform/vX/`. A rejection at any step leaves both caches as they were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import FloeError, GateError
from floe.release.cache import (
    ProjectPaths,
    global_cache_dir,
    install_dir,
    locked_files,
    new_temp_dir,
    read_verified_tree,
)
from floe.trust.decision import LOCKED

if TYPE_CHECKING:
    from floe.oci.layout import LayoutTarget
    from floe.oci.target import Descriptor, Target
    from floe.release.cached_source import CachedSource
    from floe.release.lockfile import LockedPlatform, LockedSigner
    from floe.tree.model import PlatformTree
    from floe.trust.decision import Decision


def layouts(paths: ProjectPaths) -> tuple[LayoutTarget, LayoutTarget]:
    """The project's blob cache and the user-wide one."""
    from floe.oci.layout import LayoutTarget

    return LayoutTarget(paths.oci_dir), LayoutTarget(global_cache_dir())


@dataclass(frozen=True)
class Staged:
    root: Path  # <cache>/.tmp-*
    layout: LayoutTarget  # root/oci: the graph and its signatures
    tree: Path  # root/tree: the unpacked, checked tree
    files: dict[str, bytes]
    parsed: PlatformTree


def stage(
    paths: ProjectPaths,
    reader: Target,
    desc: Descriptor,
    tag: str,
    label: str,
    *,
    concurrency: int,
    origin: str = "platform tree",
    hint: str = "ask the platform team to publish the version it means; nothing was written",
) -> Staged:
    """Copy the graph into a private layout and unpack it there (every check runs here);
    the tree must say the version `label` (`vX.Y.Z`) names, else `artifact_version_mismatch`.

    The caller removes `Staged.root` (floe.release.cache.remove_tree) when it is done."""
    from floe.artifact.pack import unpack_artifact
    from floe.oci.copy import copy_graph
    from floe.oci.layout import LayoutTarget
    from floe.release.cache import remove_tree
    from floe.tree.model import parse_tree, read_tree_files

    root = new_temp_dir(paths.cache_dir)
    try:
        layout = LayoutTarget(root / "oci")
        copy_graph(reader, layout, desc, tag=None, with_referrers=True, concurrency=concurrency)
        tree = root / "tree"
        unpack_artifact(layout, desc, tree, concurrency=concurrency)
        files = read_tree_files(tree)
        parsed = parse_tree(files, origin=origin)
        version = parsed.manifest.metadata.version
        if "v" + version != label:
            raise GateError(
                "artifact_version_mismatch",
                f"{desc.digest} is tagged {tag}, but its tree says {version}",
                hint=hint,
            )
    except BaseException:
        remove_tree(root)
        raise
    return Staged(root, layout, tree, files, parsed)


def commit_blobs(
    staged: Staged, paths: ProjectPaths, desc: Descriptor, label: str, *, force: bool = False
) -> None:
    """The checked graph into the user-wide cache, then the project's (tagged `label`)."""
    from floe.oci.copy import copy_graph

    project, shared = layouts(paths)
    for layout, tag in ((shared, None), (project, label)):
        copy_graph(staged.layout, layout, desc, tag=tag, with_referrers=True)
        if force:
            _replace_blobs(staged.layout, layout)


def _replace_blobs(fresh: LayoutTarget, layout: LayoutTarget) -> None:
    """--force: each blob of the fresh graph replaces the cached one (atomic rename)."""
    import shutil
    import uuid

    for blob in sorted((fresh.path / "blobs" / "sha256").iterdir()):
        if blob.name.startswith("."):
            continue
        dest = layout.path / "blobs" / "sha256" / blob.name
        tmp = dest.parent / f".tmp-{uuid.uuid4().hex}"
        shutil.copyfile(blob, tmp)
        os.replace(tmp, dest)


def commit_tree(staged: Staged, paths: ProjectPaths, label: str, *, force: bool = False) -> bool:
    """Rename the checked tree into `.floe/platform/<label>/` unless an identical one is there."""
    final = paths.version_dir(label)
    if not force and _already_there(final, staged.files):
        return False
    paths.platform_dir.mkdir(parents=True, exist_ok=True)
    install_dir(staged.tree, final)
    return True


def _already_there(final: Path, files: dict[str, bytes]) -> bool:
    try:
        read_verified_tree(final, locked_files(files))
    except GateError:
        return False
    return True


def _has_manifest(layout: Target, digest: str) -> bool:
    try:
        layout.resolve(digest)
    except FloeError:
        return False
    return True


def read_locked(
    paths: ProjectPaths, remote: Target, locked: LockedPlatform, *, force: bool = False
) -> tuple[CachedSource, Descriptor]:
    """The locked digest, read from the local caches when they hold it (no network then);
    `force` reads everything from `remote` again. A digest that moved is `lock_drift`."""
    from floe.release.cached_source import CachedSource
    from floe.release.resolve import drift_error

    project, shared = layouts(paths)
    digest = locked.manifest_digest
    local = [] if force else [t for t in (project, shared) if _has_manifest(t, digest)]
    if local:
        reader = CachedSource([*local, project, shared], remote, authoritative=False)
    else:
        reader = CachedSource([] if force else [shared, project], remote, authoritative=True)
    desc = reader.resolve(digest)
    if desc.digest != digest:
        raise drift_error(locked, desc.digest)
    return reader, desc


def kept_signers(
    decision: Decision, locked: tuple[LockedSigner, ...] | None
) -> tuple[LockedSigner, ...]:
    """The signers a new lock records: anchored by the lock, every recorded one is kept."""
    signers = decision.signers
    if decision.origin == LOCKED and locked is not None:  # the anchor is never forgotten
        kept = {s.name: s for s in (*locked, *signers)}
        signers = tuple(kept[name] for name in sorted(kept))
    return signers
