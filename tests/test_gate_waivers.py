"""Waivers: the platform decides which rules and for how long; every format shows them."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
from compile_helpers import acme_files, write_tiny_project
from conftest import run_floe
from lifecycle_helpers import install_state

from floe.tree import model as t

SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0.json"


def _files(allowed: list[str], max_days: int = 90) -> dict[str, bytes]:
    files = acme_files()
    gates = t.QualityGates.model_validate_json(files[t.QUALITY_GATES_FILE])
    policy = t.GovernancePolicy(waivers=t.WaiverPolicy(allowed=allowed, max_days=max_days))
    files[t.QUALITY_GATES_FILE] = t.model_bytes(gates.model_copy(update={"governance": policy}))
    manifest = t.PlatformManifest.model_validate_json(files[t.MANIFEST_FILE])
    rest = {k: v for k, v in files.items() if k != t.MANIFEST_FILE}
    meta = manifest.metadata.model_copy(update={"digest": t.content_digest(rest)})
    files[t.MANIFEST_FILE] = t.model_bytes(manifest.model_copy(update={"metadata": meta}))
    return files


def _project(root: Path, waiver_days: int, allowed: list[str]) -> Path:
    write_tiny_project(root, model="numbers")  # naming.prefix error: bronze_ is missing
    install_state(root, _files(allowed))
    expires = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=waiver_days)).isoformat()
    with (root / "floe.yaml").open("a") as f:
        f.write(
            "waivers:\n"
            "  - rule: naming.*\n"
            "    model: numbers\n"
            "    reason: legacy name, renamed in Q3\n"
            "    owner: data-eng@example.com\n"
            f"    expires: '{expires}'\n"
        )
    return root


def _floe_yaml_line(root: Path) -> int:
    lines = (root / "floe.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("  - rule:"))


def test_valid_waiver_is_suppressed_in_every_format(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", 30, ["naming.*"])
    result = run_floe("compile", "--dir", str(root), "--format", "sarif")
    assert result.exit_code == 0, result.output
    sarif = json.loads(result.stdout)
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    (waived,) = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert waived["ruleId"] == "naming.prefix"
    assert waived["suppressions"][0]["kind"] == "external"
    assert "legacy name" in waived["suppressions"][0]["justification"]
    findings = json.loads((root / "target/floe/findings.json").read_text())
    (entry,) = [f for f in findings["findings"] if f["rule_id"] == "naming.prefix"]
    assert entry["waived"] is True and entry["waiver"]["owner"] == "data-eng@example.com"
    assert findings["summary"]["waived"] == 1 and findings["summary"]["errors"] == 0
    junit = ET.parse(root / "target/floe/junit.xml").getroot()
    skipped = junit.findall(".//testcase/skipped")
    assert len(skipped) == 1 and "legacy name" in skipped[0].get("message", "")
    assert junit.get("skipped") == "1" and junit.get("failures") == "0"


def test_expired_waiver_fails(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", -1, ["naming.*"])
    result = run_floe("compile", "--dir", str(root), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    rules = {(f["rule_id"], f["file"], f["line"]) for f in document["findings"]}
    assert ("waiver.expired", "floe.yaml", _floe_yaml_line(root)) in rules
    assert ("naming.prefix", "models/bronze/numbers.sql", 1) in rules  # not waived


def test_over_long_and_disallowed_waivers_fail(tmp_path: Path) -> None:
    long = _project(tmp_path / "long", 200, ["naming.*"])
    assert run_floe("compile", "--dir", str(long)).exit_code == 1
    found = json.loads((long / "target/floe/findings.json").read_text())["findings"]
    assert "waiver.too_long" in {f["rule_id"] for f in found}
    refused = _project(tmp_path / "refused", 10, ["schema.*"])
    assert run_floe("compile", "--dir", str(refused)).exit_code == 1
    found = json.loads((refused / "target/floe/findings.json").read_text())["findings"]
    assert "waiver.not_allowed" in {f["rule_id"] for f in found}
    assert not any(f.get("waived") for f in found)
