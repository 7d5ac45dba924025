"""Report documents: deterministic JSON, JUnit XML, SARIF 2.1.0 (schema-validated).

fixtures/sarif-2.1.0.json is the published SARIF 2.1.0 JSON schema (schemastore's
sarif-2.1.0-rtm.5, draft-04), as shipped in the npm package @microsoft/jest-sarif (MIT).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from floe.project import report
from floe.rules.engine import CheckSummary, CoverageStats, EnforcementResult
from floe.rules.model import Finding

SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0.json"

FINDINGS = [
    Finding(
        "naming.prefix",
        "error",
        "customer_orders",
        "models/silver/_violations.yml",
        4,
        "silver model customer_orders lacks prefix silver_",
        "rename it to silver_customer_orders",
    ),
    Finding(
        "classification.forbidden_layer",
        "error",
        "gold_contacts",
        "models/gold/_gold.yml",
        12,
        "pii column email in gold",
        "drop or mask the column",
    ),
    Finding(
        "classification.forbidden_layer",
        "error",
        "gold_contacts",
        "models/gold/_gold.yml",
        15,
        "pii column phone in gold",
        "drop or mask the column",
    ),
    Finding(
        "quality.coverage",
        "warning",
        None,
        "dbt_project.yml",
        1,
        "test coverage 50% is below 80%",
        "add tests",
    ),
]


def _result(findings: list[Finding]) -> EnforcementResult:
    def summary(name: str, prefix: str) -> CheckSummary:
        own = [f for f in findings if f.rule_id.startswith(prefix + ".")]
        errors = sum(1 for f in own if f.severity == "error")
        warnings = sum(1 for f in own if f.severity == "warning")
        return CheckSummary(name, prefix, errors == 0, errors, warnings)

    checks = [
        summary("Naming conventions", "naming"),
        summary("Quality gates", "quality"),
        summary("Classification compliance", "classification"),
        summary("Access control", "access"),
    ]
    coverage = CoverageStats(4, 3, 10, 5, 50.0)
    blocking = any(f.severity == "error" for f in findings)
    return EnforcementResult(sorted(findings, key=Finding.sort_key), checks, coverage, blocking)


def test_findings_json_is_deterministic_and_sorted() -> None:
    forward = report.dumps_json(report.findings_document(_result(FINDINGS)))
    backward = report.dumps_json(report.findings_document(_result(FINDINGS[::-1])))
    assert forward == backward
    document = json.loads(forward)
    files = [(f["file"], f["line"]) for f in document["findings"]]
    assert files == sorted(files)
    assert document["summary"] == {"errors": 3, "warnings": 1, "infos": 0, "waived": 0}
    assert document["coverage"]["percent"] == 50.0
    assert document["blocking"] is True


def test_junit_has_one_failure_per_error() -> None:
    root = ET.fromstring(report.junit_document(_result(FINDINGS)))
    assert root.tag == "testsuites"
    assert root.get("failures") == "3"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == [
        "Naming conventions",
        "Quality gates",
        "Classification compliance",
        "Access control",
    ]
    classification = suites["Classification compliance"]
    assert classification.get("failures") == "2"
    failures = classification.findall("testcase/failure")
    assert [f.get("type") for f in failures] == ["classification.forbidden_layer"] * 2
    assert "models/gold/_gold.yml:12" in (failures[0].text or "")
    # A warning is reported but does not fail; a clean check still has a passing case.
    quality = suites["Quality gates"]
    assert quality.get("failures") == "0"
    assert quality.find("testcase/system-out") is not None
    access = suites["Access control"].findall("testcase")
    assert len(access) == 1 and access[0].find("failure") is None
    names = [case.get("name") for case in root.iter("testcase")]
    assert len(names) == len(set(names))  # CI tools merge equal names


def test_junit_clean_project_has_no_failures() -> None:
    root = ET.fromstring(report.junit_document(_result([])))
    assert root.get("failures") == "0"
    assert len(root.findall("testsuite/testcase")) == 4


def test_sarif_validates_against_the_2_1_0_schema() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    document = report.sarif_document(_result(FINDINGS))
    jsonschema.validate(document, schema)
    run = document["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["classification.forbidden_layer", "naming.prefix", "quality.coverage"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
    first = run["results"][0]
    assert first["level"] == "warning"  # dbt_project.yml sorts first
    gold = [r for r in run["results"] if r["ruleId"] == "classification.forbidden_layer"]
    location = gold[0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "models/gold/_gold.yml"
    assert location["region"]["startLine"] == 12
    assert rule_ids[gold[0]["ruleIndex"]] == "classification.forbidden_layer"
    assert {r["level"] for r in run["results"]} == {"error", "warning"}


def test_sarif_schema_rejects_a_broken_document() -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    document = report.sarif_document(_result(FINDINGS))
    document["runs"][0]["results"][0]["level"] = "fatal"
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        assert "fatal" in exc.message
    else:
        raise AssertionError("the schema accepted an invalid level")


def test_check_lines_use_marks() -> None:
    result = _result(FINDINGS)
    lines = [report.check_line(check) for check in result.checks]
    assert lines == [
        "  ✗ Naming conventions (1 error)",
        "  ! Quality gates (1 warning)",
        "  ✗ Classification compliance (2 errors)",
        "  ✓ Access control",
    ]


def test_table_groups_findings_by_model() -> None:
    from rich.console import Console

    console = Console(width=160, record=True, color_system=None)
    report.print_findings(console, FINDINGS)
    text = console.export_text()
    assert text.index("customer_orders") < text.index("gold_contacts")
    assert text.count("gold_contacts") == 1  # one group header, not one per row
    assert "models/gold/_gold.yml:15" in text
    assert "(project)" in text


def test_every_rule_id_has_a_sarif_summary() -> None:
    import re

    import floe.rules as rules

    source = "".join(p.read_text() for p in Path(rules.__file__).parent.glob("*.py"))
    families = "naming|layer|quality|classification|access|namespace|schema"
    used = set(re.findall(rf'"((?:{families})\.[a-z_]+)"', source))
    assert used, "no rule ids found in floe/rules"
    assert used <= set(report.RULE_SUMMARIES), sorted(used - set(report.RULE_SUMMARIES))


def test_a_long_findings_table_shows_the_most_severe_and_counts_the_rest() -> None:
    from rich.console import Console

    many = [
        Finding("naming.prefix", "warning", f"m{i:03d}", "models/x.yml", i + 1, "w", "h")
        for i in range(30)
    ] + [Finding("layer.required_test", "error", "zz_last", "models/y.yml", 3, "e", "h")]
    console = Console(width=160, record=True, color_system=None)
    report.print_findings(console, many, limit=5)
    text = console.export_text()
    assert "zz_last" in text  # the error is shown although its model sorts last
    assert "m003" in text and "m004" not in text  # then the first warnings, in order
    assert "… 26 more findings not shown (26 warnings): every finding is in findings.json" in text
    console = Console(width=160, record=True, color_system=None)
    report.print_findings(console, many, limit=31)
    assert "more findings not shown" not in console.export_text()
