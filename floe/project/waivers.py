"""Waivers, the governed way: a project may waive a finding; the platform decides which.

A waiver names a rule id (or a `family.*` glob), a model (or glob), a reason, an owner
and an expiry date (`YYYY-MM-DD`). It lives in floe.yaml (`waivers:` list) or on the
model (`meta: {floe: {waivers: [...]}}`, where `model` defaults to that model). The
platform's tree says which rules are waivable and the longest expiry
(`governance.waivers: {allowed: [...], max_days: 90}`); a waiver the platform does not
allow, that has expired, or that runs longer than `max_days` from today is itself an
error finding (`waiver.not_allowed`, `waiver.expired`, `waiver.too_long`) and waives
nothing. Waived findings stay in every report, marked, and do not block.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from floe.errors import UsageError
from floe.rules.engine import CheckSummary, EnforcementResult
from floe.rules.model import Finding, Project
from floe.rules.yaml_lines import load_yaml
from floe.tree.model import WaiverPolicy

SLUG = "waiver_invalid"
FIELDS = ("rule", "model", "reason", "owner", "expires")


@dataclass(frozen=True)
class Waiver:
    rule: str
    model: str
    reason: str
    owner: str
    expires: dt.date
    file: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "model": self.model,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "file": self.file,
            "line": self.line,
        }


def read_waivers(project_dir: Path, project: Project) -> list[Waiver]:
    """Every waiver of floe.yaml and of the models' `meta.floe.waivers`."""
    waivers: list[Waiver] = []
    path = project_dir / "floe.yaml"
    if path.is_file():
        doc = load_yaml(path.read_text(encoding="utf-8"), "floe.yaml", slug=SLUG)
        items = doc.data.get("waivers") if isinstance(doc.data, dict) else None
        if items is not None and not isinstance(items, list):
            raise UsageError(SLUG, "floe.yaml: `waivers:` must be a list")
        for item in items or ():
            waivers.append(_waiver(item, "floe.yaml", doc.line(item), None))
    for name in sorted(project.models):
        model = project.models[name]
        floe_meta = model.meta.get("floe")
        items = floe_meta.get("waivers") if isinstance(floe_meta, dict) else None
        if items is None:
            continue
        if not isinstance(items, list):
            raise UsageError(SLUG, f"{model.file}:{model.line}: meta.floe.waivers must be a list")
        for item in items:
            waivers.append(_waiver(item, model.file, model.line, name))
    return waivers


def _waiver(item: Any, file: str, line: int, model: str | None) -> Waiver:
    where = f"{file}:{line}"
    if not isinstance(item, dict):
        raise UsageError(SLUG, f"{where}: a waiver is a mapping with {', '.join(FIELDS)}")
    data = dict(item)
    if model is not None:
        data.setdefault("model", model)
    unknown = sorted(set(data) - set(FIELDS))
    missing = [key for key in FIELDS if not data.get(key)]
    if unknown or missing:
        what = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise UsageError(
            SLUG, f"{where}: waiver {what}", hint=f"a waiver has exactly: {', '.join(FIELDS)}"
        )
    expires = data["expires"]
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            expires = None
    if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
        raise UsageError(SLUG, f"{where}: waiver expires must be a date (YYYY-MM-DD)")
    text = {key: str(data[key]) for key in ("rule", "model", "reason", "owner")}
    return Waiver(expires=expires, file=file, line=line, **text)


def _problem(waiver: Waiver, policy: WaiverPolicy | None, today: dt.date) -> Finding | None:
    """Why the platform refuses this waiver, as an error finding; None when it is valid."""
    rule, why, fix = "", "", ""
    if policy is None or not any(fnmatchcase(waiver.rule, g) for g in policy.allowed):
        allowed = ", ".join(policy.allowed) if policy and policy.allowed else "none"
        rule = "waiver.not_allowed"
        why = f"the platform does not allow waiving {waiver.rule} (waivable: {allowed})"
        fix = "fix the finding instead, or ask the platform team to make the rule waivable"
    elif waiver.expires < today:
        rule = "waiver.expired"
        why = f"the waiver of {waiver.rule} for {waiver.model} expired on {waiver.expires}"
        fix = "fix the finding, or renew the waiver with a new expiry date"
    elif (waiver.expires - today).days > policy.max_days:
        rule = "waiver.too_long"
        why = (
            f"the waiver of {waiver.rule} for {waiver.model} runs to {waiver.expires}, "
            f"more than the platform's {policy.max_days} days"
        )
        fix = f"set `expires` within {policy.max_days} days of today"
    if not rule:
        return None
    return Finding(rule, "error", None, waiver.file, waiver.line, why, fix)


def apply_waivers(
    result: EnforcementResult,
    waivers: list[Waiver],
    policy: WaiverPolicy | None,
    today: dt.date | None = None,
) -> EnforcementResult:
    """Mark the findings valid waivers cover; refused waivers become error findings."""
    if not waivers:
        return result
    day = today or dt.datetime.now(dt.UTC).date()
    problems: list[Finding] = []
    valid: list[Waiver] = []
    for waiver in waivers:
        problem = _problem(waiver, policy, day)
        if problem is None:
            valid.append(waiver)
        else:
            problems.append(problem)
    findings = [_covered(finding, valid) for finding in result.findings]
    findings.extend(problems)
    findings.sort(key=Finding.sort_key)
    checks = [_recount(check, findings) for check in result.checks]
    errors = sum(1 for f in problems)
    checks.append(CheckSummary("Waivers", "waiver", errors == 0, errors, 0))
    blocking = any(f.severity == "error" and not f.waived for f in findings)
    return EnforcementResult(findings, checks, result.coverage, blocking)


def _covered(finding: Finding, waivers: list[Waiver]) -> Finding:
    for waiver in waivers:
        if fnmatchcase(finding.rule_id, waiver.rule) and fnmatchcase(
            finding.model or "", waiver.model
        ):
            return replace(finding, waiver=waiver.to_json())
    return finding


def _recount(check: CheckSummary, findings: list[Finding]) -> CheckSummary:
    mine = [f for f in findings if not f.waived and f.rule_id.split(".", 1)[0] == check.rule_prefix]
    errors = sum(1 for f in mine if f.severity == "error")
    warnings = sum(1 for f in mine if f.severity == "warning")
    return CheckSummary(check.name, check.rule_prefix, errors == 0, errors, warnings)
