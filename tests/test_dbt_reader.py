"""The dbt project reader: YAML variants, configs, lineage, manifest.json, bad input."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import yaml
from rules_helpers import FIXTURES, edit, line_of, shop_project

from floe.errors import UsageError
from floe.rules import yaml_lines
from floe.rules.dbt_reader import read_project


def _project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "p"
    for rel, text in {"dbt_project.yml": "name: p\n", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_shop_fixture_models_configs_and_lines() -> None:
    project = read_project(FIXTURES / "shop")
    assert project.name == "shop" and project.origin == "files"
    assert sorted(project.models) == ["bronze_customers", "gold_customers", "silver_customers"]
    silver = project.models["silver_customers"]
    assert (silver.file, silver.line, silver.sql_file) == (
        "models/silver/schema.yml",
        3,
        "models/silver/silver_customers.sql",
    )
    assert silver.schema == "silver" and silver.materialized == "incremental"  # sql config wins
    assert silver.layer == "silver" and silver.layer_source == "folder"
    assert silver.refs == ("bronze_customers",) and "freshness" in silver.tests
    assert silver.columns[0].tests == ("unique", "not_null")  # dict-style test
    assert silver.columns[1].classification == "pii"  # from tags: classification:pii
    gold = project.models["gold_customers"]
    assert gold.refs == ("silver_customers",)  # two-argument ref('shop', 'silver_customers')
    assert gold.grants == {"select": ("analyst",)} and gold.primary_key == "customer_id"
    assert gold.meta == {"owner": "analytics", "primary_key": "customer_id"}  # folder + yaml
    assert gold.tests == ("dbt_utils.recency",) and gold.columns[1].line == 19
    bronze = project.models["bronze_customers"]
    assert bronze.refs == ("raw_customers",) and bronze.columns[2].tests == ("accepted_values",)
    seed = project.seeds["raw_customers"]
    assert seed.schema == "bronze" and seed.columns[1].classification == "pii"


def test_yaml_variants_meta_under_config_and_tests_keys(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {
            "models/x/m1.sql": "select 1",
            "models/x/m2.sql": "{{ config(schema='gold', meta={'layer': 'gold'}) }} select 1",
            "models/x/props.yaml": (
                "version: 2\n"
                "models:\n"
                "  - name: m1\n"
                "    meta: {layer: silver}\n"
                "    tests:\n"
                "      - name: custom_name\n"
                "        test_name: dbt_utils.expression_is_true\n"
                "    columns:\n"
                "      - name: id\n"
                "        config:\n"
                "          meta: {classification: confidential}\n"
                "        tests: [not_null]\n"
                "        data_tests:\n"
                "          - relationships: {to: ref('m2'), field: id}\n"
                "        constraints: [{type: primary_key}]\n"
                "  - name: m2\n"
                "    columns: [{name: id, data_type: int}]\n"
            ),
        },
    )
    project = read_project(root)
    m1, m2 = project.models["m1"], project.models["m2"]
    assert (m1.layer, m1.layer_source, m1.line) == ("silver", "meta", 3)
    assert m1.tests == ("dbt_utils.expression_is_true",)
    (column,) = m1.columns
    assert column.classification == "confidential" and column.line == 9
    assert column.tests == ("relationships", "not_null", "not_null", "unique")
    assert m1.primary_key == "id"
    assert (m2.schema, m2.layer, m2.layer_source) == ("gold", "gold", "meta")
    assert m2.columns[0].data_type == "int" and m2.file == "models/x/props.yaml"


def test_model_without_yaml_points_at_its_sql_and_disabled_models_are_skipped(
    tmp_path: Path,
) -> None:
    root = _project(
        tmp_path,
        {
            "models/bronze/bronze_a.sql": "select * from {{ source('shop', 'orders') }}",
            "models/bronze/off.sql": "{{ config(enabled=false) }} select 1",
            "models/sources.yml": (
                "sources:\n"
                "  - name: shop\n"
                "    freshness: {warn_after: {count: 1, period: day}}\n"
                "    tables:\n"
                "      - name: orders\n"
                "        columns: [{name: email, meta: {classification: pii}}]\n"
                "      - name: refunds\n"
                "        freshness: null\n"
            ),
        },
    )
    project = read_project(root)
    assert list(project.models) == ["bronze_a"]
    model = project.models["bronze_a"]
    assert (model.file, model.line, model.sources) == (
        "models/bronze/bronze_a.sql",
        1,
        ("shop.orders",),
    )
    orders, refunds = project.sources["shop.orders"], project.sources["shop.refunds"]
    assert orders.freshness and not refunds.freshness and orders.line == 5
    assert orders.columns[0].classification == "pii"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    edit(root, "models/gold/schema.yml", "    description: One row", "    description: [One row")
    with pytest.raises(UsageError) as caught:
        read_project(root)
    assert caught.value.slug == "project_invalid"
    assert caught.value.message.startswith("models/gold/schema.yml:")
    line = int(caught.value.message.split(":")[1])
    assert line >= line_of(root, "models/gold/schema.yml", "[One row")


def test_missing_project_file_and_bad_entries(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no dbt_project\.yml"):
        read_project(tmp_path)
    root = _project(tmp_path, {"models/s.yml": "models:\n  - description: no name\n"})
    with pytest.raises(UsageError, match=r"models/s.yml:2: every entry under `models:` needs"):
        read_project(root)


def _manifest(root: Path) -> Path:
    nodes = {
        "model.shop.silver_customers": {
            "resource_type": "model",
            "package_name": "shop",
            "name": "silver_customers",
            "original_file_path": "models/silver/silver_customers.sql",
            "patch_path": "shop://models/silver/schema.yml",
            "fqn": ["shop", "silver", "silver_customers"],
            "description": "Customers, cleaned.",
            "config": {"schema": "silver", "materialized": "table", "meta": {}, "grants": {}},
            "meta": {},
            "refs": [{"name": "bronze_customers", "package": None, "version": None}],
            "sources": [],
            "columns": {
                "customer_id": {"name": "customer_id", "description": "Key", "meta": {}},
                "email": {"name": "email", "description": "", "tags": ["classification:pii"]},
            },
        },
        "test.shop.unique_silver_customers_customer_id.abc": {
            "resource_type": "test",
            "attached_node": "model.shop.silver_customers",
            "column_name": "customer_id",
            "test_metadata": {"name": "unique", "namespace": None, "kwargs": {}},
        },
        "test.shop.recency.def": {
            "resource_type": "test",
            "depends_on": {"nodes": ["model.shop.silver_customers"]},
            "test_metadata": {"name": "recency", "namespace": "dbt_utils", "kwargs": {}},
        },
    }
    path = root / "target" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"nodes": nodes, "sources": {}}))
    return path


def test_fresh_manifest_json_is_read_with_yaml_lines(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    path = _manifest(root)
    future = path.stat().st_mtime + 100
    os.utime(path, (future, future))
    project = read_project(root)
    assert project.origin == "manifest" and list(project.models) == ["silver_customers"]
    model = project.models["silver_customers"]
    assert (model.file, model.line, model.materialized) == ("models/silver/schema.yml", 3, "table")
    assert model.tests == ("dbt_utils.recency",) and model.refs == ("bronze_customers",)
    key, email = model.columns
    assert key.tests == ("unique",) and key.line == line_of(
        root, "models/silver/schema.yml", "- name: customer_id"
    )
    assert email.classification == "pii" and email.description is None


def test_stale_manifest_json_is_ignored(tmp_path: Path) -> None:
    root = shop_project(tmp_path)
    path = _manifest(root)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # 2001: older than every project file
    project = read_project(root)
    assert project.origin == "files" and len(project.models) == 3


# ---- the fast YAML path agrees with PyYAML ---------------------------------------------

SAMPLES = [
    "version: 2\nmodels:\n  - name: a\n    description: 'it''s'\n    columns:\n"
    "    - name: x\n      tests: [not_null, unique]\n      meta: {classification: pii}\n",
    "a: 1\nb: true\nc: null\nd: ~\ne: 1.5\nf: 2024-01-01\ng: yes\nh: 'x'\ni: \"y: z\"\n"
    "j: x # comment\nk: [1, 2, {a: b}]\nl: -3\nm: 0o17\n",
    "desc: |\n  line1\n    indented\n\n  line3\n\nnext: >-\n  folded\n  text\n\n  para\n"
    "z: |+\n  keep\n\n\nw: x\n",
    "- a\n- b:\n    c: d\n- - x\n  - y\n-\n  k: v\n",
    "key:\n- a\n- b\nother: c\n",
    "- name: x\n  # comment\n  description: >\n    hi\n    # not a comment\n"
    "  tags: ['classification:pii']\n",
    "a:\n  b:\n    c: 1\n  d: 2\ne: [ ]\nf: { }\ng: \"\"\nh: ''\n",
    "x: &anchor {a: 1}\ny: *anchor\n",
    'x: "esc\\n"\n',
    "x: multi\n  line plain\n",
    "---\na: b\n",
    'k: http://example.com/x\nu: "x" # c\nv: a#b\n',
    "base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_fast_yaml_matches_pyyaml(text: str) -> None:
    fast = yaml_lines.load_yaml(text, "t.yml")
    slow = yaml_lines._load_with_pyyaml(text, "t.yml", "project_invalid")
    assert fast.data == slow.data == yaml.safe_load(text)
    assert sorted(fast.lines.values()) == sorted(slow.lines.values())


def test_fast_yaml_handles_the_fixture_files_itself() -> None:
    for path in sorted((FIXTURES / "shop").rglob("*.yml")):
        text = path.read_text()
        parsed = yaml_lines._FastParser(text).parse()  # no fallback for ordinary dbt YAML
        assert parsed.data == yaml.safe_load(text), path


def test_invalid_yaml_is_a_usage_error_with_line() -> None:
    with pytest.raises(UsageError, match=r"^t.yml:2: invalid YAML"):
        yaml_lines.load_yaml("a: b\nc: d: e\n", "t.yml")


@pytest.mark.dbt
@pytest.mark.slow
def test_real_dbt_manifest_reads_like_the_files(tmp_path: Path) -> None:
    """`dbt parse` output gives the same project (and verdict) as reading the files."""
    import subprocess

    from rules_helpers import make_tree

    from floe.rules.engine import evaluate

    root = shop_project(tmp_path)
    # No packages in the test env: swap the dbt_utils test for a meta freshness marker.
    edit(
        root,
        "models/gold/schema.yml",
        "    data_tests:\n      - dbt_utils.recency:\n          datepart: day\n"
        "          field: updated_at\n          interval: 1\n",
        "",
    )
    edit(
        root,
        "models/gold/schema.yml",
        "        primary_key: customer_id\n",
        "        primary_key: customer_id\n        freshness: daily\n",
    )
    (root / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: x.duckdb\n"
    )
    from_files = read_project(root)
    dbt = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "dbt"
    subprocess.run(
        [str(dbt), "parse", "--profiles-dir", str(root), "--project-dir", str(root)],
        check=True,
        capture_output=True,
    )
    from_manifest = read_project(root)
    assert from_manifest.origin == "manifest"
    assert sorted(from_manifest.models) == sorted(from_files.models)
    for name, model in from_files.models.items():
        other = from_manifest.models[name]
        assert (other.file, other.line, other.layer, other.schema, other.refs) == (
            model.file,
            model.line,
            model.layer,
            model.schema,
            model.refs,
        )
        assert [(c.name, c.line, c.classification, sorted(c.tests)) for c in other.columns] == [
            (c.name, c.line, c.classification, sorted(c.tests)) for c in model.columns
        ]
    tree = make_tree()
    assert evaluate(from_manifest, tree).to_json() == evaluate(from_files, tree).to_json()
    assert not evaluate(from_manifest, tree).blocking


_FUZZ_SCALARS = [
    *("x", "not_null", "a b c", "'quoted: yes'", '"dq # not comment"', "1", "0.5", "true"),
    *("no", "~", "null", "http://x.y/z", "a#b", "v # comment", "'it''s'", "[a, b]", "{k: v}"),
    *("[]", "{}", "[1, 'two', {x: y}]", "{a: [1, 2], b: c}", "ref('x')", "2024-01-01", "-1"),
    *("+5", "0x1F", "1_000", ".5", "On", '""', "''", "=", "<<", "a: b", "- x", "'", "[a, b"),
    *("{a: b", "!tag x", "&a x", "*a", "@x", "a,b", "a:b", "[a:b]", "{a:b}", "é ü", "a  b"),
]
_FUZZ_KEYS = [
    *("name", "description", "data_tests", "meta", "config", "+schema", "dbt_utils.recency"),
    *("'quoted key'", '"dq key"', "1", "true", "key with space", "k-e-y", "x/y"),
]


def _fuzz_value(depth: int, indent: int, rnd: random.Random) -> str:
    roll = rnd.random()
    if depth > 3 or roll < 0.5:
        return " " + rnd.choice(_FUZZ_SCALARS) + "\n"
    if roll < 0.7:
        return "\n" + _fuzz_map(depth + 1, indent + 2, rnd)
    if roll < 0.9:
        return "\n" + _fuzz_seq(depth + 1, indent + rnd.choice([0, 2]), rnd)
    body = "".join(
        " " * (indent + 2) + rnd.choice(["line", "two words", "# hash", "", "  more"]) + "\n"
        for _ in range(rnd.randint(1, 4))
    )
    return " " + rnd.choice(["|", ">", "|-", ">-", "|+"]) + "\n" + body


def _fuzz_map(depth: int, indent: int, rnd: random.Random) -> str:
    out = ""
    for key in rnd.sample(_FUZZ_KEYS, rnd.randint(1, 4)):
        out += " " * indent + key + ":" + _fuzz_value(depth, indent, rnd)
        if rnd.random() < 0.1:
            out += " " * indent + "# comment\n"
    return out


def _fuzz_seq(depth: int, indent: int, rnd: random.Random) -> str:
    out = ""
    for _ in range(rnd.randint(1, 3)):
        if rnd.random() < 0.5 and depth < 4:
            out += " " * indent + "- " + _fuzz_map(depth + 1, indent + 2, rnd)[indent + 2 :]
        else:
            out += " " * indent + "-" + _fuzz_value(depth + 1, indent, rnd)
    return out


def test_fast_yaml_fuzzed_documents_agree_with_pyyaml() -> None:
    """Random dbt-like documents: the fast path either gives up or matches PyYAML."""
    fast = 0
    for seed in range(1500):
        text = _fuzz_map(0, 0, random.Random(seed))
        try:
            got = yaml_lines._FastParser(text).parse()
        except yaml_lines._GiveUp:
            continue
        fast += 1
        reference = yaml_lines._load_with_pyyaml(text, "t.yml", "project_invalid")  # no error
        assert got.data == reference.data, text
        assert sorted(got.lines.values()) == sorted(reference.lines.values()), text
    assert fast > 300  # the fast path is really exercised
