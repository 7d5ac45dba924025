"""Ownership and metadata: required meta keys per layer, the owner's format, allowed tags."""

from __future__ import annotations

import re

from floe.rules.catalogue import severity
from floe.rules.context import Context
from floe.rules.model import Finding, Model

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def check(ctx: Context) -> list[Finding]:
    findings: list[Finding] = []
    for model in ctx.models:
        findings.extend(_required(ctx, model))
        findings.extend(_owner(ctx, model))
        findings.extend(_tags(ctx, model))
    return findings


def _required(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.metadata_rules.required_keys
    level = severity(rule)
    if level is None:
        return []
    layer = ctx.layer_of.get(model.name)
    keys = [*rule.keys.get("*", []), *(rule.keys.get(layer, []) if layer else [])]
    missing = [key for key in dict.fromkeys(keys) if model.meta.get(key) in (None, "")]
    if not missing:
        return []
    where = f"layer {layer}" if layer else "every model"
    return [
        ctx.finding(
            "metadata.required_key",
            level,
            model,
            f"model {model.name} lacks meta {', '.join(missing)} (required for {where})",
            f"add `config: {{meta: {{{', '.join(k + ': ...' for k in missing)}}}}}` to model "
            f"{model.name} in {ctx.where(model)}",
        )
    ]


def _owner(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.metadata_rules.owner_format
    level = severity(rule)
    value = model.meta.get(rule.key)
    if level is None or value in (None, ""):
        return []  # a missing owner is metadata.required_key's finding
    text = value if isinstance(value, str) else ""
    if (rule.email and EMAIL.match(text)) or text in rule.groups:
        return []
    kinds = (["an email address"] if rule.email else []) + (
        [f"one of the groups {', '.join(rule.groups)}"] if rule.groups else []
    )
    return [
        ctx.finding(
            "metadata.owner_format",
            level,
            model,
            f"model {model.name}: meta.{rule.key} {value!r} is not {' or '.join(kinds)}",
            f"set meta.{rule.key} of model {model.name} to {' or '.join(kinds)} in "
            f"{ctx.where(model)}",
        )
    ]


def _tags(ctx: Context, model: Model) -> list[Finding]:
    rule = ctx.platform.metadata_rules.allowed_tags
    level = severity(rule)
    if level is None:
        return []
    allowed = set(rule.tags)
    bad = [tag for tag in model.props.tags if tag not in allowed]
    if not bad:
        return []
    return [
        ctx.finding(
            "metadata.tag_not_allowed",
            level,
            model,
            f"model {model.name} uses tag(s) {', '.join(bad)} outside the platform's list",
            f"use only {', '.join(rule.tags) or 'no tags'} on model {model.name} in "
            f"{ctx.where(model)}",
        )
    ]
