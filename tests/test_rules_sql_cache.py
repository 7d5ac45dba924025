"""The SQL rules' facts are cached with the lineage: a warm compile parses no SQL again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from catalogue_helpers import catalogue_tree

from floe.project.compile import platform_layers
from floe.rules import sql_scan
from floe.rules.dbt_reader import read_project
from floe.rules.engine import evaluate
from floe.rules.lineage import LineageCache

MODELS = {
    "bronze/bronze_people.sql": "select person_id, email\nfrom raw.people\n",
    "silver/silver_people.sql": "select *\nfrom {{ ref('bronze_people') }} a\n"
    "cross join {{ ref('bronze_people') }} b\n",
}


def _project(root: Path) -> Path:
    for rel, sql in MODELS.items():
        (root / "models" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "models" / rel).write_text(sql)
    (root / "dbt_project.yml").write_text("name: people\nprofile: people\n")
    return root


def _sql_findings(root: Path, cache: LineageCache) -> list[tuple[str, str | None, int | None]]:
    tree = catalogue_tree()  # medallion-strict: every SQL rule on
    result = evaluate(read_project(root, layers=platform_layers(tree)), tree, cache)
    return sorted(
        (f.rule_id, f.model, f.line) for f in result.findings if f.rule_id.startswith("sql.")
    )


def _no_parse(*_: Any) -> None:
    raise AssertionError("SQL parsed although the cache had it")


def test_warm_cache_parses_no_sql_and_gives_the_same_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path / "p")
    cold = LineageCache()
    first = _sql_findings(root, cold)
    assert ("sql.hardcoded_relation", "bronze_people", 2) in first
    assert ("sql.select_star", "silver_people", 1) in first
    assert ("sql.cartesian_join", "silver_people", 3) in first
    saved = cold.to_json()
    assert len(saved["sql_facts"]) == 2
    monkeypatch.setattr(sql_scan, "_facts", _no_parse)
    warm = LineageCache(saved)
    assert _sql_findings(root, warm) == first
    assert warm.to_json()["sql_facts"] == saved["sql_facts"]  # used entries are kept


@pytest.mark.parametrize(
    "damage",
    [[None, ["1"], [], []], [["x", 2], [], [], []], [None, [], [["raw", "2"]], []], "x", [1], {}],
)
def test_a_damaged_facts_entry_is_parsed_again(tmp_path: Path, damage: Any) -> None:
    root = _project(tmp_path / "p")
    cold = LineageCache()
    first = _sql_findings(root, cold)
    saved = cold.to_json()
    saved["sql_facts"] = {key: damage for key in saved["sql_facts"]}
    sql_scan._facts.cache_clear()
    warm = LineageCache(saved)
    assert _sql_findings(root, warm) == first  # never trusted: recomputed
    assert warm.to_json()["sql_facts"] == cold.to_json()["sql_facts"]


def test_an_unparsable_model_is_cached_as_unparsable() -> None:
    cache = LineageCache()
    assert sql_scan.facts("select from from (", "duckdb", cache=cache) is None
    assert list(LineageCache(cache.to_json()).facts.values()) == [[]]
    assert LineageCache(cache.to_json()).facts_get(next(iter(cache.facts_used))) == (True, None)


def test_the_manifests_stripped_code_and_the_file_share_one_cache_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dbt keeps raw_code stripped; the model file ends with its newline. A compile with
    # target/manifest.json and one without must find each other's facts, not re-parse.
    file_text = MODELS["silver/silver_people.sql"] + "\n  \n"
    cache = LineageCache()
    from_file = sql_scan.facts(file_text, "duckdb", cache=cache)
    assert from_file is not None and from_file.stars == (1,) and from_file.cartesian
    monkeypatch.setattr(sql_scan, "_facts", _no_parse)
    warm = LineageCache(cache.to_json())
    assert sql_scan.facts(file_text.strip(), "duckdb", cache=warm) == from_file
    assert warm.to_json()["sql_facts"] == cache.to_json()["sql_facts"]
