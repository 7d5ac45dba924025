"""The parent of a domain platform: resolved, verified and cached exactly as `floe init` does.

    <manifest dir>/platform.lock            the parent's lock (floe.release.lockfile format;
                                            commit it next to manifest.yaml)
    <manifest dir>/.floe/cache/oci/         verified blobs of the parent, tagged by version
    <manifest dir>/.floe/platform/vX.Y.Z/   the parent's tree, read-only
    $XDG_CACHE_HOME/floe/oci                the user-wide blob cache every project shares

A lock that still satisfies `extends.version` is reused: the locked digest is read from
the local caches (no network; `--offline` needs nothing else) and verified again against
the anchors in `extends` or, when none are listed, the signers the lock recorded. Else
the constraint is resolved against the registry (`lock_drift`, `lock_downgrade` as for a
project). Nothing lands before every check: the graph is staged and unpacked in a private
folder, then committed to the caches, the tree renamed into place, the lock written last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import FloeError, GateError
from floe.events import Events, NullEvents
from floe.files import atomic_write
from floe.release.cache import (
    ProjectPaths,
    check_project_paths,
    global_cache_dir,
    install_dir,
    locked_files,
    new_temp_dir,
    read_verified_tree,
    remove_tree,
    writer_lock,
)
from floe.release.cached_source import CachedSource
from floe.release.constraints import parse_constraint, parse_tag
from floe.release.lockfile import Lock, LockedPlatform, dumps, read_lock, write_lock
from floe.release.resolve import (
    Source,
    check_against_lock,
    drift_error,
    repository_of,
    resolve,
    source_from,
)
from floe.release.verify import Verified, verify
from floe.tree.model import PlatformTree, TrustedIdentity, TrustPolicy, parse_tree
from floe.trust.decision import LOCKED, PINNED

if TYPE_CHECKING:
    from floe.oci.layout import LayoutTarget
    from floe.oci.options import RegistryOptions
    from floe.oci.target import Descriptor, Target
    from floe.platform.manifest import ExtendsSpec, LoadedManifest

LOCK_NAME = "platform.lock"
GITIGNORE = """\
# Written by floe: the parent platform's caches. Commit ../platform.lock, not these.
cache/
platform/
"""


@dataclass(frozen=True)
class Parent:
    """The verified parent release and where its tree sits on disk."""

    locked: LockedPlatform
    tree: PlatformTree
    tree_dir: Path  # .floe/platform/vX.Y.Z/ next to the manifest (cites file:line)
    trust: str  # floe.yaml-style origin: extends (anchored) | lock | first-use | unverified
    lock_written: bool
    downloaded: int


def lock_path(manifest: Path) -> Path:
    return manifest.parent / LOCK_NAME


def parent_policy(loaded: LoadedManifest, spec: ExtendsSpec) -> TrustPolicy:
    """`extends.trusted_keys` / `trusted_identities`: listing any requires a signature."""
    from floe.signing.keys import load_public_key

    pems: list[str] = []
    for index, entry in enumerate(spec.trusted_keys):
        where = ("extends", "trusted_keys", index)
        if entry.lstrip().startswith("-----BEGIN "):
            pem = entry
        else:
            key_file = loaded.base_dir / entry
            if not key_file.is_file():
                loaded.source_map.fail(where, f"public key file {entry!r} not found")
            pem = key_file.read_text(encoding="utf-8", errors="replace")
        if "PRIVATE KEY" in pem:
            loaded.source_map.fail(
                where,
                "this is a private key; list the parent's public key (cosign.pub) instead",
                slug="compile_secret_detected",
            )
        load_public_key(pem.encode(), source=str(loaded.source_map.locate(where)))
        pems.append(pem)
    identities = [TrustedIdentity(**i.model_dump()) for i in spec.trusted_identities]
    return TrustPolicy(
        require_signed_artifacts=bool(pems or identities),
        trusted_keys=pems,
        trusted_identities=identities,
    )


@dataclass(frozen=True)
class _Job:
    paths: ProjectPaths
    lock_file: Path
    source: Source
    policy: TrustPolicy
    locked: LockedPlatform | None
    options: RegistryOptions
    events: Events

    @property
    def same_repo(self) -> bool:
        return self.locked is not None and repository_of(self.locked.ref) == str(self.source.stored)

    def layouts(self) -> tuple[LayoutTarget, LayoutTarget]:
        from floe.oci.layout import LayoutTarget

        return LayoutTarget(self.paths.oci_dir), LayoutTarget(global_cache_dir())


def _has_manifest(layout: Target, digest: str) -> bool:
    try:
        layout.resolve(digest)
    except FloeError:
        return False
    return True


def _from_lock(job: _Job, locked: LockedPlatform) -> tuple[CachedSource, Descriptor, str]:
    """The locked digest, from the local caches when they hold it (no network then)."""
    project, shared = job.layouts()
    local = [t for t in (project, shared) if _has_manifest(t, locked.manifest_digest)]
    remote = job.source.open(job.options)
    if local:
        reader = CachedSource([*local, project, shared], remote, authoritative=False)
    else:
        reader = CachedSource([shared, project], remote, authoritative=True)
    desc = reader.resolve(locked.manifest_digest)
    if desc.digest != locked.manifest_digest:
        raise drift_error(locked, desc.digest)
    return reader, desc, locked.tag


def _from_registry(job: _Job, spec: ExtendsSpec) -> tuple[CachedSource, Descriptor, str]:
    project, shared = job.layouts()
    reader = CachedSource([shared, project], job.source.open(job.options), authoritative=True)
    resolved = resolve(reader, parse_constraint(spec.version), str(job.source.stored))
    check_against_lock(resolved, job.locked, job.same_repo, allow_downgrade=False)
    return reader, resolved.desc, resolved.tag


def fetch_parent(
    loaded: LoadedManifest,
    *,
    offline: bool = False,
    options: RegistryOptions | None = None,
    events: Events | None = None,
) -> Parent:
    """Resolve (or reuse the lock), verify, stage, commit and lock the parent of `loaded`."""
    from floe.oci.options import RegistryOptions

    spec = loaded.model.extends
    assert spec is not None
    base = options or RegistryOptions()
    opts = replace(base, offline=offline or base.offline)
    root = loaded.base_dir.absolute()
    paths = ProjectPaths(root)
    check_project_paths(paths)
    lock_file = root / LOCK_NAME
    lock = read_lock(lock_file)
    locked = lock.platform if lock is not None else None
    job = _Job(
        paths,
        lock_file,
        source_from(spec.ref, root, root),
        parent_policy(loaded, spec),
        locked,
        opts,
        events or NullEvents(),
    )
    pinned = parse_tag(locked.version) if locked is not None else None
    reuse = locked is not None and job.same_repo and pinned is not None
    if reuse and pinned is not None and parse_constraint(spec.version).matches(pinned):
        assert locked is not None
        reader, desc, tag = _from_lock(job, locked)
    else:
        reader, desc, tag = _from_registry(job, spec)
    verified = verify(
        reader,
        desc,
        tag,
        job.policy,
        locked if job.same_repo else None,
        reference=str(job.source.opened.with_tag(tag)),
        offline=opts.offline,
        events=job.events,
    )
    with writer_lock(paths):
        return _install(job, reader, verified, tag, spec.version)


def _install(
    job: _Job, reader: CachedSource, verified: Verified, tag: str, constraint: str
) -> Parent:
    """Stage + check in a private folder, then caches, tree, lock (last)."""
    from floe.artifact.pack import unpack_artifact
    from floe.oci.copy import copy_graph
    from floe.oci.layout import LayoutTarget
    from floe.tree.model import read_tree_files

    desc = verified.desc
    label = "v" + verified.checked.platform.metadata.version
    staging = new_temp_dir(job.paths.cache_dir)
    try:
        layout = LayoutTarget(staging / "oci")
        concurrency = job.options.concurrency
        copy_graph(reader, layout, desc, tag=None, with_referrers=True, concurrency=concurrency)
        unpack_artifact(layout, desc, staging / "tree", concurrency=concurrency)
        files = read_tree_files(staging / "tree")
        tree = parse_tree(files, origin=str(job.source.with_tag(tag)))
        if "v" + tree.manifest.metadata.version != label:
            raise GateError(
                "artifact_version_mismatch",
                f"{desc.digest} is tagged {tag}, "
                f"but its tree says {tree.manifest.metadata.version}",
                hint="ask the parent's platform team to publish the version it means",
            )
        project, shared = job.layouts()
        copy_graph(layout, shared, desc, tag=None, with_referrers=True)
        copy_graph(layout, project, desc, tag=label, with_referrers=True)
        final = job.paths.version_dir(label)
        try:
            read_verified_tree(final, locked_files(files))
        except GateError:
            job.paths.platform_dir.mkdir(parents=True, exist_ok=True)
            install_dir(staging / "tree", final)
    finally:
        remove_tree(staging)
    ignore = job.paths.floe_dir / ".gitignore"
    if not ignore.exists():
        atomic_write(ignore, GITIGNORE.encode("utf-8"))
    entry = _lock_entry(job, verified, tag, label, constraint, tree, files)
    written = _write_lock(job.lock_file, entry)
    origin = verified.decision.origin
    trust = "extends" if origin == PINNED else origin
    return Parent(entry, tree, final, trust, written, reader.downloaded)


def _lock_entry(
    job: _Job,
    verified: Verified,
    tag: str,
    label: str,
    constraint: str,
    tree: PlatformTree,
    files: dict[str, bytes],
) -> LockedPlatform:
    decision = verified.decision
    signers = decision.signers
    if decision.origin == LOCKED and job.locked is not None:  # the anchor is never forgotten
        kept = {s.name: s for s in (*job.locked.signers, *signers)}
        signers = tuple(kept[name] for name in sorted(kept))
    return LockedPlatform(
        ref=job.source.with_tag(tag),
        constraint=constraint,
        version=label,
        tag=tag,
        manifest_digest=verified.desc.digest,
        content_digest=tree.manifest.metadata.digest,
        name=tree.manifest.metadata.name,
        signer=verified.signer,
        files=locked_files(files),
        signers=signers,
    )


def _write_lock(path: Path, entry: LockedPlatform) -> bool:
    lock = Lock((entry,))
    if os.path.isfile(path) and path.read_bytes() == dumps(lock):
        return False
    write_lock(path, lock)
    return True
