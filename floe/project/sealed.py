"""Cache files the gate may trust: sealed with a per-user secret kept outside the project.

The lineage cache (`target/floe/lineage-cache.json`) lets a warm compile skip SQL parsing,
so a forged entry could hide `sql.*` and lineage findings. The file lives in the project,
which the data team controls (it can be committed, or copied from another machine), so
each file carries an HMAC-SHA256 of its body under a key in the user-wide cache folder
(`$XDG_CACHE_HOME/floe/seal.key`, 0600, created on first use). A file that does not
verify here is ignored: the compile starts cold, it never trusts it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from floe.files import atomic_write
from floe.release.cache import global_cache_dir

HEADER = b"floe-sealed-v1 "
KEY_BYTES = 32


def _key_path() -> Path:
    return global_cache_dir().parent / "seal.key"


def _read_key(path: Path) -> bytes | None:
    try:
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


def seal_key() -> bytes:
    """This user's sealing key; created atomically (first writer wins) when missing."""
    path = _key_path()
    key = _read_key(path)
    if key is not None:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".tmp-seal-{secrets.token_hex(8)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(KEY_BYTES))
    try:
        os.link(fresh, path)  # fails when another process created the key first
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(OSError):
            fresh.unlink()
    key = _read_key(path)
    if key is None:
        raise OSError(f"{path}: not a {KEY_BYTES}-byte key")
    return key


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).hexdigest().encode()


def read_sealed(path: Path, *, create: bool = True) -> bytes | None:
    """The body of a sealed file, or None when it is missing, damaged or sealed elsewhere.

    `create=False`: a missing key is not created (nothing could verify without it)."""
    try:
        data = path.read_bytes()
        key = seal_key() if create else _read_key(_key_path())
    except OSError:
        return None
    if key is None:
        return None
    head, newline, body = data.partition(b"\n")
    if not newline or not head.startswith(HEADER):
        return None
    if not hmac.compare_digest(head[len(HEADER) :], _mac(key, body)):
        return None
    return body


def write_sealed(path: Path, body: bytes) -> None:
    """Write `body` with its seal (atomic); without a usable key the file is not written."""
    try:
        key = seal_key()
    except OSError:
        return
    atomic_write(path, HEADER + _mac(key, body) + b"\n" + body, fsync=False)
