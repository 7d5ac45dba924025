"""The SQL facts behind the sql.* and contract.columns_match rules."""

from __future__ import annotations

import random

import pytest

from floe.rules.sql_scan import facts, render

SQL = [
    "select a, b from {{ ref('x') }}",
    "select a from {{ source('s', 't') }} where b > 1",
    "with x as (select * from {{ ref('y') }}) select a from x",
    "with x as (select * from {{ ref('y') }} where z) select a from x",
    "select count(*) as n from {{ ref('x') }}",
    "select * from {{ ref('x') }}",
    "select x.* from {{ ref('x') }} as x",
    "select a from raw.orders",
    "select a from {{ ref('x') }} as x join raw.y on x.id = y.id",
    "select a from {{ ref('x') }} as x, {{ ref('y') }} as y",
    "select a from {{ ref('x') }} cross join {{ ref('y') }}",
    "select a from {{ ref('x') }} as x left join {{ ref('y') }} as y using (id)",
    "select extract(year from d) as y from {{ ref('x') }}",
    "{{ config(materialized='table') }}\nselect a\nfrom {{ ref('x') }}",
    "select a from {% if true %}{{ ref('x') }}{% endif %}",
]


@pytest.mark.parametrize("sql", SQL)
def test_quick_path_agrees_with_the_full_parse(sql: str) -> None:
    full = facts(sql, "duckdb")
    quick = facts(sql, "duckdb", columns=False)
    assert full is not None and quick is not None
    assert (quick.stars, quick.relations, quick.cartesian) == (
        full.stars,
        full.relations,
        full.cartesian,
    )


def test_seeded_combinations_agree() -> None:
    rng = random.Random(13)
    parts = {
        "select": ["a", "a, b", "*", "x.*", "count(*) as n", "extract(day from d) as d"],
        "from": ["{{ ref('x') }} as x", "raw.t as x", "{{ source('s', 't') }} as x", "c"],
        "join": ["", " join {{ ref('y') }} as y on x.a = y.a", ", {{ ref('y') }} as y",
                 " cross join raw.z", " left join c using (a)"],
    }  # fmt: skip
    for _ in range(200):
        body = f"select {rng.choice(parts['select'])} from {rng.choice(parts['from'])}"
        sql = "with c as (select a from {{ ref('w') }}) " + body + rng.choice(parts["join"])
        full, quick = facts(sql, "duckdb"), facts(sql, "duckdb", columns=False)
        assert full is not None and quick is not None, sql
        assert (quick.stars, quick.relations, quick.cartesian) == (
            full.stars,
            full.relations,
            full.cartesian,
        ), sql


def test_rendering_keeps_lines_and_parse_failures_are_none() -> None:
    sql = "{{ config(\n  materialized='table'\n) }}\nselect a\nfrom raw.t"
    rendered = render(sql)
    assert rendered.count("\n") == sql.count("\n")
    found = facts(sql, "duckdb")
    assert found is not None and found.relations == (("raw.t", 5),)
    assert found.columns == ("a",)
    assert facts("select (( from", "duckdb") is None
