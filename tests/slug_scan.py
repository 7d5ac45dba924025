"""Find every error slug floe can raise, by reading floe/'s source (for docs/errors.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
ERROR_CALLS = {
    "UsageError",
    "GateError",
    "FloeError",
    "TransientError",
    "fail",
    "NotFound",
    "Conflict",
    "Integrity",
    "Transient",
    "Denied",
    "Usage",
}
SLUG_NAMES = {"SLUG", "slug"}


def _constants(node: ast.AST | None) -> list[str]:
    if node is None:
        return []
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and SLUG_RE.match(n.value)
    ]


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _assigns_slug(node: ast.AST) -> bool:
    """`SLUG = "..."`, `slug = "a" if ... else "b"`, `slug: str = "..."`."""
    if isinstance(node, ast.Assign):
        return any(_name(target) in SLUG_NAMES for target in node.targets)
    return isinstance(node, ast.AnnAssign) and _name(node.target) in SLUG_NAMES


def _slugs_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if _name(node.func) in ERROR_CALLS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    found.update(_constants(first))
            found.update(
                c for kw in node.keywords if kw.arg == "slug" for c in _constants(kw.value)
            )
        elif _assigns_slug(node):
            found.update(_constants(getattr(node, "value", None)))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            defaults = dict(zip(reversed(positional), reversed(args.defaults), strict=False))
            defaults.update(
                (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d
            )
            found.update(c for a, d in defaults.items() if a.arg == "slug" for c in _constants(d))
    return found


def error_slugs(package: Path) -> dict[str, list[str]]:
    """slug -> the files under `package` that raise it."""
    where: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        for slug in _slugs_in(ast.parse(path.read_text(encoding="utf-8"))):
            where.setdefault(slug, []).append(path.relative_to(package.parent).as_posix())
    return dict(sorted(where.items()))


DIRECT_EXIT_CODES = {"UsageError": 2, "TransientError": 2, "FloeError": 2, "GateError": 1}


def _direct_codes(tree: ast.AST) -> list[tuple[str, int]]:
    """(slug, exit code) of every `UsageError("slug", ...)`-style call with a literal slug."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        code = DIRECT_EXIT_CODES.get(_name(node.func) or "")
        first = node.args[0]
        if code is None or not isinstance(first, ast.Constant) or not isinstance(first.value, str):
            continue
        for kw in node.keywords:
            if kw.arg == "exit_code" and isinstance(kw.value, ast.Constant):
                code = int(kw.value.value)
        found.append((first.value, code))
    return found


def direct_exit_codes(package: Path) -> dict[str, set[int]]:
    """slug -> the exit codes of the error classes it is raised with directly."""
    codes: dict[str, set[int]] = {}
    for path in sorted(package.rglob("*.py")):
        for slug, code in _direct_codes(ast.parse(path.read_text(encoding="utf-8"))):
            codes.setdefault(slug, set()).add(code)
    return codes
