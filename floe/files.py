"""Writing files the one safe way: temp file beside the target, then rename.

Every module that writes a whole file (lock, floe.yaml, keys, reports, profiles,
layout index, schema) goes through `atomic_write`, so a killed process leaves the
old file or the new one, never half of one, and a folder that cannot be written
is one clear error line instead of a traceback.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from floe.errors import UsageError


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, fsync: bool = True) -> None:
    """Write `data` to `path` via a `.tmp-*` file in the same folder, then rename.

    The temp file is created 0600 (mkstemp), so a secret (mode=0o600) is never
    readable by others, not even for a moment. Fails with `file_write_failed`.
    """
    atomic_write_chunks(path, (data,), mode=mode, fsync=fsync)


def atomic_write_chunks(
    path: Path, chunks: Iterable[bytes], *, mode: int = 0o644, fsync: bool = True
) -> None:
    """`atomic_write` of a stream of chunks (a large copy never held in memory)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    except OSError as exc:
        raise write_failed(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_failed(path, exc) from None
        raise


def replace_dir(staging: Path, out_dir: Path) -> None:
    """Rename a finished staging folder to out_dir; an old out_dir goes only now.

    The old folder is renamed aside first (`.NAME.old-*/tree`) and put back if the swap
    fails, so a reader sees the old tree or the new one, never a mix (staging must sit
    beside out_dir, on the same file system). A process killed between the two renames
    leaves out_dir missing and the old tree aside: `recover_dir` (run first here, and by
    every command that writes out_dir) puts it back.
    """
    recover_dir(out_dir, keep=staging)
    if not os.path.lexists(out_dir):
        os.replace(staging, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old / "tree")
    try:
        os.replace(staging, out_dir)
    except BaseException:
        os.replace(old / "tree", out_dir)
        raise
    finally:
        remove_tree(old)


def _leftovers(out_dir: Path, kind: str) -> list[Path]:
    prefix = f".{out_dir.name}.{kind}-"
    try:
        entries = sorted(out_dir.parent.iterdir())
    except OSError:
        return []
    return [e for e in entries if e.name.startswith(prefix)]


def recover_dir(out_dir: Path, *, keep: Path | None = None) -> None:
    """Undo what a killed `replace_dir` or download left beside out_dir.

    A missing out_dir with a `.NAME.old-*/tree` beside it is a swap cut between its two
    renames: the old tree goes back. Then every `.NAME.old-*` and `.NAME.tmp-*` (other
    than `keep`, the caller's own staging) is removed, without following links.
    """
    for old in _leftovers(out_dir, "old"):
        tree = old / "tree"
        if not os.path.lexists(out_dir) and tree.is_dir() and not tree.is_symlink():
            os.replace(tree, out_dir)
    for leftover in _leftovers(out_dir, "old") + _leftovers(out_dir, "tmp"):
        if keep is None or leftover != keep:
            remove_tree(leftover)


def _chmod_and_retry(func: Any, path: str, _: Any) -> None:
    """rmtree's error handler: a read-only folder (floe's trees are 0555) is made writable."""
    parent = os.path.dirname(path)
    if os.path.islink(parent):
        raise OSError(f"refusing to change {parent}: it is a symlink")
    os.chmod(parent, 0o755)
    if func in (os.rmdir, os.unlink, os.remove):
        func(path)
    else:
        raise OSError(f"cannot remove {path}")


def remove_tree(root: Path) -> None:
    """Delete root and everything under it, even read-only, never following a symlink.

    A symlink (at root or anywhere below) is removed as a link: what it points to is
    never touched (shutil.rmtree opens folders with O_NOFOLLOW on Linux).
    """
    try:
        mode = os.lstat(root).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        os.unlink(root)
        return
    os.chmod(root, 0o755)
    shutil.rmtree(root, onerror=_chmod_and_retry)


def check_not_symlinked(paths: list[Path], *, hint: str) -> None:
    """Refuse (`path_symlinked`, exit 2) when any existing path is a symlink.

    floe writes and deletes inside these folders; a link would make it write into, or
    delete in, a place it did not create.
    """
    for path in paths:
        if path.is_symlink():
            raise UsageError(
                "path_symlinked",
                f"refusing {path}: it is a symlink (to {os.readlink(path)}); floe never "
                "writes or deletes through links",
                hint=hint,
            )


def write_failed(path: Path, exc: OSError) -> UsageError:
    # mkdir through a file says "File exists"; name the file that is in the way instead.
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    why = f"{blocker} is a file, not a folder" if blocker else exc.strerror or str(exc)
    return UsageError(
        "file_write_failed",
        f"cannot write {path}: {why}",
        hint="check that the folder exists or can be created, is writable and is not a file",
    )


def read_text(path: Path, *, slug: str, what: str, hint: str) -> str:
    """A UTF-8 text file, or one `slug` error naming the file and what went wrong."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(slug, f"{what} {path} is not UTF-8 text", hint=hint) from None
    except OSError as exc:
        raise UsageError(
            slug, f"cannot read {what} {path}: {exc.strerror or exc}", hint=hint
        ) from None
