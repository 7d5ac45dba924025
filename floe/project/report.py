"""Enforcement reports: the human table, JSON, JUnit XML and SARIF 2.1.0.

Every document is deterministic (findings sorted, keys sorted, no clock), so two
compiles of the same project against the same platform give identical files and a
CI diff shows only real changes. File paths are POSIX and relative to the project.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe import __version__
from floe.errors import FloeError
from floe.files import atomic_write
from floe.rules import catalogue
from floe.rules.model import Finding

if TYPE_CHECKING:
    from rich.console import Console

    from floe.rules.engine import CheckSummary, EnforcementResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note"}

# One line per rule id for SARIF rule metadata (docs/rules.md has the full text).
RULE_SUMMARIES = {
    "naming.prefix": "Model names carry their layer's prefix",
    "naming.unknown_layer": "Models belong to a layer the platform knows",
    "naming.custom_regex": "Model names match the platform's naming pattern",
    "naming.regex_unsafe": "The platform's naming pattern is safe to evaluate",
    "layer.required_test": "Models carry the tests their layer requires",
    "quality.coverage": "Column test coverage meets the platform minimum",
    "quality.required_test": "Models carry the tests every model requires",
    "classification.unknown_level": "Column classifications are levels the platform knows",
    "classification.forbidden_layer": "Classified columns stay out of forbidden layers",
    "classification.forbidden_namespace": "Classified columns stay out of forbidden namespaces",
    "classification.description_required": "Classified columns are described",
    "classification.propagation": "Downstream columns keep their upstream classification",
    "access.unknown_role": "Grants name roles the platform defines",
    "access.privilege_not_allowed": "Grants give roles only privileges they may hold",
    "access.namespace_grant": "Grants respect the namespace's grants",
    "namespace.not_approved": "Model schemas are approved namespaces",
    "namespace.unset": "Models set a schema (namespace)",
    "schema.column_description": "Columns are described",
    "schema.column_data_type": "Columns declare a data type",
    "schema.column_name": "Column names match the platform's pattern",
    "schema.regex_unsafe": "The platform's column pattern is safe to evaluate",
    "config.unresolved": "Every config value is one floe could verify",
    "lineage.unparsed": "Every model's SQL can be traced column by column",
    "classification.undeclared_column": "Columns that carry classified data are declared",
    "schema.column_missing": "Declared columns exist in the model's SQL",
    "waiver.expired": "Waivers have not expired",
    "waiver.too_long": "Waivers expire within the platform's maximum",
    "waiver.not_allowed": "Waivers cover only rules the platform lets projects waive",
    "project.manifest_stale": "The manifest floe reads is not older than the project files",
}

RULE_SUMMARIES.update({rule.rule_id: rule.what for rule in catalogue.RULES})  # catalogue rules

COMPILED_FILE = "compiled.json"
FINDINGS_FILE = "findings.json"
JUNIT_FILE = "junit.xml"
SARIF_FILE = "findings.sarif"


def sorted_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.sort_key(), SEVERITY_ORDER.get(f.severity, 9)))


def dumps_json(document: Any) -> str:
    """`json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)` and a newline,
    byte for byte, at a third of its cost: with `indent` the json module encodes in
    Python generators (10,000 models: ~1.2 million of them per report)."""
    out: list[str] = []
    try:
        _encode(document, "\n", out)
    except (_Unusual, TypeError):  # TypeError: keys of mixed types to sort
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    out.append("\n")
    return "".join(out)


class _Unusual(Exception):
    """A value the fast path does not encode (non-str keys, subclasses, other types)."""


_ESCAPE = json.encoder.encode_basestring
_INF = float("inf")


def _encode(value: Any, newline: str, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(_ESCAPE(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key in sorted(value):
            if type(key) is not str:
                raise _Unusual
            item = value[key]
            if type(item) is str:  # most leaves: no call for them
                out.append(separator + _ESCAPE(key) + ": " + _ESCAPE(item))
            else:
                out.append(separator + _ESCAPE(key) + ": ")
                _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(separator + _ESCAPE(item))
            else:
                out.append(separator)
                _encode(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float:
        if value != value:
            out.append("NaN")
        elif value in (_INF, -_INF):
            out.append("Infinity" if value > 0 else "-Infinity")
        else:
            out.append(float.__repr__(value))
    else:  # subclasses, anything else: the json module's own words (or its TypeError)
        raise _Unusual


def write_text(path: Path, text: str) -> None:
    """Write a report temp-then-rename, so readers never see half a file."""
    atomic_write(path, text.encode("utf-8"), fsync=False)


# ---- JSON ----------------------------------------------------------------------------


def findings_document(result: EnforcementResult) -> dict[str, Any]:
    """findings.json: the engine's verdict (checks, coverage, sorted findings, counts)."""
    document = result.to_json()
    document["findings"] = [f.to_json() for f in sorted_findings(result.findings)]
    return document


# ---- JUnit XML -----------------------------------------------------------------------


def check_of(finding: Finding, checks: Sequence[CheckSummary]) -> str:
    """The check (rule family) a finding belongs to, by its rule id prefix."""
    family = finding.rule_id.split(".", 1)[0]
    for check in checks:
        if family == check.rule_prefix or finding.rule_id.startswith(check.rule_prefix + "."):
            return check.name
    return "Other"


def _location(finding: Finding) -> str:
    if finding.file is None:
        return ""
    return f"{finding.file}:{finding.line}" if finding.line else finding.file


def _classname(check_name: str) -> str:
    return "floe." + check_name.lower().replace(" ", "_")


def _testcase(parent: ET.Element, suite: str, finding: Finding) -> None:
    # The message makes the name unique: CI tools merge test cases with equal names.
    name = f"{finding.model or 'project'}: {finding.message}"
    case = ET.SubElement(parent, "testcase", name=name, classname=_classname(suite), time="0")
    where = _location(finding)
    text = f"{where}: {finding.message}" if where else finding.message
    text += f"\nhint: {finding.hint}"
    if finding.waiver is not None:
        waiver = finding.waiver
        reason = f"waived until {waiver['expires']} by {waiver['owner']}: {waiver['reason']}"
        skipped = ET.SubElement(case, "skipped", message=reason)
        skipped.text = text
    elif finding.severity == "error":
        failure = ET.SubElement(case, "failure", message=finding.message, type=finding.rule_id)
        failure.text = text
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"{finding.severity}: {text}"


def junit_document(result: EnforcementResult) -> str:
    """One testsuite per check; one testcase per finding (errors are failures)."""
    findings = sorted_findings(result.findings)
    by_check: dict[str, list[Finding]] = {c.name: [] for c in result.checks}
    for finding in findings:
        by_check.setdefault(check_of(finding, result.checks), []).append(finding)
    root = ET.Element("testsuites", name="floe compile")
    total = failures = skipped = 0
    for check_name, check_findings in by_check.items():
        suite = ET.SubElement(root, "testsuite", name=check_name)
        for finding in check_findings:
            _testcase(suite, check_name, finding)
        if not check_findings:
            ET.SubElement(
                suite, "testcase", name=check_name, classname=_classname(check_name), time="0"
            )
        errors = sum(1 for f in check_findings if f.severity == "error" and not f.waived)
        waived = sum(1 for f in check_findings if f.waived)
        cases = max(len(check_findings), 1)
        suite.set("tests", str(cases))
        suite.set("failures", str(errors))
        suite.set("errors", "0")
        suite.set("skipped", str(waived))
        skipped += waived
        total += cases
        failures += errors
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---- SARIF 2.1.0 ---------------------------------------------------------------------


def _sarif_rule(finding: Finding) -> dict[str, Any]:
    family = finding.rule_id.split(".", 1)[0]
    summary = RULE_SUMMARIES.get(finding.rule_id, f"floe {family} rule {finding.rule_id}")
    return {
        "id": finding.rule_id,
        "name": "".join(part.capitalize() for part in finding.rule_id.replace(".", "_").split("_")),
        "shortDescription": {"text": summary},
        "help": {
            "text": f"{summary}. Each result names its own fix, for example: {finding.hint}. "
            f"Rule reference: docs/rules.md ({finding.rule_id})."
        },
        "defaultConfiguration": {"level": SARIF_LEVEL.get(finding.severity, "warning")},
    }


def _sarif_result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL.get(finding.severity, "warning"),
        "message": {"text": f"{finding.message} (hint: {finding.hint})"},
    }
    if finding.file:
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": finding.file, "uriBaseId": "PROJECTROOT"}
        }
        if finding.line:
            physical["region"] = {"startLine": max(int(finding.line), 1)}
        location: dict[str, Any] = {"physicalLocation": physical}
        if finding.model:
            location["logicalLocations"] = [{"name": finding.model, "kind": "module"}]
        result["locations"] = [location]
    if finding.model:
        result["properties"] = {"model": finding.model}
    if finding.waiver is not None:
        waiver = finding.waiver
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{waiver['reason']} (owner {waiver['owner']}, "
                f"expires {waiver['expires']}, {waiver['file']}:{waiver['line']})",
            }
        ]
    return result


def sarif_document(result: EnforcementResult) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: rules (first finding's hint as help) and results."""
    findings = sorted_findings(result.findings)
    rules: dict[str, dict[str, Any]] = {}
    for finding in findings:
        rules.setdefault(finding.rule_id, _sarif_rule(finding))
    rule_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "floe",
                        "version": __version__,
                        "rules": [rules[r] for r in rule_ids],
                    }
                },
                "originalUriBaseIds": {
                    "PROJECTROOT": {"description": {"text": "The dbt project root."}}
                },
                "results": [_sarif_result(f, index[f.rule_id]) for f in findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


# ---- text ----------------------------------------------------------------------------

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def findings_table(findings: Sequence[Finding]) -> Any:
    """A rich table of findings grouped by model (one section per model, errors first).

    Four columns keep it readable in a 100-column terminal: the rule id sits over its
    `file:line`, the message over its fix hint.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", pad_edge=False, show_lines=False)
    table.add_column("Model", style="bold", overflow="fold", max_width=32)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Rule / location", overflow="fold", max_width=40)
    table.add_column("Finding / fix", ratio=1)
    by_model: dict[str, list[Finding]] = {}
    for finding in sorted_findings(findings):
        by_model.setdefault(finding.model or "(project)", []).append(finding)
    for model in sorted(by_model):
        rows = sorted(
            by_model[model], key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.sort_key())
        )
        for i, finding in enumerate(rows):
            rule = Text(finding.rule_id)
            rule.append("\n" + _location(finding), style="dim")
            message = Text(finding.message)
            message.append("\nfix: " + finding.hint, style="dim")
            table.add_row(
                model if i == 0 else "",
                Text(
                    finding.severity + (" (waived)" if finding.waived else ""),
                    style="dim" if finding.waived else _STYLE.get(finding.severity, ""),
                ),
                rule,
                message,
                end_section=i == len(rows) - 1,
            )
    return table


def check_line(check: CheckSummary) -> str:
    """`  ✓ Naming conventions`, `  ✗ Quality gates (2 errors)`, `  ! ... (1 warning)`."""
    if check.errors:
        mark, extra = "✗", f" ({check.errors} error{'s' if check.errors != 1 else ''})"
    elif check.warnings:
        mark, extra = "!", f" ({check.warnings} warning{'s' if check.warnings != 1 else ''})"
    else:
        mark, extra = "✓", ""
    return f"  {mark} {check.name}{extra}"


TEXT_LIMIT = 200  # findings the terminal table shows; the report files carry them all


def print_findings(console: Console, findings: Sequence[Finding], limit: int = TEXT_LIMIT) -> None:
    """The findings table; past `limit` findings the most severe ones and a count of the
    rest (a table of 10,000 rows takes seconds to lay out and nobody reads it)."""
    if not findings:
        return
    shown = list(findings)
    if len(shown) > limit:
        shown = sorted(shown, key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.sort_key()))
        shown = shown[:limit]
    console.print(findings_table(shown))
    hidden = len(findings) - len(shown)
    if hidden:
        counts: dict[str, int] = {}
        for finding in findings:
            counts[finding.severity] = counts.get(finding.severity, 0) + 1
        for finding in shown:
            counts[finding.severity] -= 1
        detail = ", ".join(
            f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}"
            for s in sorted(counts, key=lambda s: SEVERITY_ORDER.get(s, 9))
            if counts[s]
        )
        console.print(
            f"  … {hidden} more findings not shown ({detail}): every finding is in "
            "findings.json, findings.sarif and junit.xml under --out (default target/floe/)",
            highlight=False,
            markup=False,
        )


# ---- an error before validation -------------------------------------------------------


def error_document(exc: FloeError) -> dict[str, Any]:
    """compiled.json / findings.json when the compile stopped before a verdict."""
    return {
        "floe_version": __version__,
        "status": "error",
        "blocking": True,
        "error": exc.to_json(),
        "findings": [],
        "profile": None,
    }


def error_junit(exc: FloeError) -> str:
    root = ET.Element("testsuites", name="floe compile", tests="1", failures="0", errors="1")
    suite = ET.SubElement(
        root, "testsuite", name="floe compile", tests="1", failures="0", errors="1", skipped="0"
    )
    case = ET.SubElement(suite, "testcase", name="compile", classname="floe.compile", time="0")
    error = ET.SubElement(case, "error", message=exc.message, type=exc.slug)
    error.text = exc.one_line()
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def error_sarif(exc: FloeError) -> dict[str, Any]:
    """A valid SARIF log with no results and a failed invocation carrying the error."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {"driver": {"name": "floe", "version": __version__, "rules": []}},
                "invocations": [
                    {
                        "executionSuccessful": False,
                        "exitCode": exc.exit_code,
                        "toolExecutionNotifications": [
                            {
                                "descriptor": {"id": exc.slug},
                                "level": "error",
                                "message": {"text": exc.one_line()},
                            }
                        ],
                    }
                ],
                "results": [],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
