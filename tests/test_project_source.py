"""One project source per compile, guarded by behaviour: what the reader opens and parses.

With a fresh target/manifest.json the manifest is read once (streamed) and no model file
is read for configs: each schema YAML is parsed once, for line numbers only. Without one
(or with a stale one) the manifest is never opened.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from rules_helpers import shop_project

from floe.rules import dbt_reader, manifest_stream
from floe.rules.dbt_reader import read_project

YAML_FILES = [
    "dbt_project.yml",
    "models/bronze/schema.yml",
    "models/gold/schema.yml",
    "models/silver/schema.yml",
    "seeds/schema.yml",
]


class Spy:
    """Counts what the reader opens: YAML parses by file, SQL reads, manifest reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.yaml: list[str] = []
        self.sql: list[str] = []
        self.manifests: list[Path] = []
        load_yaml, read_text = dbt_reader.load_yaml, dbt_reader._read_text
        read_slim = manifest_stream.read_slim

        def counted_yaml(text: str, rel: str, **kwargs: Any) -> Any:
            self.yaml.append(rel)
            return load_yaml(text, rel, **kwargs)

        def counted_sql(root: Path, rel: str) -> str:
            self.sql.append(rel)
            return read_text(root, rel)

        def counted_slim(path: Path) -> Any:
            self.manifests.append(path)
            return read_slim(path)

        monkeypatch.setattr(dbt_reader, "load_yaml", counted_yaml)
        monkeypatch.setattr(dbt_reader, "_read_text", counted_sql)
        monkeypatch.setattr(manifest_stream, "read_slim", counted_slim)


def _manifest(root: Path, *, fresh: bool, text: str | None = None) -> Path:
    path = root / "target" / "manifest.json"
    path.parent.mkdir()
    nodes = {
        "model.shop.silver_customers": {
            "resource_type": "model",
            "name": "silver_customers",
            "package_name": "shop",
            "original_file_path": "models/silver/silver_customers.sql",
            "fqn": ["shop", "silver", "silver_customers"],
            "refs": [],
            "config": {"materialized": "table"},
        }
    }
    exposures = {"exposure.shop.dash": {"name": "dash", "depends_on": {"nodes": []}}}
    path.write_text(text or json.dumps({"nodes": nodes, "sources": {}, "exposures": exposures}))
    when = path.stat().st_mtime + 100 if fresh else 1_000_000.0  # stale: before every file
    os.utime(path, (when, when))
    return path


def test_a_fresh_manifest_is_the_one_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop_project(tmp_path)
    path = _manifest(root, fresh=True)
    spy = Spy(monkeypatch)
    project = read_project(root)
    assert project.origin == "manifest" and list(project.models) == ["silver_customers"]
    assert spy.manifests == [path]  # read once: no second parse for the digest
    assert spy.sql == []  # configs come from dbt's rendering, not the model files
    assert sorted(spy.yaml) == YAML_FILES  # each YAML once (lines and exposures together)
    assert project.models["silver_customers"].file == "models/silver/schema.yml"


def test_without_a_fresh_manifest_the_manifest_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shop_project(tmp_path)
    files = read_project(root)
    _manifest(root, fresh=False, text="this is not JSON")  # would be project_invalid if read
    spy = Spy(monkeypatch)
    project = read_project(root)
    assert project.origin == "files" and spy.manifests == []
    assert sorted(spy.yaml) == YAML_FILES
    assert sorted(spy.sql) == sorted(m.sql_file for m in files.models.values() if m.sql_file)
    assert [f.rule_id for f in project.reader_findings] == ["project.manifest_stale"]
    assert project.models == files.models
