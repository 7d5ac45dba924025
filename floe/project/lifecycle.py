"""The data team's platform lifecycle: init, pull, and the verified load every command uses.

    init      resolve a constraint (or reuse the lock), verify, stage, check, commit,
              materialize the tree, write floe.yaml, write the lock (last)
    pull      the same from floe.yaml + lock: the locked digest unless --upgrade; a moved
              tag (`lock_drift`) and rollbacks (`lock_downgrade`) refused; --accept-drift
              takes a moved tag deliberately, verified against the lock's signers;
              --force downloads and verifies everything again
    load      no network: re-verify every cached file against the lock, parse the tree
    candidate `floe compile --platform`: resolve and verify like init, cache the blobs,
              keep the tree in memory; never the lock, floe.yaml or `.floe/platform/`

The jobs live in their own modules: floe.release.resolve (where from, which version),
floe.release.verify (shape, versions, trust: one call into floe.trust),
floe.project.install (stage, check, commit, lock). Progress goes to an
floe.project.events.Events; nothing here prints. `offline` has one meaning: never
use the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from floe import __version__
from floe.errors import FloeError, GateError, UsageError
from floe.project.events import QUIET, Events
from floe.release.cache import (
    FORCE_HINT,
    ProjectPaths,
    check_project_paths,
    clean_leftovers_if_idle,
    read_verified_tree,
)
from floe.release.constraints import Constraint, Newer, parse_constraint, parse_tag
from floe.release.lockfile import Lock, LockedPlatform, read_lock
from floe.release.resolve import Source, pins_repository, repository_of, source_from
from floe.tree.model import PlatformTree, TrustedIdentity, TrustPolicy, load_locked_tree

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.oci.target import Descriptor, Target
    from floe.project.floe_yaml import FloeYaml, PlatformSpec, SecuritySpec
    from floe.project.install import Outcome, Plan
    from floe.release.cached_source import CachedSource

# init, pull and the candidate import their machinery (floe.project.install,
# floe.release.cached_source, .verify, .install) when they run: `floe compile` reads
# the lock and the cache only, and pays for none of it.

__all__ = [
    "Candidate",
    "LoadedPlatform",
    "Outcome",
    "fetch_candidate",
    "init_project",
    "load_verified_platform",
    "pull_project",
]


def __getattr__(name: str) -> object:
    if name == "Outcome":  # re-exported for callers; loaded on first use
        from floe.project.install import Outcome

        return Outcome
    raise AttributeError(name)


INIT_HINT = "run `floe init --platform=VERSION` (for example --platform=v1.2.3)"


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
    from floe.project.floe_yaml import read_floe_yaml

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


def check_lock_current(config: FloeYaml, locked: LockedPlatform) -> None:
    """floe.yaml must still accept what the lock pinned (`lock_stale` otherwise)."""
    assert config.platform is not None
    _check_lock(config.platform.ref, config.platform.version, locked)


def _check_lock(ref: str, constraint_text: str, locked: LockedPlatform) -> None:
    constraint = parse_constraint(constraint_text)
    version = parse_tag(locked.version)
    wanted, pinned = repository_of(ref), repository_of(locked.ref)
    if version is None or not constraint.matches(version) or wanted != pinned:
        raise GateError(
            "lock_stale",
            f"floe.yaml asks for {constraint_text} from {wanted}, "
            f"but artifacts.lock pins {locked.version} from {pinned}",
            hint="run `floe platform pull --upgrade` to resolve floe.yaml again",
        )


def load_verified_platform(project_dir: Path, *, checked_dir: Path | None = None) -> LoadedPlatform:
    """The project's platform tree, checked file by file against the lock; no network.

    `checked_dir` (compile's report folder): where sealed records of the checks that
    passed are kept (see _Checked), read before and written after a load that passed.
    None: every check runs in full and nothing is written.
    """
    paths = ProjectPaths(Path(project_dir))
    check_project_paths(paths)
    checked = _Checked(checked_dir)
    ref, constraint = _checked_platform(paths, checked)
    lock = read_lock(paths.lock_file)
    if lock is None:
        raise _not_initialized(f"{paths.lock_file} does not exist")
    clean_leftovers_if_idle(paths)
    locked = lock.platform
    _check_lock(ref, constraint, locked)
    tree_dir = paths.version_dir(locked.version)
    files = read_verified_tree(tree_dir, locked.files)
    tree = load_locked_tree(files, origin=str(tree_dir))  # bytes pinned by the lock
    if tree.manifest.metadata.digest != locked.content_digest:
        raise GateError(
            "cache_corrupt",
            f"{tree_dir} has content digest {tree.manifest.metadata.digest}, "
            f"the lock says {locked.content_digest}",
            hint=FORCE_HINT,
        )
    _check_signature(paths, locked, tree, checked)
    checked.write()  # only now: every check of this load passed
    return LoadedPlatform(
        tree=tree,
        tree_dir=tree_dir,
        ref=locked.ref,
        version=locked.version,
        manifest_digest=locked.manifest_digest,
        content_digest=locked.content_digest,
        signer=locked.signer,
    )


FLOE_YAML_CHECKED = "floe-yaml-checked"  # sealed: see _checked_platform
TRUST_CHECKED = "trust-checked"  # sealed: see _check_signature


class _Checked:
    """Sealed records of checks that passed, in compile's report folder (never `.floe/`).

    Sealed with the user's key outside the project (floe.project.sealed): a record
    copied in, edited or sealed elsewhere is ignored, and the check runs in full. A
    record binds exactly the inputs of its check, so it is right wherever it lies.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.pending: dict[str, bytes] = {}

    def read(self, name: str) -> bytes | None:
        from floe.project.sealed import read_sealed

        return None if self.folder is None else read_sealed(self.folder / name, create=False)

    def remember(self, name: str, body: bytes) -> None:
        if self.folder is not None:
            self.pending[name] = body

    def write(self) -> None:
        from floe.project.sealed import write_sealed

        if self.folder is None:
            return
        for name, body in sorted(self.pending.items()):
            with contextlib.suppress(OSError, FloeError):  # read-only: check every time
                write_sealed(self.folder / name, body)


def _checked_platform(paths: ProjectPaths, checked: _Checked) -> tuple[str, str]:
    """floe.yaml's platform ref and version constraint, validated by its pydantic model
    whenever its bytes change. A sealed record of the last validation of these exact
    bytes (their sha256, by this floe version) stands in for it otherwise, so a warm
    compile loads no floe.yaml model."""
    try:
        data = paths.floe_yaml.read_bytes()
    except OSError:
        config, spec = _platform_config(paths)  # its own error (missing, unreadable)
        return spec.ref, spec.version
    digest = hashlib.sha256(data).hexdigest()
    known = _json_object(checked.read(FLOE_YAML_CHECKED))
    if known.get("floe") == __version__ and known.get("sha256") == digest:
        ref, version = known.get("ref"), known.get("version")
        if isinstance(ref, str) and isinstance(version, str):
            return ref, version
    from floe.project.floe_yaml import parse_floe_yaml_bytes

    config = parse_floe_yaml_bytes(data, paths.floe_yaml)
    if config.platform is None:
        raise _not_initialized(f"{paths.floe_yaml} has no platform block")
    spec = config.platform
    body = {"floe": __version__, "sha256": digest, "ref": spec.ref, "version": spec.version}
    checked.remember(FLOE_YAML_CHECKED, json.dumps(body, sort_keys=True).encode())
    return spec.ref, spec.version


def _json_object(body: bytes | None) -> dict[str, object]:
    try:
        value = json.loads(body) if body is not None else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _check_signature(
    paths: ProjectPaths, locked: LockedPlatform, tree: PlatformTree, checked: _Checked
) -> None:
    """The cached signature, checked again (floe.trust.cached) unless a sealed record says
    this very cache state passed the same check before. Any change to what the check
    reads (a signature, a referrer, index.json, the lock's signers, the platform's keys)
    is another state, so the full check runs and a tampered signature is refused."""
    from floe.trust.cached import cache_state, check_cached

    policy = tree.manifest.security
    state = cache_state(paths.oci_dir, locked.manifest_digest, locked, policy)
    if state is not None and checked.read(TRUST_CHECKED) == state.encode():
        return
    check_cached(paths.oci_dir, locked.manifest_digest, locked, policy)
    # Remembered only when the state did not move while the check read it.
    if (
        state is not None
        and cache_state(paths.oci_dir, locked.manifest_digest, locked, policy) == state
    ):
        checked.remember(TRUST_CHECKED, state.encode())


# ---- one init or pull --------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One init or pull: the project, where from, whose trust, what is locked, how to fetch."""

    paths: ProjectPaths
    source: Source
    policy: TrustPolicy
    locked: LockedPlatform | None
    options: RegistryOptions
    events: Events

    @property
    def same_repo(self) -> bool:
        """The lock pins this very repository (else the lock says nothing about it)."""
        return pins_repository(self.locked, self.source)

    def remote(self) -> Target:
        return self.source.open(self.options)

    def verify(self, reader: CachedSource, desc: Descriptor, tag: str) -> Plan:
        """Shape, versions and trust of `desc` (named by `tag`); nothing written."""
        from floe.project.install import Plan
        from floe.release.verify import verify

        reference = str(self.source.opened.with_tag(tag))
        verified = verify(
            reader,
            desc,
            tag,
            self.policy,
            self.locked,
            reference=reference,
            offline=self.options.offline,
            events=self.events,
        )
        label = "v" + verified.checked.platform.metadata.version
        return Plan(
            self.source,
            reader,
            verified,
            tag,
            label,
            "",
            lambda: reader.downloaded,
            locked=self.locked,
        )


def _say_newer(newer: Newer | None, constraint: str, events: Events) -> None:
    if newer is None:
        return
    if newer.matching:
        events.info(
            f"  ! A newer version {newer.matching} matches {constraint}: "
            "`floe platform pull --upgrade` moves to it"
        )
    if newer.outside:
        events.info(
            f"  ! A newer version {newer.outside} exists outside {constraint}: "
            "change platform.version in floe.yaml to use it"
        )


def _plan_from_registry(
    job: _Job, constraint: Constraint, *, allow_downgrade: bool, force: bool
) -> Plan:
    """Resolve the constraint against the registry's tags, check it against the lock, verify."""
    from floe.release.cached_source import CachedSource
    from floe.release.install import layouts
    from floe.release.resolve import check_against_lock, resolve

    project, shared = layouts(job.paths)
    reader = CachedSource([] if force else [shared, project], job.remote(), authoritative=True)
    resolved = resolve(reader, constraint, str(job.source.stored))
    check_against_lock(resolved, job.locked, job.same_repo, allow_downgrade=allow_downgrade)
    job.events.info(f"Pulling platform artifacts from {job.source.with_tag(resolved.tag)}")
    plan = job.verify(reader, resolved.desc, resolved.tag)
    return replace(plan, constraint=constraint.text, newer=resolved.newer)


def _plan_from_lock(
    job: _Job, locked: LockedPlatform, constraint: Constraint, *, force: bool, online: bool
) -> Plan:
    """The locked digest, read from the local caches when they have it.

    `online`: ask the registry whether the tag moved (`lock_drift`) and what is newer.
    """
    from floe.release.constraints import newer_versions
    from floe.release.install import read_locked
    from floe.release.resolve import check_drift

    remote = job.remote()
    newer = None
    if online:
        tags = remote.tags()
        check_drift(remote, locked, tags)
        pinned = parse_tag(locked.version)
        newer = newer_versions(constraint, tags, pinned) if pinned is not None else None
    job.events.info(f"Pulling platform artifacts from {locked.ref}")
    reader, desc = read_locked(job.paths, remote, locked, force=force)
    plan = job.verify(reader, desc, locked.tag)
    return replace(plan, constraint=constraint.text, newer=newer)


def _plan_accept_drift(job: _Job, locked: LockedPlatform, constraint: Constraint) -> Plan:
    """`pull --accept-drift`: what the locked tag names now, verified against the lock's
    signers (never trust on first use); the lock is rewritten, the signers kept."""
    from floe.release.cached_source import CachedSource
    from floe.release.constraints import newer_versions

    reader = CachedSource([], job.remote(), authoritative=True)
    tags = reader.tags()
    if locked.tag not in tags:
        raise UsageError(
            "accept_drift_tag_missing",
            f"{job.source.with_tag(locked.tag)} no longer exists, so there is no drift to accept",
            hint="`floe platform pull --upgrade` resolves floe.yaml's constraint again",
        )
    desc = reader.resolve(locked.tag)
    job.events.info(f"Pulling platform artifacts from {job.source.with_tag(locked.tag)}")
    if desc.digest != locked.manifest_digest:
        job.events.warn(
            f"  ! Accepting {locked.tag} moved from {locked.manifest_digest} to {desc.digest}"
        )
    plan = job.verify(reader, desc, locked.tag)
    pinned = parse_tag(locked.version)
    newer = newer_versions(constraint, tags, pinned) if pinned is not None else None
    return replace(plan, constraint=constraint.text, newer=newer)


def _security_with_anchors(
    config: FloeYaml | None,
    keys: tuple[Path, ...],
    identities: tuple[TrustedIdentity, ...],
    project: Path,
) -> SecuritySpec | None:
    """floe.yaml's security block with --key / --identity added (None: leave it alone)."""
    if not keys and not identities:
        return None
    from floe.project.floe_yaml import SecuritySpec

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
    from floe.oci.options import RegistryOptions

    base = options or RegistryOptions()
    return replace(base, offline=offline or base.offline)


def _finish(
    job: _Job, plan: Plan, *, force: bool = False, security: SecuritySpec | None = None
) -> Outcome:
    from floe.project.install import install

    outcome = install(
        job.paths,
        plan,
        force=force,
        security=security,
        concurrency=job.options.concurrency,
        events=job.events,
    )
    _say_newer(plan.newer, plan.constraint, job.events)
    return outcome


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
    events: Events = QUIET,
) -> Outcome:
    """`floe init --platform=CONSTRAINT`: reuse the lock when it satisfies, else resolve."""
    from floe.project.policy import project_policy
    from floe.project.source import choose_source

    paths = ProjectPaths(Path(project_dir).absolute())
    check_project_paths(paths)
    constraint = parse_constraint(constraint_text)
    from floe.project.floe_yaml import read_floe_yaml

    config = read_floe_yaml(paths.floe_yaml)
    locked = _locked(paths)
    source = choose_source(paths.root, registry, config, locked)
    policy = project_policy(config, keys, paths.root, identities)
    job = _Job(paths, source, policy, locked, _options(options, offline), events)
    pinned = parse_tag(locked.version) if locked is not None else None
    if locked is not None and job.same_repo and pinned is not None and constraint.matches(pinned):
        plan = _plan_from_lock(job, locked, constraint, force=False, online=False)
    else:
        plan = _plan_from_registry(job, constraint, allow_downgrade=allow_downgrade, force=False)
    security = _security_with_anchors(config, keys, identities, paths.root)
    return _finish(job, plan, security=security)


def pull_project(
    project_dir: Path,
    *,
    force: bool = False,
    upgrade: bool = False,
    accept_drift: bool = False,
    allow_downgrade: bool = False,
    offline: bool = False,
    options: RegistryOptions | None = None,
    events: Events = QUIET,
) -> Outcome:
    """`floe platform pull`: bring the caches in line with floe.yaml and the lock."""
    from floe.project.policy import project_policy

    paths = ProjectPaths(Path(project_dir).absolute())
    check_project_paths(paths)
    config, spec = _platform_config(paths)
    locked = _locked(paths)
    source = source_from(spec.ref, paths.root, paths.root, pinned=True)
    constraint = parse_constraint(spec.version)
    opts = _options(options, offline)
    job = _Job(paths, source, project_policy(config, (), paths.root), locked, opts, events)
    if accept_drift and upgrade:
        raise UsageError(
            "pull_flags_conflict",
            "--accept-drift takes the locked version's moved tag; --upgrade resolves again",
            hint="run them one after the other",
        )
    if locked is None or upgrade or not job.same_repo:
        plan = _plan_from_registry(job, constraint, allow_downgrade=allow_downgrade, force=force)
    elif accept_drift:
        check_lock_current(config, locked)
        plan = _plan_accept_drift(job, locked, constraint)
    else:
        check_lock_current(config, locked)
        plan = _plan_from_lock(job, locked, constraint, force=force, online=not opts.offline)
    return _finish(job, plan, force=force)


# ---- a candidate for `floe compile --platform` (verified, cached, never locked) ----------


@dataclass(frozen=True)
class Candidate:
    """A release resolved and verified exactly as init would, cached, but not locked."""

    tree: PlatformTree
    ref: str
    version: str  # v1.3.0
    manifest_digest: str
    signer: str | None
    trust: str  # floe.yaml | lock | first-use | unverified
    downloaded: int
    newer: Newer | None = None  # what lies above the candidate


def fetch_candidate(
    project_dir: Path,
    constraint: Constraint,
    *,
    options: RegistryOptions | None = None,
    events: Events = QUIET,
) -> Candidate:
    """Resolve CONSTRAINT in floe.yaml's repository, verify it (floe.yaml's anchors and the
    lock's signers, as a pull would), commit its checked blobs to the caches; the tree
    stays in memory: artifacts.lock, floe.yaml and `.floe/platform/` are never written."""
    from floe.project.install import stage
    from floe.project.policy import project_policy
    from floe.release.cache import human_size, remove_tree, writer_lock
    from floe.release.install import commit_blobs

    paths = ProjectPaths(Path(project_dir).absolute())
    check_project_paths(paths)
    config, lock = read_project(paths)
    assert config.platform is not None
    check_lock_current(config, lock.platform)
    source = source_from(config.platform.ref, paths.root, paths.root, pinned=True)
    policy = project_policy(config, (), paths.root)
    job = _Job(paths, source, policy, lock.platform, _options(options, False), events)
    plan = _plan_from_registry(job, constraint, allow_downgrade=True, force=False)
    with writer_lock(paths):
        staged = stage(paths, plan, job.options.concurrency)
        try:
            commit_blobs(staged, paths, plan.verified.desc, plan.label)
        finally:
            remove_tree(staged.root)
    what = "Downloaded" if plan.downloaded() else "Already cached"
    size = human_size(plan.verified.checked.size)
    events.step(f"{what} {plan.label} ({size}): verified, cached, not locked")
    return Candidate(
        tree=staged.parsed,
        ref=plan.source.with_tag(plan.tag),
        version=plan.label,
        manifest_digest=plan.verified.desc.digest,
        signer=plan.verified.signer,
        trust=plan.verified.decision.origin,
        downloaded=plan.downloaded(),
        newer=plan.newer,
    )


# ---- a single reference outside a project (`floe platform pull REF --out DIR`) ------------
