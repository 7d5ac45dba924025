"""Where a consumer of a release keeps it, and how that copy is checked and replaced.

The consumer is a dbt project (its platform, `floe init`) or a platform folder whose
manifest `extends:` another (its parent, floe/platform/inherit_source.py, which keeps
its lock in `platform.lock` beside the manifest instead of `.floe/cache/artifacts.lock`).

    .floe/.lock                       file lock held by every writer (init, pull, clear)
    .floe/cache/oci/                  OCI image layout: every verified blob, tagged by version
    .floe/cache/artifacts.lock        the lock (floe.release.lockfile)
    .floe/platform/v1.2.3/            the materialized tree, read-only
    $XDG_CACHE_HOME/floe/oci          user-wide OCI layout shared by every project

A version folder is built under `.floe/platform/.tmp-<random>/`, checked, made
read-only and renamed into place, so a killed process leaves either no folder or
a complete one; leftovers are removed by the next writer. Every read re-checks
each file's size and sha256 against the lock.
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.errors import GateError, UsageError
from floe.release.lockfile import LockedFile

TMP_PREFIX = ".tmp-"
LOCK_TIMEOUT_SECONDS = 600.0
FORCE_HINT = "run `floe platform pull --force` to download and verify it again"


@dataclass(frozen=True)
class ProjectPaths:
    root: Path

    @property
    def floe_dir(self) -> Path:
        return self.root / ".floe"

    @property
    def writer_lock(self) -> Path:
        return self.floe_dir / ".lock"

    @property
    def cache_dir(self) -> Path:
        return self.floe_dir / "cache"

    @property
    def oci_dir(self) -> Path:
        return self.cache_dir / "oci"

    @property
    def lock_file(self) -> Path:
        return self.cache_dir / "artifacts.lock"

    @property
    def platform_dir(self) -> Path:
        return self.floe_dir / "platform"

    @property
    def floe_yaml(self) -> Path:
        return self.root / "floe.yaml"

    def version_dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise UsageError("lock_invalid", f"bad version folder name {version!r}")
        return self.platform_dir / version


def global_cache_dir() -> Path:
    """The user-wide blob cache: `$XDG_CACHE_HOME/floe/oci` (else ~/.cache/floe/oci)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "floe" / "oci"


GITIGNORE = """\
# Written by floe: only the lock belongs in version control.
*
!.gitignore
!cache/
cache/*
!cache/artifacts.lock
"""


def ensure_gitignore(paths: ProjectPaths) -> None:
    """`.floe/.gitignore` so a project commits artifacts.lock and nothing else of `.floe/`."""
    from floe.files import atomic_write

    target = paths.floe_dir / ".gitignore"
    if not target.exists():
        atomic_write(target, GITIGNORE.encode("utf-8"))


@contextmanager
def writer_lock(paths: ProjectPaths) -> Iterator[None]:
    """Serialize writers of one project (init, pull, clear); released if the process dies."""
    from filelock import FileLock, Timeout

    check_project_paths(paths)
    paths.floe_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(paths.writer_lock), timeout=LOCK_TIMEOUT_SECONDS)
    try:
        with lock:
            clean_leftovers(paths)
            yield
    except Timeout:
        raise UsageError(
            "project_locked",
            f"another floe process has held {paths.writer_lock} for {LOCK_TIMEOUT_SECONDS:.0f}s",
            hint="wait for it to finish, or stop it",
        ) from None


# ---- permissions and removal ---------------------------------------------------------


def make_read_only(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
    for dirpath, _, _ in sorted(os.walk(root), key=lambda e: -len(e[0])):
        os.chmod(dirpath, 0o555)


def remove_tree(root: Path) -> None:
    """Delete a folder even when it was made read-only; never follows a symlink."""
    from floe.files import remove_tree as remove

    remove(root)


SYMLINK_HINT = (
    "remove the link and let floe create a real folder (it stages, checks and deletes "
    "only inside folders it made)"
)


def check_project_paths(paths: ProjectPaths) -> None:
    """`.floe`, `.floe/platform`, `.floe/cache`, its layout, and the user-wide cache roots
    must be real folders (`path_symlinked`, exit 2), before anything is read or written."""
    from floe.files import check_not_symlinked

    shared = global_cache_dir()
    check_not_symlinked(
        [
            paths.floe_dir,
            paths.platform_dir,
            paths.cache_dir,
            paths.oci_dir,
            paths.oci_dir / "blobs",
            shared.parent,
            shared,
            shared / "blobs",
        ],
        hint=SYMLINK_HINT,
    )


def _leftovers(paths: ProjectPaths) -> Iterator[tuple[Path, bool]]:
    """Temp entries under `.floe/`: (path, is a folder to remove as a tree)."""
    for folder in (paths.platform_dir, paths.cache_dir):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.startswith(TMP_PREFIX):
                yield entry, True
    blobs = paths.oci_dir / "blobs" / "sha256"
    # Blob and index.json temp files (floe.files; `.index.json.*` from earlier floe builds).
    for folder, prefixes in ((blobs, (TMP_PREFIX,)), (paths.oci_dir, (TMP_PREFIX, ".index.json."))):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name.startswith(prefixes) and entry.is_file():
                    yield entry, False


def clean_leftovers(paths: ProjectPaths) -> None:
    """Remove what a killed writer left behind: temp folders and temp files.

    Only floe writers holding the project's lock write under `.floe/`, so any temp
    name found while holding it belongs to a dead process.
    """
    for entry, tree in list(_leftovers(paths)):
        if tree:
            remove_tree(entry)
        else:
            entry.unlink(missing_ok=True)


def clean_leftovers_if_idle(paths: ProjectPaths) -> None:
    """Readers (compile, rules) clean a killed writer's leftovers too, when no writer runs."""
    if not paths.writer_lock.is_file() or next(_leftovers(paths), None) is None:
        return  # nothing to clean: no lock taken (and filelock not even imported)
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(paths.writer_lock), timeout=0):
            clean_leftovers(paths)
    except (Timeout, OSError):
        return  # a writer holds it (it cleans), or the folder is read-only: nothing to do


def dir_size(root: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


# ---- verification --------------------------------------------------------------------


def _corrupt(root: Path, why: str) -> GateError:
    return GateError(
        "cache_corrupt",
        f"the cached platform at {root} does not match artifacts.lock: {why}",
        hint=FORCE_HINT,
        details={"path": str(root)},
    )


def _listing(root: Path) -> dict[str, Path]:
    """Every entry under root by POSIX relative path; anything but files and folders fails."""
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            rel = path.relative_to(root).as_posix()
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise _corrupt(root, f"{rel} is not a regular file")
            found[rel] = path
    return found


def read_verified_tree(root: Path, expected: tuple[LockedFile, ...]) -> dict[str, bytes]:
    """The tree's bytes, each file checked for size and sha256; extra or missing files fail."""
    if not root.is_dir() or root.is_symlink():
        raise GateError(
            "cache_corrupt",
            f"the locked platform is not in the cache: {root} is missing "
            "(a fresh checkout, a cleared cache or an interrupted pull)",
            hint="run `floe platform pull` to fetch exactly the locked version",
            details={"path": str(root)},
        )
    listing = _listing(root)
    wanted = {f.path: f for f in expected}
    extra = sorted(set(listing) - set(wanted))
    if extra:
        raise _corrupt(root, f"unexpected file {extra[0]}")
    missing = sorted(set(wanted) - set(listing))
    if missing:
        raise _corrupt(root, f"missing file {missing[0]}")
    files: dict[str, bytes] = {}
    for rel, locked in sorted(wanted.items()):
        data = listing[rel].read_bytes()
        if len(data) != locked.size:
            raise _corrupt(root, f"{rel} has {len(data)} bytes, the lock says {locked.size}")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest != locked.digest:
            raise _corrupt(root, f"{rel} has digest {digest}, the lock says {locked.digest}")
        files[rel] = data
    return files


def locked_files(files: dict[str, bytes]) -> tuple[LockedFile, ...]:
    return tuple(
        LockedFile(rel, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
        for rel, data in sorted(files.items())
    )


# ---- materialization -----------------------------------------------------------------


def new_temp_dir(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    path.mkdir()
    return path


def install_dir(built: Path, final: Path) -> None:
    """Move a fully built, read-only folder to `final`, replacing what was there.

    The old folder is renamed aside first (a temp name the next writer cleans),
    so a crash between the two renames leaves no folder, never a mixed one.
    """
    make_read_only(built)
    if final.exists() or final.is_symlink():
        aside = final.parent / f"{TMP_PREFIX}old-{uuid.uuid4().hex}"
        os.chmod(final.parent, 0o755)
        os.rename(final, aside)
        os.rename(built, final)
        remove_tree(aside)
    else:
        os.rename(built, final)


def human_size(size: int) -> str:
    """`8.6 KB`: decimal units, as `floe platform publish` prints them."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # unreachable


# ---- cache list / clear --------------------------------------------------------------


def _content_digest_of(tree_dir: Path) -> str | None:
    import json

    try:
        data = json.loads((tree_dir / "manifest.json").read_bytes())
        digest = data["metadata"]["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return digest if isinstance(digest, str) else None


def _cached_versions(paths: ProjectPaths) -> list[Path]:
    if not paths.platform_dir.is_dir():
        return []
    return sorted(
        p for p in paths.platform_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )


def list_cache(project_dir: Path) -> dict[str, Any]:
    """Cached versions (size, digests, whether they still match the lock) and cache sizes."""
    from floe.errors import FloeError
    from floe.release.lockfile import read_lock

    paths = ProjectPaths(Path(project_dir))
    try:
        lock = read_lock(paths.lock_file)
    except FloeError:
        lock = None
    locked = lock.platform if lock is not None else None
    rows: list[dict[str, Any]] = []
    for tree_dir in _cached_versions(paths):
        is_locked = locked is not None and locked.version == tree_dir.name
        status = "unlocked"
        if is_locked and locked is not None:
            try:
                read_verified_tree(tree_dir, locked.files)
                status = "verified"
            except GateError:
                status = "corrupt"
        rows.append(
            {
                "version": tree_dir.name,
                "path": str(tree_dir),
                "size": dir_size(tree_dir),
                "locked": is_locked,
                "status": status,
                "manifest_digest": locked.manifest_digest if is_locked and locked else None,
                "content_digest": _content_digest_of(tree_dir),
            }
        )
    shared = global_cache_dir()
    return {
        "versions": rows,
        "lock": str(paths.lock_file) if locked is not None else None,
        "project_oci_size": dir_size(paths.oci_dir) if paths.oci_dir.is_dir() else 0,
        "global_path": str(shared),
        "global_size": dir_size(shared) if shared.is_dir() else 0,
    }


def plan_clear(
    project_dir: Path, *, version: str | None, clear_all: bool, clear_global: bool
) -> list[Path]:
    """What `floe platform cache clear` would remove (existing paths only)."""
    paths = ProjectPaths(Path(project_dir))
    wanted: list[Path] = []
    if version is not None:
        tree_dir = paths.version_dir(version)
        if not tree_dir.is_dir():
            cached = ", ".join(p.name for p in _cached_versions(paths)) or "none"
            raise UsageError(
                "cache_version_missing",
                f"version {version} is not cached (cached: {cached})",
                hint="`floe platform cache list` shows what is cached",
            )
        wanted.append(tree_dir)
    elif clear_all:
        wanted += [paths.platform_dir, paths.cache_dir]
    elif not clear_global:
        wanted += [paths.platform_dir, paths.oci_dir]
    if clear_global:
        wanted.append(global_cache_dir())
    return [p for p in wanted if p.exists()]


def clear_cache(project_dir: Path, plan: list[Path]) -> list[Path]:
    """Remove the planned paths; project paths under the project's writer lock."""
    paths = ProjectPaths(Path(project_dir))
    project_paths = [p for p in plan if paths.floe_dir in p.parents]
    others = [p for p in plan if p not in project_paths]
    if project_paths:
        with writer_lock(paths):
            for path in project_paths:
                remove_tree(path)
    for path in others:
        remove_tree(path)
    return plan
