"""`{{ config(...) }}` in a model file: the literal arguments, and the ones floe cannot see.

floe evaluates literal arguments (strings, numbers, booleans, lists, dicts). Anything
else (`var()`, `env_var()`, a macro call, string concatenation, a Jinja string in YAML)
is only known once dbt renders it; in files mode such an argument is recorded as
unresolved, with its line, so the rule `config.unresolved` can say so instead of the
gate passing on a value it never saw.
"""

from __future__ import annotations

import ast
import re
from typing import Any

_CONFIG = re.compile(r"\{\{-?\s*config\s*\((.*?)\)\s*-?\}\}", re.DOTALL)
_JINJA_NAMES = {"true": True, "false": False, "none": None, "True": True, "False": False}
_MAX_SHOWN = 80

Unresolved = tuple[str, int, str]  # (config key, line in the file, expression text)


def inline_config(code: str) -> tuple[dict[str, Any], list[Unresolved]]:
    """Literal keyword arguments of `{{ config(...) }}`, and the dynamic ones."""
    if "config" not in code:
        return {}, []
    config: dict[str, Any] = {}
    unresolved: list[Unresolved] = []
    for match in _CONFIG.finditer(code):
        first_line = code.count("\n", 0, match.start(1)) + 1
        args = match.group(1)
        try:
            call = ast.parse(f"f({args})", mode="eval").body
        except SyntaxError:
            unresolved.append(("config", first_line, _shown(args)))
            continue
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            line = first_line + keyword.value.lineno - 1
            if keyword.arg is None:
                unresolved.append(("**", line, _shown(ast.unparse(keyword.value))))
                continue
            try:
                config[keyword.arg] = literal(keyword.value)
            except ValueError:
                unresolved.append((keyword.arg, line, _shown(ast.unparse(keyword.value))))
    return config, unresolved


def jinja_values(config: dict[str, Any]) -> list[tuple[str, str]]:
    """Config values (from YAML) that are Jinja strings dbt renders: (key, text)."""
    found: list[tuple[str, str]] = []
    for key, value in sorted(config.items()):
        if isinstance(value, str) and ("{{" in value or "{%" in value):
            found.append((key, _shown(value)))
    return found


def _shown(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= _MAX_SHOWN else one[: _MAX_SHOWN - 3] + "..."


def literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Name) and node.id in _JINJA_NAMES:
        return _JINJA_NAMES[node.id]
    if isinstance(node, ast.Dict):
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values, strict=True) if k}
    if isinstance(node, ast.List | ast.Tuple):
        return [literal(item) for item in node.elts]
    return ast.literal_eval(node)
