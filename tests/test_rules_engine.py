"""The engine: fixed check order, sorted findings, deterministic JSON, blocking."""

from __future__ import annotations

import json
from pathlib import Path

from rules_helpers import FIXTURES, edit, enforce, make_tree, shop_project

from floe.rules.dbt_reader import read_project
from floe.rules.engine import CHECKS, RULE_IDS, evaluate
from floe.tree.model import QualityGates

DOCS = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_check_order_and_passing_summary() -> None:
    result = enforce(FIXTURES / "shop")
    assert [c.name for c in result.checks] == [
        "Naming conventions",
        "Layer constraints",
        "Quality gates",
        "Classification compliance",
        "Access control",
        "Namespaces",
        "Schema constraints",
        "Configuration",
        "Project source",
        "Column lineage",
    ]
    assert [c.rule_prefix for c in result.checks] == [prefix for _, prefix, _ in CHECKS]
    assert not result.blocking and result.to_json()["summary"] == {
        "errors": 0,
        "warnings": 0,
        "infos": 0,
        "waived": 0,
    }


def _broken(tmp_path: Path) -> Path:
    root = shop_project(tmp_path)
    edit(root, "models/gold/schema.yml", "select: ['analyst']", "select: ['ghost']")
    edit(root, "models/gold/schema.yml", "meta: {classification: pii}", "meta: {classification: x}")
    edit(root, "models/silver/schema.yml", "- name: country", "- name: Country")
    return root


def test_findings_sorted_and_json_is_byte_identical(tmp_path: Path) -> None:
    root = _broken(tmp_path)
    tree = make_tree(quality_gates=QualityGates(minimum_test_coverage=100, block_on_failure=False))
    first = evaluate(read_project(root), tree)
    second = evaluate(read_project(root), tree)
    dump = json.dumps(first.to_json(), sort_keys=True)
    assert dump == json.dumps(second.to_json(), sort_keys=True)
    keys = [(f.file or "", f.line or 0, f.rule_id, f.model or "") for f in first.findings]
    assert keys == sorted(keys)
    assert first.blocking
    failed = {c.name: (c.passed, c.errors) for c in first.checks}
    assert failed["Access control"] == (False, 1) and failed["Schema constraints"] == (False, 1)


def test_warnings_alone_do_not_block(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/silver/schema.yml", "        data_tests: [not_null]\n", "")
    gates = QualityGates(minimum_test_coverage=100, block_on_failure=False)
    result = enforce(root, make_tree(quality_gates=gates))
    assert result.warnings == 1 and result.errors == 0 and not result.blocking
    assert result.checks[2].passed and result.checks[2].warnings == 1


def test_every_rule_id_is_documented() -> None:
    text = DOCS.read_text()
    missing = sorted(rule for rule in RULE_IDS if f"`{rule}`" not in text)
    assert not missing


def test_bench_project_generator_builds_a_clean_project(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "floe_bench_enforce", DOCS.parent.parent / "bench" / "enforce.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    bench.generate(tmp_path / "p", 31)
    project = read_project(tmp_path / "p")
    assert len(project.models) == 31
    result = evaluate(project, make_tree())
    assert not result.blocking, [f.message for f in result.findings[:3]]
    assert result.coverage.columns_total == 124
