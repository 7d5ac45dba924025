"""Structure and materialization: models/<layer>/ folders, file name = model name, one
properties file per folder, allowed materializations per layer, unique_key on incrementals."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model

DEFAULT_MATERIALIZATION = "view"  # dbt's default


def check(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for model in ctx.models:
        findings.extend(_folder(ctx, model))
        findings.extend(_file_name(ctx, model))
        findings.extend(_materialization(ctx, model))
        findings.extend(_unique_key(ctx, model))
    findings.extend(_properties_files(ctx))
    return findings


def _folder(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.structure.layer_folders)
    layer = ctx.layer_of.get(model.name)
    if level is None or layer is None or model.sql_file is None or layer in model.folders:
        return []
    path = PurePosixPath(model.sql_file)
    base = path.parts[0] if len(path.parts) > 1 else "models"
    return [
        ctx.finding(
            "structure.layer_folder",
            level,
            model,
            f"model {model.name} is in layer {layer} but its file is not under {base}/{layer}/",
            f"move {model.sql_file} to {base}/{layer}/{path.name}",
            file=model.sql_file,
            line=1,
        )
    ]


def _file_name(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.structure.file_names)
    if level is None or model.sql_file is None:
        return []
    stem = PurePosixPath(model.sql_file).stem
    if stem == model.name or re.fullmatch(re.escape(model.name) + r"_v\d+", stem):
        return []
    return [
        ctx.finding(
            "structure.file_name",
            level,
            model,
            f"model {model.name} is defined in {model.sql_file}, whose name is not the model's",
            f"rename {model.sql_file} to {model.name}{PurePosixPath(model.sql_file).suffix}",
            file=model.sql_file,
            line=1,
        )
    ]


def _properties_files(ctx: Context) -> list[Finding]:
    level = severity(ctx.platform.structure.properties_files)
    if level is None:
        return []
    first: dict[str, str] = {}  # SQL folder -> the first properties file seen for it
    findings = []
    for model in ctx.models:
        if model.sql_file is None or model.file == model.sql_file:
            continue
        folder = str(PurePosixPath(model.sql_file).parent)
        yaml_folder = str(PurePosixPath(model.file).parent)
        owner = first.setdefault(folder, model.file)
        if yaml_folder != folder:
            message = f"model {model.name} is described in {model.file}, outside {folder}/"
        elif owner != model.file:
            message = f"model {model.name} is described in {model.file}; {folder}/ uses {owner}"
        else:
            continue
        target = owner if yaml_folder == folder else f"one properties file in {folder}/"
        findings.append(
            ctx.finding(
                "structure.properties_file",
                level,
                model,
                message,
                f"move the entry of model {model.name} into {target}",
            )
        )
    return findings


def _materialization(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.structure.materializations
    level = severity(rule)
    layer = ctx.layer_of.get(model.name)
    if level is None or layer is None or layer not in rule.allowed:
        return []
    materialized = model.materialized or DEFAULT_MATERIALIZATION
    allowed = rule.allowed[layer]
    if materialized in allowed:
        return []
    return [
        ctx.finding(
            "structure.materialization",
            level,
            model,
            f"model {model.name} in layer {layer} is materialized as {materialized}; allowed: "
            f"{', '.join(allowed)}",
            f"set `materialized: {allowed[0] if allowed else '...'}` for model {model.name} "
            f"in {ctx.where(model)}",
        )
    ]


def _unique_key(ctx: Context, model: Model) -> list[Finding]:
    level = severity(ctx.platform.structure.incremental_unique_key)
    if level is None or model.materialized != "incremental" or model.props.unique_key:
        return []
    return [
        ctx.finding(
            "structure.unique_key",
            level,
            model,
            f"incremental model {model.name} sets no unique_key",
            f"add `unique_key: <column>` to the config of model {model.name} in "
            f"{model.sql_file or ctx.where(model)}",
        )
    ]
