"""`floe platform diff`: tightening/loosening/neutral per rule, and the semver bump needed."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_floe
from manifest_helpers import MINIMAL, compile_in, write_manifest

from floe.platform.diff import bump_between, diff_folders

EXTRA = """\
  classification:
    levels: [public, internal, pii]
    rules:
      pii:
        forbidden_layers: [gold]
  access_control:
    roles: [analyst, engineer]
    permissions:
      analyst: [select]
catalog:
  namespaces: [bronze, silver, gold]
"""


def _compile(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    write_manifest(folder, text)
    result = compile_in(folder, "--out", "out")
    assert result.exit_code == 0, result.output
    return folder / "out"


def _base(version: str = "1.2.3") -> str:
    return MINIMAL.replace('version: "1.2.3"', f'version: "{version}"') + EXTRA


def test_a_tightening_is_a_minor_bump(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    tighter = _base("1.3.0").replace("minimum_test_coverage: 80", "minimum_test_coverage: 90")
    tighter = tighter.replace("forbidden_layers: [gold]", "forbidden_layers: [gold, silver]")
    new = _compile(tmp_path, "b", tighter)
    report = diff_folders(old, new)
    found = {(c.rule, c.kind) for c in report.changes}
    assert found == {
        ("quality_gates.minimum_test_coverage", "tightening"),
        ("classification.rules.pii.forbidden_layers", "tightening"),
    }
    assert report.needed == "minor"
    assert report.made == "minor"
    assert report.enough


def test_a_loosening_pair_is_the_reverse(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    looser = _base("1.2.4").replace("minimum_test_coverage: 80", "minimum_test_coverage: 50")
    looser = looser.replace("analyst: [select]", "analyst: [select, insert]")
    report = diff_folders(old, _compile(tmp_path, "b", looser))
    assert {(c.rule, c.kind) for c in report.changes} == {
        ("quality_gates.minimum_test_coverage", "loosening"),
        ("access_control.permissions.analyst", "loosening"),
    }
    assert report.needed == "patch"
    assert report.enough


def test_removing_a_namespace_level_or_role_needs_a_major_bump(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    for old_text, new_text, rule in (
        ("namespaces: [bronze, silver, gold]", "namespaces: [bronze, gold]", "catalog.namespaces"),
        ("roles: [analyst, engineer]", "roles: [analyst]", "access_control.roles"),
        ("levels: [public, internal, pii]", "levels: [public, pii]", "classification.levels"),
    ):
        new = _compile(tmp_path, rule, _base("1.3.0").replace(old_text, new_text))
        report = diff_folders(old, new)
        assert [c.rule for c in report.changes if c.breaking] == [rule]
        assert report.needed == "major"
        assert not report.enough


def test_identical_trees_need_no_bump_and_cli_renders_text_and_json(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    same = _compile(tmp_path, "b", _base())
    assert diff_folders(old, same).changes == []
    assert diff_folders(old, same).needed == "none"
    tighter = _compile(
        tmp_path, "c", _base("1.2.4").replace("enforcement: strict", "enforcement: warn")
    )
    text = run_floe("platform", "diff", str(old), str(tighter), "--semver")
    assert text.exit_code == 0, text.output
    assert "loosening   naming.enforcement: 2 -> 1" in text.stdout
    assert "semver: needs patch" in text.stdout
    as_json = run_floe("platform", "diff", str(tighter), str(old), "--format", "json")
    data = json.loads(as_json.stdout)
    assert data["changes"] == [
        {"rule": "naming.enforcement", "kind": "tightening", "detail": "1 -> 2", "breaking": False}
    ]
    assert data["semver"] == {"needed": "minor", "made": "none", "enough": False}


def test_a_tampered_tree_is_refused(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    new = _compile(tmp_path, "b", _base())
    gates = new / "policies" / "quality-gates.json"
    gates.write_text(gates.read_text().replace("80", "10"))
    result = run_floe("platform", "diff", str(old), str(new))
    assert result.exit_code != 0
    assert "error[" in result.stderr


def test_version_bumps() -> None:
    assert bump_between("1.2.3", "2.0.0") == "major"
    assert bump_between("1.2.3", "1.3.0") == "minor"
    assert bump_between("1.2.3", "1.2.4") == "patch"
    assert bump_between("1.2.3", "1.2.3") == "none"
