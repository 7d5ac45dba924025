"""Column lineage (sqlglot): classification follows the SQL, not only the YAML."""

from __future__ import annotations

from pathlib import Path

from compile_helpers import acme_tree

from floe.project.compile import platform_layers
from floe.rules.dbt_reader import read_project
from floe.rules.engine import evaluate
from floe.rules.lineage import LineageCache, model_lineage, render

PEOPLE_YML = """version: 2
seeds:
  - name: raw_people
    columns:
      - name: email
        meta: {classification: pii}
models:
  - name: bronze_people
    columns:
      - name: person_id
      - name: email
        meta: {classification: pii}
"""


def _project(root: Path, models: dict[str, str], yml: str = "") -> Path:
    (root / "models/bronze").mkdir(parents=True)
    (root / "models/silver").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "dbt_project.yml").write_text("name: people\nprofile: people\n")
    (root / "seeds/raw_people.csv").write_text("person_id,email,city\n1,a@b.c,Oslo\n")
    (root / "seeds/_seeds.yml").write_text(PEOPLE_YML)
    (root / "models/bronze/bronze_people.sql").write_text(
        "select person_id, email from {{ ref('raw_people') }}\n"
    )
    for name, sql in models.items():
        (root / f"models/silver/{name}.sql").write_text(sql)
    (root / "models/silver/_silver.yml").write_text("version: 2\nmodels:\n" + yml)
    return root


def _findings(root: Path, rule: str, cache: LineageCache | None = None) -> list[tuple[str, int]]:
    tree = acme_tree()
    project = read_project(root, layers=platform_layers(tree))
    result = evaluate(project, tree, cache)
    return [(f"{f.model}@{f.file}", f.line or 0) for f in result.findings if f.rule_id == rule]


DECLARE_ID = "  - name: {name}\n    columns:\n      - name: person_id\n"


def test_undeclared_pii_via_rename_star_and_cte(tmp_path: Path) -> None:
    models = {
        "silver_renamed": "select\n    person_id,\n    email as contact_email\n"
        "from {{ ref('bronze_people') }}\n",
        "silver_star": "-- everything\nselect *\nfrom {{ ref('bronze_people') }}\n",
        "silver_cte": "with p as (\n  select email as e, person_id\n"
        "  from {{ ref('bronze_people') }})\n"
        "select person_id,\n  upper(e) as shout\nfrom p\n",
    }
    yml = "".join(DECLARE_ID.format(name=name) for name in models)
    root = _project(tmp_path / "p", models, yml)
    found = _findings(root, "classification.undeclared_column")
    assert found == [
        ("silver_cte@models/silver/silver_cte.sql", 5),
        ("silver_renamed@models/silver/silver_renamed.sql", 3),
        ("silver_star@models/silver/silver_star.sql", 2),
    ]


def test_star_from_a_seed_expands_its_csv_header(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"silver_all": "select * from {{ ref('raw_people') }}\n"})
    found = _findings(root, "classification.undeclared_column")
    assert found == [("silver_all@models/silver/silver_all.sql", 1)]


def test_declared_column_absent_from_sql_and_unparsable_sql(tmp_path: Path) -> None:
    yml = "  - name: silver_ids\n    columns:\n      - name: person_id\n      - name: ghost\n"
    models = {
        "silver_ids": "select person_id from {{ ref('bronze_people') }}\n",
        "silver_broken": "select from where (((\n",
    }
    root = _project(tmp_path / "p", models, yml)
    assert _findings(root, "schema.column_missing") == [("silver_ids@models/silver/_silver.yml", 6)]
    assert _findings(root, "lineage.unparsed") == [
        ("silver_broken@models/silver/silver_broken.sql", 1)
    ]


def test_declared_downstream_column_inherits_through_a_rename(tmp_path: Path) -> None:
    yml = (
        "  - name: silver_contact\n    columns:\n      - name: person_id\n"
        "      - name: contact\n        meta: {classification: internal}\n"
    )
    models = {
        "silver_contact": "select person_id, email as contact from {{ ref('bronze_people') }}"
    }
    root = _project(tmp_path / "p", models, yml)
    assert _findings(root, "classification.propagation") == [
        ("silver_contact@models/silver/_silver.yml", 6)
    ]


def test_warm_cache_parses_nothing_and_gives_the_same_findings(tmp_path: Path) -> None:
    models = {"silver_star": "select * from {{ ref('bronze_people') }}\n"}
    root = _project(tmp_path / "p", models, DECLARE_ID.format(name="silver_star"))
    cold = LineageCache()
    first = _findings(root, "classification.undeclared_column", cold)
    assert cold.misses == 2 and cold.hits == 0
    warm = LineageCache(cold.to_json())
    assert _findings(root, "classification.undeclared_column", warm) == first
    assert warm.hits == 2 and warm.misses == 0


def test_render_keeps_lines_and_relations() -> None:
    sql = render("{{ config(materialized='table') }}\n{# note\n #}select a\nfrom {{ ref('x') }}")
    assert sql.splitlines()[3] == 'from "x"' and sql.count("\n") == 3
    lineage = model_lineage(sql, "duckdb", {"x": ("a", "b")})
    assert [(c.name, c.deps, c.line) for c in lineage.columns] == [("a", (("x", "a"),), 3)]
    assert lineage.complete
