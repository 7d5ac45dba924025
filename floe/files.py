"""Writing files the one safe way: temp file beside the target, then rename.

Every module that writes a whole file (lock, floe.yaml, keys, reports, profiles,
layout index, schema) goes through `atomic_write`, so a killed process leaves the
old file or the new one, never half of one, and a folder that cannot be written
is one clear error line instead of a traceback.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from floe.errors import UsageError


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, fsync: bool = True) -> None:
    """Write `data` to `path` via a `.tmp-*` file in the same folder, then rename.

    The temp file is created 0600 (mkstemp), so a secret (mode=0o600) is never
    readable by others, not even for a moment. Fails with `file_write_failed`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}.", dir=path.parent)
    except OSError as exc:
        raise write_failed(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
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

    The old folder is renamed aside first and put back if the swap fails, so a
    reader sees the old tree or the new one, never a mix (staging must sit beside
    out_dir, on the same file system).
    """
    if not out_dir.exists():
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
        shutil.rmtree(old, ignore_errors=True)


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
