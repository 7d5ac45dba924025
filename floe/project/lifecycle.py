"""The data team's platform lifecycle: init, pull, and the verified load every command uses.

    init      resolve a constraint (or reuse the lock), verify signatures, fill the
              caches, materialize the tree, write floe.yaml, write the lock (last)
    pull      the same from floe.yaml + lock: the locked digest unless --upgrade,
              a moved tag (`lock_drift`) and rollbacks (`lock_downgrade`) refused,
              --force downloads and verifies everything again
    load      no network: re-verify every cached file against the lock, parse the tree

Trust: `floe.trust.decision.decide` is the one check of every path: floe.yaml's
anchors, else the signers the lock recorded, else trust on first use (loudly warned and
recorded); never the artifact's own list of keys.

Order of effects, so a process killed anywhere leaves the old state or the new one:
resolve + verify (nothing written, not even `.floe/`) -> take `.floe/.lock` -> blobs
into the user-wide cache -> blobs into the project cache -> tree built in a temp
folder and renamed -> floe.yaml -> artifacts.lock.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import FloeError, GateError, UsageError
from floe.files import read_text
from floe.project.cache import (
    FORCE_HINT,
    CachedSource,
    ProjectPaths,
    ensure_gitignore,
    global_cache_dir,
    install_dir,
    locked_files,
    new_temp_dir,
    read_verified_tree,
    remove_tree,
    writer_lock,
)
from floe.project.constraints import (
    Constraint,
    parse_constraint,
    parse_tag,
    resolve_constraint,
    version_label,
)
from floe.project.floe_yaml import (
    FloeYaml,
    PlatformSpec,
    SecuritySpec,
    read_floe_yaml,
    write_floe_yaml,
)
from floe.project.lockfile import Lock, LockedPlatform, read_lock, write_lock
from floe.tree.model import (
    PlatformManifest,
    PlatformTree,
    TrustedIdentity,
    TrustPolicy,
    parse_tree,
)
from floe.trust.cached import check_cached
from floe.trust.decision import Decision, TrustRequest, decide

if TYPE_CHECKING:
    from semver import Version

    from floe.oci.layout import LayoutTarget
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import Reference
    from floe.oci.target import Descriptor, Target

INIT_HINT = "run `floe init --platform=VERSION` (for example --platform=v1.2.3)"
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class LoadedPlatform:
    tree: PlatformTree
    tree_dir: Path
    ref: str
    version: str  # v1.2.3
    manifest_digest: str
    content_digest: str
    signer: str | None


# ---- reading the project ----------------------------------------------------------------


def _not_initialized(why: str) -> UsageError:
    return UsageError("platform_not_initialized", why, hint=INIT_HINT)


def _platform_config(paths: ProjectPaths) -> tuple[FloeYaml, PlatformSpec]:
    config = read_floe_yaml(paths.floe_yaml)
    if config is None:
        raise _not_initialized(f"{paths.floe_yaml} does not exist")
    if config.platform is None:
        raise _not_initialized(f"{paths.floe_yaml} has no platform block")
    return config, config.platform


def read_project(paths: ProjectPaths) -> tuple[FloeYaml, Lock]:
    """floe.yaml (with a platform block) and the lock, or `platform_not_initialized`."""
    config, _ = _platform_config(paths)
    lock = read_lock(paths.lock_file)
    if lock is None:
        raise _not_initialized(f"{paths.lock_file} does not exist")
    return config, lock


def _repository(ref: str) -> str:
    from floe.oci.reference import parse_reference

    return parse_reference(ref).repository_ref()


def check_lock_current(config: FloeYaml, locked: LockedPlatform) -> None:
    """floe.yaml must still accept what the lock pinned (`lock_stale` otherwise)."""
    assert config.platform is not None
    constraint = parse_constraint(config.platform.version)
    version = parse_tag(locked.version)
    wanted, pinned = _repository(config.platform.ref), _repository(locked.ref)
    if version is None or not constraint.matches(version) or wanted != pinned:
        raise GateError(
            "lock_stale",
            f"floe.yaml asks for {config.platform.version} from {wanted}, "
            f"but artifacts.lock pins {locked.version} from {pinned}",
            hint="run `floe platform pull --upgrade` to resolve floe.yaml again",
        )


def load_verified_platform(project_dir: Path) -> LoadedPlatform:
    """The project's platform tree, checked file by file against the lock; no network."""
    paths = ProjectPaths(Path(project_dir))
    config, lock = read_project(paths)
    locked = lock.platform
    check_lock_current(config, locked)
    tree_dir = paths.version_dir(locked.version)
    files = read_verified_tree(tree_dir, locked.files)
    tree = parse_tree(files, origin=str(tree_dir))
    if tree.manifest.metadata.digest != locked.content_digest:
        raise GateError(
            "cache_corrupt",
            f"{tree_dir} has content digest {tree.manifest.metadata.digest}, "
            f"the lock says {locked.content_digest}",
            hint=FORCE_HINT,
        )
    check_cached(paths.oci_dir, locked.manifest_digest, locked, tree.manifest.security)
    return LoadedPlatform(
        tree=tree,
        tree_dir=tree_dir,
        ref=locked.ref,
        version=locked.version,
        manifest_digest=locked.manifest_digest,
        content_digest=locked.content_digest,
        signer=locked.signer,
    )


# ---- where the platform comes from ------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """A platform repository: as floe.yaml and the lock write it, and as opened here.

    A relative `oci-layout://` path in floe.yaml or the lock is relative to the
    project; on the command line it is relative to the working directory.
    """

    stored: Reference  # repository only; layout paths relative to the project
    opened: Reference  # layout paths absolute

    def with_tag(self, tag: str) -> str:
        return str(self.stored.with_tag(tag))


def _source(text: str, base: Path, project: Path, *, pinned: bool = False) -> Source:
    """`pinned`: text is a stored reference with its tag (floe.yaml, lock), dropped here."""
    from dataclasses import replace

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


def choose_source(
    project: Path, registry: str | None, config: FloeYaml | None, locked: LockedPlatform | None
) -> Source:
    """--registry, else floe.yaml's platform.ref, else the lock, else FLOE_REGISTRY / default."""
    from floe.oci.resolve import configured_registry

    if registry:
        return _source(registry, Path.cwd(), project)
    if config is not None and config.platform is not None:
        return _source(config.platform.ref, project, project, pinned=True)
    if locked is not None:
        return _source(locked.ref, project, project, pinned=True)
    return _source(configured_registry(None), Path.cwd(), project)


def _open(source: Source, options: RegistryOptions) -> Target:
    from floe.oci.resolve import target_for

    return target_for(source.opened, options)


# ---- the trust policy ---------------------------------------------------------------------


def _is_inline_pem(entry: str) -> bool:
    return entry.lstrip().startswith("-----BEGIN ")


def _read_key(entry: str, base: Path) -> str:
    """A trusted key from floe.yaml: inline PEM, or a path relative to floe.yaml."""
    if _is_inline_pem(entry):
        return entry
    return read_text(
        base / entry,
        slug="trusted_key_unreadable",
        what="trusted key",
        hint="list PEM public keys (cosign.pub) relative to floe.yaml",
    )


def project_policy(
    config: FloeYaml | None,
    keys: tuple[Path, ...],
    project: Path,
    identities: tuple[TrustedIdentity, ...] = (),
) -> TrustPolicy:
    """floe.yaml's `security:` plus `--key` / `--identity` (which imply signing is required)."""
    from floe.signing.keys import load_public_key

    security = config.security if config is not None else None
    pems = [_read_key(entry, project) for entry in (security.trusted_keys if security else [])]
    pems += [_read_key(str(path.absolute()), project) for path in keys]
    for number, pem in enumerate(pems, start=1):
        load_public_key(pem.encode(), source=f"floe.yaml trusted_keys[{number}]")
    require = bool(keys or identities) or bool(security and security.require_signed_artifacts)
    listed = list(security.trusted_identities) if security else []
    listed += [i for i in identities if i not in listed]
    return TrustPolicy(
        require_signed_artifacts=require, trusted_keys=pems, trusted_identities=listed
    )


def _read_platform_manifest(src: Target, desc: Descriptor) -> tuple[PlatformManifest, int]:
    """The artifact's manifest.json (its config blob) and the artifact's content size."""
    from pydantic import ValidationError

    from floe.artifact.pack import read_manifest
    from floe.oci.target import FLOE_CONFIG, Descriptor

    manifest = read_manifest(src, desc)
    config = Descriptor.from_json(manifest.get("config") or {})
    if config.media_type != FLOE_CONFIG:
        raise UsageError(
            "artifact_not_floe",
            f"{desc.digest} is not a floe platform (config {config.media_type})",
            hint="point at an artifact published with `floe platform publish`",
        )
    size = config.size + sum(int(layer.get("size", 0)) for layer in manifest["layers"])
    try:
        return PlatformManifest.model_validate_json(src.fetch_bytes(config)), size
    except ValidationError as exc:
        raise GateError(
            "tree_invalid", f"{desc.digest}: manifest.json: {exc.errors()[0]['msg']}"
        ) from None


@dataclass
class Verified:
    """An artifact that passed the trust policy; nothing has been written yet."""

    desc: Descriptor
    platform: PlatformManifest
    size: int
    decision: Decision

    @property
    def signer(self) -> str | None:
        return self.decision.signer

    @property
    def signed(self) -> bool:
        return self.decision.report.ok


def _verify(
    src: Target,
    desc: Descriptor,
    policy: TrustPolicy,
    locked: LockedPlatform | None,
    ref: str,
    offline: bool,
    say: Say,
    warn: Say,
) -> Verified:
    """The one verification of every pull path (init, pull, --force, --upgrade); writes nothing."""
    from floe.signing.verify import ATTESTATION

    platform, size = _read_platform_manifest(src, desc)
    decision = decide(src, desc, TrustRequest(policy, platform.security, locked, ref, not offline))
    report = decision.report
    if report.ok:
        say("  ✓ Verifying signature")
        warning = decision.warning()
        if warning is not None:
            warn(f"  {warning}")
    elif any(s.format != ATTESTATION for s in report.signatures):
        say("  ! Signature not checked: no trusted key (require_signed_artifacts: false)")
    else:
        say("  ! Unsigned artifact (require_signed_artifacts: false)")
    return Verified(desc, platform, size, decision)


# ---- resolving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    tag: str
    version: Version
    desc: Descriptor

    @property
    def label(self) -> str:
        return version_label(self.version)


def _resolve(src: Target, constraint: Constraint, where: str) -> Resolved:
    tag, version = resolve_constraint(constraint, src.tags(), where)
    return Resolved(tag, version, src.resolve(tag))


def _check_against_lock(
    resolved: Resolved, locked: LockedPlatform | None, same_repo: bool, allow_downgrade: bool
) -> None:
    """A moved tag is `lock_drift`; an older version than the lock is `lock_downgrade`."""
    if locked is None or not same_repo:
        return
    pinned = parse_tag(locked.version)
    if pinned == resolved.version and resolved.desc.digest != locked.manifest_digest:
        raise _drift(locked, resolved.desc.digest)
    if pinned is not None and resolved.version < pinned and not allow_downgrade:
        raise GateError(
            "lock_downgrade",
            f"resolving would go back from {locked.version} (locked) to {resolved.label}",
            hint="pass --allow-downgrade if the rollback is intended",
            details={"locked": locked.version, "resolved": resolved.label},
        )


def _drift(locked: LockedPlatform, digest: str) -> GateError:
    return GateError(
        "lock_drift",
        f"{locked.ref} now points to {digest}, but artifacts.lock pins "
        f"{locked.manifest_digest}; versions are immutable, so the registry changed under you",
        hint="ask the platform team why the tag moved; publish a new version instead. "
        "To accept the new content: `floe platform cache clear --all` then `floe init`",
        details={"locked": locked.manifest_digest, "registry": digest},
    )


def _check_drift(src: Target, locked: LockedPlatform) -> None:
    """Compare the registry's tag with the lock (only where the registry is consulted)."""
    try:
        current = src.resolve(locked.tag)
    except UsageError as exc:
        if exc.slug.endswith("not_found"):
            return  # the tag is gone; the locked digest may still be there
        raise
    if current.digest != locked.manifest_digest:
        raise _drift(locked, current.digest)


# ---- installing -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What init or pull did, for the CLI to print."""

    ref: str
    locked: LockedPlatform
    tree: PlatformTree
    size: int
    downloaded: int
    signed: bool
    trust: str  # where trust came from: floe.yaml | lock | first-use | unverified
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


def _layouts(paths: ProjectPaths) -> tuple[LayoutTarget, LayoutTarget]:
    from floe.oci.layout import LayoutTarget

    return LayoutTarget(paths.oci_dir), LayoutTarget(global_cache_dir())


def _fill_caches(
    paths: ProjectPaths,
    reader: Target,
    verified: Verified,
    label: str,
    force: bool,
    options: RegistryOptions,
) -> None:
    """Copy the verified graph (with its signatures) into the user-wide and project layouts."""
    from floe.oci.copy import copy_graph
    from floe.oci.layout import LayoutTarget

    project, shared = _layouts(paths)
    if not force:
        copy_graph(
            reader,
            shared,
            verified.desc,
            tag=None,
            with_referrers=True,
            concurrency=options.concurrency,
        )
        copy_graph(
            shared,
            project,
            verified.desc,
            tag=label,
            with_referrers=True,
            concurrency=options.concurrency,
        )
        return
    # --force: download everything into a fresh layout, then replace each blob of the
    # graph in both caches (atomic renames of content-addressed files).
    fresh = LayoutTarget(new_temp_dir(paths.cache_dir) / "oci")
    copy_graph(
        reader, fresh, verified.desc, tag=None, with_referrers=True, concurrency=options.concurrency
    )
    for layout in (shared, project):
        copy_graph(
            fresh,
            layout,
            verified.desc,
            tag=None,
            with_referrers=True,
            concurrency=options.concurrency,
        )
        _replace_blobs(fresh, layout)
    project.tag(verified.desc, label)
    remove_tree(fresh.path.parent)


def _replace_blobs(fresh: LayoutTarget, layout: LayoutTarget) -> None:
    import shutil
    import uuid

    for blob in sorted((fresh.path / "blobs" / "sha256").iterdir()):
        if blob.name.startswith("."):
            continue
        dest = layout.path / "blobs" / "sha256" / blob.name
        tmp = dest.parent / f".tmp-{uuid.uuid4().hex}"
        shutil.copyfile(blob, tmp)
        os.replace(tmp, dest)


def _materialize(
    paths: ProjectPaths, desc: Descriptor, label: str, force: bool
) -> tuple[dict[str, bytes], bool]:
    """Build the tree from the project layout; install it unless an identical one is there.

    Returns the files and whether the version folder was (re)written.
    """
    from floe.artifact.pack import unpack_artifact
    from floe.oci.layout import LayoutTarget
    from floe.tree.model import read_tree_files

    work = new_temp_dir(paths.platform_dir)
    try:
        built = work / "tree"
        try:
            unpack_artifact(LayoutTarget(paths.oci_dir), desc, built)
        except GateError as exc:
            if exc.slug != "pull_digest_mismatch":
                raise
            raise GateError(
                "cache_corrupt",
                f"the project blob cache {paths.oci_dir} is damaged: {exc.message}",
                hint=FORCE_HINT,
            ) from None
        files = read_tree_files(built)
        final = paths.version_dir(label)
        if not force and _already_there(final, files):
            return files, False
        install_dir(built, final)
        return files, True
    finally:
        remove_tree(work)


def _already_there(final: Path, files: dict[str, bytes]) -> bool:
    try:
        read_verified_tree(final, locked_files(files))
    except GateError:
        return False
    return True


def _lock_entry(
    source: Source,
    resolved_tag: str,
    label: str,
    constraint: str,
    verified: Verified,
    files: dict[str, bytes],
) -> LockedPlatform:
    tree = parse_tree(files)
    return LockedPlatform(
        ref=source.with_tag(resolved_tag),
        constraint=constraint,
        version=label,
        tag=resolved_tag,
        manifest_digest=verified.desc.digest,
        content_digest=tree.manifest.metadata.digest,
        name=tree.manifest.metadata.name,
        signer=verified.signer,
        files=locked_files(files),
        signers=verified.decision.signers,
    )


@dataclass(frozen=True)
class _Job:
    """One init or pull: the project, where from, whose trust, what is locked, how to fetch."""

    paths: ProjectPaths
    source: Source
    policy: TrustPolicy
    locked: LockedPlatform | None
    options: RegistryOptions
    say: Say
    warn: Say

    @property
    def same_repo(self) -> bool:
        """The lock pins this very repository (else the lock says nothing about it)."""
        return self.locked is not None and _repository(self.locked.ref) == str(self.source.stored)

    def remote(self) -> Target:
        return _open(self.source, self.options)


@dataclass(frozen=True)
class Plan:
    """What to install: a verified artifact and how to read it."""

    source: Source
    reader: Target
    verified: Verified
    tag: str
    label: str
    constraint: str
    downloaded: Callable[[], int]


def _install(job: _Job, plan: Plan, *, force: bool, security: SecuritySpec | None) -> Outcome:
    """Under the project's writer lock: caches, tree, floe.yaml, then the lock (last)."""
    paths, options, say = job.paths, job.options, job.say
    with writer_lock(paths):
        ensure_gitignore(paths)
        _fill_caches(paths, plan.reader, plan.verified, plan.label, force, options)
        size = plan.verified.size
        downloaded = plan.downloaded()
        if downloaded:
            say(f"  ✓ Downloading artifacts ({_size(size)})")
        else:
            say(f"  ✓ Artifacts already cached ({_size(size)})")
        files, wrote_tree = _materialize(paths, plan.verified.desc, plan.label, force)
        entry = _lock_entry(
            plan.source, plan.tag, plan.label, plan.constraint, plan.verified, files
        )
        outcome = Outcome(
            ref=entry.ref,
            locked=entry,
            tree=parse_tree(files),
            size=size,
            downloaded=downloaded,
            signed=plan.verified.signed,
            trust=plan.verified.decision.origin,
        )
        if wrote_tree:
            outcome.created.append(f".floe/platform/{plan.label}/")
        spec = PlatformSpec(ref=entry.ref, version=plan.constraint)
        _write_floe_yaml(paths, spec, security, outcome)
        _write_lock(paths, entry, outcome)
        return outcome


def _size(size: int) -> str:
    from floe.events import human_size

    return human_size(size)


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
    from floe.project.lockfile import dumps

    lock = Lock((entry,))
    existing = paths.lock_file.read_bytes() if paths.lock_file.exists() else None
    if existing == dumps(lock):
        return
    write_lock(paths.lock_file, lock)
    outcome.lock_written = True


# ---- plans: what to install, verified, before anything is written ----------------------------


def _plan_from_registry(
    job: _Job, constraint: Constraint, *, allow_downgrade: bool, force: bool
) -> Plan:
    """Resolve the constraint against the registry's tags, check it against the lock, verify."""
    source, locked = job.source, job.locked
    project, shared = _layouts(job.paths)
    reader = CachedSource([] if force else [shared, project], job.remote(), authoritative=True)
    resolved = _resolve(reader, constraint, str(source.stored))
    _check_against_lock(resolved, locked, job.same_repo, allow_downgrade)
    job.say(f"Pulling platform artifacts from {source.with_tag(resolved.tag)}")
    reference = str(source.opened.with_tag(resolved.tag))
    verified = _verify(
        reader, resolved.desc, job.policy, locked, reference, job.options.offline, job.say, job.warn
    )
    return Plan(
        source,
        reader,
        verified,
        resolved.tag,
        resolved.label,
        constraint.text,
        lambda: reader.downloaded,
    )


def _has_manifest(layout: Target, digest: str) -> bool:
    try:
        layout.resolve(digest)
    except FloeError:
        return False
    return True


def _plan_from_lock(
    job: _Job, locked: LockedPlatform, constraint: str, *, force: bool, check_drift: bool
) -> Plan:
    """The locked digest, read from the local caches when they have it (no network)."""
    source, options = job.source, job.options
    project, shared = _layouts(job.paths)
    remote = job.remote()
    if check_drift:
        _check_drift(remote, locked)
    local = (
        [] if force else [t for t in (project, shared) if _has_manifest(t, locked.manifest_digest)]
    )
    if local:
        reader = CachedSource([*local, project, shared], remote, authoritative=False)
    else:
        reader = CachedSource([] if force else [shared, project], remote, authoritative=True)
    job.say(f"Pulling platform artifacts from {locked.ref}")
    desc = reader.resolve(locked.manifest_digest)
    if desc.digest != locked.manifest_digest:
        raise _drift(locked, desc.digest)
    reference = str(source.opened.with_tag(locked.tag))
    offline = options.offline or bool(local)
    verified = _verify(reader, desc, job.policy, locked, reference, offline, job.say, job.warn)
    return Plan(
        source,
        reader,
        verified,
        locked.tag,
        locked.version,
        constraint,
        lambda: reader.downloaded,
    )


def _security_with_anchors(
    config: FloeYaml | None,
    keys: tuple[Path, ...],
    identities: tuple[TrustedIdentity, ...],
    project: Path,
) -> SecuritySpec | None:
    """floe.yaml's security block with --key / --identity added (None: leave it alone)."""
    if not keys and not identities:
        return None
    current = (config.security if config is not None else None) or SecuritySpec()
    listed = list(current.trusted_keys)
    for key in keys:
        rel = Path(os.path.relpath(key.absolute(), project)).as_posix()
        if rel not in listed:
            listed.append(rel)
    trusted = list(current.trusted_identities)
    trusted += [i for i in identities if i not in trusted]
    return SecuritySpec(
        require_signed_artifacts=True, trusted_keys=listed, trusted_identities=trusted
    )


def _locked(paths: ProjectPaths) -> LockedPlatform | None:
    lock = read_lock(paths.lock_file)
    return lock.platform if lock is not None else None


def _options(options: RegistryOptions | None, offline: bool) -> RegistryOptions:
    from dataclasses import replace

    from floe.oci.options import RegistryOptions

    base = options or RegistryOptions()
    return replace(base, offline=offline or base.offline)


def init_project(
    project_dir: Path,
    constraint_text: str,
    *,
    registry: str | None = None,
    keys: tuple[Path, ...] = (),
    identities: tuple[TrustedIdentity, ...] = (),
    offline: bool = False,
    allow_downgrade: bool = False,
    options: RegistryOptions | None = None,
    say: Say = _quiet,
    warn: Say = _quiet,
) -> Outcome:
    """`floe init --platform=CONSTRAINT`: reuse the lock when it satisfies, else resolve."""
    paths = ProjectPaths(Path(project_dir).absolute())
    constraint = parse_constraint(constraint_text)
    config = read_floe_yaml(paths.floe_yaml)
    locked = _locked(paths)
    source = choose_source(paths.root, registry, config, locked)
    policy = project_policy(config, keys, paths.root, identities)
    job = _Job(paths, source, policy, locked, _options(options, offline), say, warn)
    pinned = parse_tag(locked.version) if locked is not None else None
    if locked is not None and job.same_repo and pinned is not None and constraint.matches(pinned):
        plan = _plan_from_lock(job, locked, constraint.text, force=False, check_drift=False)
    else:
        plan = _plan_from_registry(job, constraint, allow_downgrade=allow_downgrade, force=False)
    security = _security_with_anchors(config, keys, identities, paths.root)
    return _install(job, plan, force=False, security=security)


def pull_project(
    project_dir: Path,
    *,
    force: bool = False,
    upgrade: bool = False,
    allow_downgrade: bool = False,
    offline: bool = False,
    options: RegistryOptions | None = None,
    say: Say = _quiet,
    warn: Say = _quiet,
) -> Outcome:
    """`floe platform pull`: bring the caches in line with floe.yaml and the lock."""
    paths = ProjectPaths(Path(project_dir).absolute())
    config, spec = _platform_config(paths)
    locked = _locked(paths)
    source = _source(spec.ref, paths.root, paths.root, pinned=True)
    constraint = parse_constraint(spec.version)
    opts = _options(options, offline)
    job = _Job(paths, source, project_policy(config, (), paths.root), locked, opts, say, warn)
    if locked is None or upgrade or not job.same_repo:
        plan = _plan_from_registry(job, constraint, allow_downgrade=allow_downgrade, force=force)
    else:
        check_lock_current(config, locked)
        plan = _plan_from_lock(
            job, locked, constraint.text, force=force, check_drift=not opts.offline
        )
    return _install(job, plan, force=force, security=None)


# ---- a single reference outside a project (`floe platform pull REF --out DIR`) ------------


def verify_reference(
    src: Target,
    desc: Descriptor,
    *,
    keys: tuple[Path, ...] = (),
    identities: tuple[TrustedIdentity, ...] = (),
    offline: bool = False,
    say: Say = _quiet,
    warn: Say = _quiet,
) -> Decision:
    """The same verification as every project pull, for a download outside a project.

    `--key` / `--identity` are the anchors; without them a floe platform's own policy
    applies as on first use (with the warning), and nothing is recorded anywhere.
    Call it before writing anything.
    """
    from floe.artifact.pack import read_manifest
    from floe.oci.target import FLOE_CONFIG

    policy = project_policy(None, keys, Path.cwd(), identities)
    config = (read_manifest(src, desc).get("config") or {}).get("mediaType")
    platform = (
        _read_platform_manifest(src, desc)[0].security if config == FLOE_CONFIG else TrustPolicy()
    )
    decision = decide(src, desc, TrustRequest(policy, platform, sigstore_network=not offline))
    if decision.report.ok:
        say("  ✓ Verifying signature")
        warning = decision.warning()
        if warning is not None:
            warn(f"  {warning}")
    return decision
