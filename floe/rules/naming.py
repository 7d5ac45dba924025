"""Naming conventions: layer prefixes (medallion, kimball) and the custom regex.

`strict` makes every finding an error, `warn` a warning, `off` disables the family.
A custom regex is checked for catastrophic backtracking before it is compiled; an
unsafe one is reported (`naming.regex_unsafe`) instead of being run.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from floe.rules.context import Context
from floe.rules.model import Finding, Model, Severity

_SEVERITY: dict[str, Severity] = {"strict": "error", "warn": "warning"}


def check(ctx: Context) -> list[Finding]:
    rules = ctx.platform.naming_rules
    severity = _SEVERITY.get(rules.enforcement)
    if severity is None:
        return []
    regex, findings = ctx.platform_regex(
        rules.custom_regex,
        "naming.regex_unsafe",
        "naming regex",
        "ask the platform team to fix architecture naming.custom_regex "
        "(`floe platform test` reports it)",
    )
    use_prefixes = rules.pattern != "custom" or bool(rules.prefixes)
    for model in ctx.models:
        if use_prefixes:
            finding = _check_prefix(ctx, model, severity)
            if finding is not None:
                findings.append(finding)
        if regex is not None and not regex.fullmatch(model.name):
            findings.append(
                ctx.finding(
                    "naming.custom_regex",
                    severity,
                    model,
                    f"model name {model.name} does not match the platform pattern "
                    f"{rules.custom_regex}",
                    f"rename {_model_path(model)} so the name matches {rules.custom_regex}",
                    line=1 if model.sql_file else None,
                    file=model.sql_file,
                )
            )
    return findings


def _check_prefix(ctx: Context, model: Model, severity: Severity) -> Finding | None:
    layer = ctx.layer_of[model.name]
    if layer is None:
        expected = ", ".join(sorted(set(ctx.prefixes.values())))
        return ctx.finding(
            "naming.prefix",
            severity,
            model,
            f"model {model.name} has no layer and no layer prefix (expected one of {expected})",
            f"rename {_model_path(model)} with a layer prefix, move it under a layer "
            "folder, or set `config: {meta: {layer: ...}}`",
            line=1 if model.sql_file else None,
            file=model.sql_file,
        )
    prefix = ctx.prefixes.get(layer)
    if prefix is None:
        known = ", ".join(sorted(ctx.prefixes))
        return ctx.finding(
            "naming.unknown_layer",
            severity,
            model,
            f"model {model.name} is in layer {layer!r}, which the platform does not define "
            f"(layers: {known})",
            f"use one of the layers {known} for model {model.name} in {ctx.where(model)}",
        )
    if model.name.startswith(prefix):
        return None
    new_name = prefix + ctx.strip_prefix(model.name)
    how = ctx.layer_how[model.name]
    reason = {"meta": "meta.layer", "folder": "its folder"}.get(how or "", "its layer")
    return ctx.finding(
        "naming.prefix",
        severity,
        model,
        f"model {model.name} is in layer {layer} ({reason}) but lacks the prefix {prefix}",
        f"rename {_model_path(model)} to {_renamed_path(model, new_name)}",
        line=1 if model.sql_file else None,
        file=model.sql_file,
    )


def _model_path(model: Model) -> str:
    return model.sql_file or f"model {model.name}"


def _renamed_path(model: Model, new_name: str) -> str:
    if model.sql_file is None:
        return new_name
    path = PurePosixPath(model.sql_file)
    return path.with_name(new_name + path.suffix).name
