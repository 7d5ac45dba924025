"""A compiled tree's files and content digest, without pydantic (publish stays fast).

floe.tree.model (the contract, with the JSON models) and floe.artifact.pack both use these.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from floe.errors import GateError, UsageError

MANIFEST_FILE = "manifest.json"


def content_digest(files: dict[str, bytes]) -> str:
    """sha256 over sorted lines `<path>:sha256:<hex>\\n` of every file except manifest.json."""
    lines = sorted(
        f"{path}:sha256:{hashlib.sha256(data).hexdigest()}\n"
        for path, data in files.items()
        if path != MANIFEST_FILE
    )
    return "sha256:" + hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def read_tree_files(root: Path) -> dict[str, bytes]:
    """Every regular file under root, keyed by its POSIX relative path; symlinks are refused."""
    if not root.is_dir():
        raise UsageError(
            "artifacts_missing",
            f"no compiled platform at {root}",
            hint="run `floe platform compile` first, or pass --artifacts DIR",
        )
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise GateError("tree_invalid", f"{path} is a symlink; compiled trees hold files only")
        if path.is_file():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files
