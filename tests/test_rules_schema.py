"""Schema constraints: descriptions, data types, column name pattern."""

from __future__ import annotations

from pathlib import Path

from rules_helpers import FIXTURES, edit, enforce, line_of, make_tree, only, shop_project

from floe.tree.model import SchemaRegistry

BRONZE = "models/bronze/schema.yml"


def test_column_name_pattern(tmp_path: Path) -> None:
    assert not only(enforce(FIXTURES / "shop"), "schema.column_name")
    root = shop_project(tmp_path)
    edit(root, BRONZE, "- name: country", "- name: Country")
    (finding,) = only(enforce(root), "schema.column_name")
    assert (finding.file, finding.line) == (BRONZE, line_of(root, BRONZE, "- name: Country"))


def test_descriptions_and_data_types_required(tmp_path: Path) -> None:
    tree = make_tree(
        schema_registry=SchemaRegistry(
            require_column_descriptions=True, require_column_data_types=True
        )
    )
    root = shop_project(tmp_path)
    result = enforce(root, tree)
    assert not only(result, "schema.column_description")
    assert len(only(result, "schema.column_data_type")) == 9
    edit(root, BRONZE, "        description: ISO country code.\n", "")
    (finding,) = only(enforce(root, tree), "schema.column_description")
    assert finding.line == line_of(root, BRONZE, "- name: country")
    assert finding.hint == f"add `description:` to column country in {BRONZE}:{finding.line}"


def test_unsafe_column_pattern_is_reported_not_run() -> None:
    tree = make_tree(schema_registry=SchemaRegistry(column_name_pattern="([a-z]*)*$"))
    result = enforce(FIXTURES / "shop", tree)
    assert only(result, "schema.regex_unsafe") and not only(result, "schema.column_name")
