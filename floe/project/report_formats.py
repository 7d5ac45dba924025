"""Compact report formats, the findings baseline, and the rule table of a project.

- `--format github`: one GitHub Actions workflow command per finding
  (`::error file=F,line=L,title=RULE::message`), so findings show on the PR diff.
- `--format text --compact`: `file:line:col: rule-id message`, one line each, like ruff.
- `--baseline FINDINGS.json`: a previous `findings.json` (or `compiled.json`); findings in
  it do not block, only new ones do. A finding matches a baseline entry by rule id, model,
  file and message (not by line, so unrelated edits above it do not make it new).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import UsageError
from floe.rules.model import Finding

if TYPE_CHECKING:
    from floe.rules.engine import EnforcementResult
    from floe.rules.rule_table import RuleRow

Key = tuple[str, str | None, str | None, str]
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _key(finding: Finding) -> Key:
    return (finding.rule_id, finding.model, finding.file, finding.message)


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github_lines(findings: list[Finding]) -> list[str]:
    """GitHub workflow commands, one per finding (message and hint on one line)."""
    lines = []
    for finding in findings:
        props = [f"title={_escape(finding.rule_id, prop=True)}"]
        if finding.file:
            props.insert(0, f"file={_escape(finding.file, prop=True)}")
            if finding.line:
                props.insert(1, f"line={finding.line}")
        text = _escape(f"{finding.message} (fix: {finding.hint})")
        lines.append(f"::{GITHUB_LEVEL[finding.severity]} {','.join(props)}::{text}")
    return lines


def compact_lines(findings: list[Finding]) -> list[str]:
    """`file:line:col: rule-id message` (col is 1: findings point at lines)."""
    lines = []
    for finding in findings:
        where = f"{finding.file}:{finding.line or 1}:1" if finding.file else "(platform)"
        level = "" if finding.severity == "error" else f"[{finding.severity}] "
        lines.append(f"{where}: {finding.rule_id} {level}{finding.message}")
    return lines


@dataclass(frozen=True)
class Baseline:
    path: str
    keys: Counter[Key]

    def split(self, findings: list[Finding]) -> tuple[list[Finding], list[Finding], int]:
        """(new findings, known findings, baseline entries fixed since)."""
        left = Counter(self.keys)
        new: list[Finding] = []
        known: list[Finding] = []
        for finding in findings:
            key = _key(finding)
            if left[key] > 0:
                left[key] -= 1
                known.append(finding)
            else:
                new.append(finding)
        return new, known, sum(left.values())


def load_baseline(path: Path) -> Baseline:
    """A previous findings.json / compiled.json; anything else is `baseline_invalid`."""

    def bad(why: str) -> UsageError:
        return UsageError(
            "baseline_invalid",
            f"{path}: {why}",
            hint="pass a findings.json written by `floe compile` (target/floe/findings.json)",
        )

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad("no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not a JSON findings document ({type(exc).__name__})") from None
    items = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise bad("has no `findings` list")
    keys: Counter[Key] = Counter()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("rule_id"), str):
            raise bad("a finding without a rule_id")
        keys[(item["rule_id"], _opt(item.get("model")), _opt(item.get("file")),
              str(item.get("message", "")))] += 1  # fmt: skip
    return Baseline(str(path), keys)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def with_baseline(result: EnforcementResult, baseline: Baseline | None) -> EnforcementResult:
    """The result, blocking only on errors that are not in the baseline."""
    if baseline is None:
        return result
    new, _, _ = baseline.split(result.findings)
    return dataclasses.replace(result, blocking=any(f.severity == "error" for f in new))


def baseline_summary(result: EnforcementResult, baseline: Baseline) -> dict[str, Any]:
    new, known, fixed = baseline.split(result.findings)
    return {
        "baseline": baseline.path,
        "known": len(known),
        "new": len(new),
        "new_errors": sum(1 for f in new if f.severity == "error"),
        "fixed": fixed,
    }


@dataclass(frozen=True)
class PlatformRules:
    platform: str | None  # "acme-data-platform v1.2.3", or None without --platform
    rows: list[RuleRow]


def project_rules(project_dir: Path | None) -> PlatformRules:
    """Every rule; with a project, its severity in the project's cached (verified) platform."""
    from floe.rules.rule_table import rule_table

    if project_dir is None:
        return PlatformRules(None, rule_table())
    from floe.project.lifecycle import load_verified_platform

    loaded = load_verified_platform(project_dir)
    name = f"{loaded.tree.manifest.metadata.name} {loaded.version}"
    return PlatformRules(name, rule_table(loaded.tree))
