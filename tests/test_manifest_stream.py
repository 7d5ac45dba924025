"""The streamed manifest.json reader: same nodes as json.loads, one pass, bad input refused."""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path

import pytest

from floe.rules import manifest_stream
from floe.rules.manifest_stream import read_slim, slim_node

MODEL = {
    "name": "silver_orders",
    "resource_type": "model",
    "package_name": "shop",
    "original_file_path": "models/silver/silver_orders.sql",
    "raw_code": "select 1 as id -- é ✓",
    "compiled_code": "select 1 as id",
    "checksum": {"name": "sha256", "checksum": "ab" * 32},
    "config": {"materialized": "table", "meta": {"layer": "silver"}, "on_schema_change": "x"},
    "columns": {"id": {"name": "id", "description": "Key.", "quote": None, "granularity": 7}},
    "depends_on": {"nodes": ["model.shop.bronze_orders"], "macros": ["macro.dbt.ref"]},
    "refs": [{"name": "bronze_orders", "package": None, "version": None}],
    "version": None,
}
TEST = {
    "name": "not_null_silver_orders_id",
    "resource_type": "test",
    "raw_code": "{{ test_not_null(**_dbt_generic_test_kwargs) }}",
    "test_metadata": {
        "name": "not_null",
        "namespace": None,
        "kwargs": {"column_name": "id", "model": "{{ get_where_subquery(ref('x')) }}"},
    },
    "attached_node": "model.shop.silver_orders",
    "column_name": "id",
    "depends_on": {"nodes": ["model.shop.silver_orders"], "macros": ["macro.dbt.test"]},
}


def _manifest(nodes: int) -> dict[str, object]:
    return {
        "metadata": {"generated_at": "2026-01-01T00:00:00Z", "dbt_version": "1.9.0", "env": {}},
        "nodes": {
            **{
                f"model.shop.m{i}": {**MODEL, "name": f"m{i}", "n": 10**30 + i}
                for i in range(nodes)
            },
            **{f"test.shop.t{i}": TEST for i in range(nodes)},
        },
        "sources": {"source.shop.raw.orders": {"name": "orders", "source_name": "raw", "x": 1}},
        "macros": {f"macro.m{i}": {"name": f"m{i}", "macro_sql": "x" * 500} for i in range(nodes)},
        "exposures": {},
        "parent_map": {"a": ["b"]},
        "child_map": [],
        "semantic_models": 12.5,
    }


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.json"
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_streamed_read_equals_slimmed_json_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, indent: int | None
) -> None:
    monkeypatch.setattr(manifest_stream, "_CHUNK", chunk)  # values split at every boundary
    text = json.dumps(_manifest(40), indent=indent) + "\n\n"
    path = _write(tmp_path, text)
    slim, digest = read_slim(path)
    full = json.loads(text)
    assert digest == "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert sorted(slim) == ["exposures", "metadata", "nodes", "sources"]  # macros etc. dropped
    assert slim["metadata"] == {"generated_at": "2026-01-01T00:00:00Z", "dbt_version": "1.9.0"}
    assert slim["nodes"] == {uid: slim_node(node) for uid, node in full["nodes"].items()}
    assert slim["sources"] == {"source.shop.raw.orders": {"name": "orders", "source_name": "raw"}}


def test_slim_nodes_keep_what_the_rules_read() -> None:
    model = slim_node(MODEL)
    assert "compiled_code" not in model and "checksum" not in model
    assert model["raw_code"] == MODEL["raw_code"]
    assert model["config"] == {"materialized": "table", "meta": {"layer": "silver"}}
    assert model["columns"] == {"id": {"name": "id", "description": "Key."}}
    assert model["depends_on"] == {"nodes": ["model.shop.bronze_orders"]}
    test = slim_node(TEST)
    assert test["test_metadata"] == {
        "name": "not_null",
        "namespace": None,
        "kwargs": {"column_name": "id"},
    }
    assert test["attached_node"] == "model.shop.silver_orders" and "raw_code" not in test


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"nodes": {"a": {"name": "x"}',  # cut short
        '{"nodes": {"a": {"name": "x"}}} trailing',
        '{"nodes": {"a" {"name": "x"}}}',
        '{"nodes": {"a": {"name": "x"},}}',
        '{"nodes": {1: {}}}',
        '{"metadata": {}, "nodes": {"a": tru}}',
    ],
)
def test_malformed_json_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValueError):
        read_slim(_write(tmp_path, text))


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b'{"nodes": {"a": {"name": "\xff"}}}')
    with pytest.raises(ValueError):
        read_slim(path)


def test_a_number_split_by_a_chunk_boundary_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest_stream, "_CHUNK", 1)
    slim, _ = read_slim(_write(tmp_path, '{"nodes": 123456789, "metadata": null}'))
    assert slim == {"nodes": 123456789, "metadata": None}


def test_a_broken_manifest_is_project_invalid(tmp_path: Path) -> None:
    from floe.errors import UsageError
    from floe.rules.dbt_manifest import read_manifest

    path = _write(tmp_path, '{"nodes": {"model.a.b": {"name": ')
    with pytest.raises(UsageError) as caught:
        read_manifest(tmp_path, path, "shop", [], {})
    assert caught.value.slug == "project_invalid"
    assert "target/manifest.json: cannot read" in str(caught.value)


def test_built_models_are_the_ones_the_dagster_plugin_lists(tmp_path: Path) -> None:
    """The reader's list spares the orchestrator a second parse; it must be the same list."""
    from floe.project.plugins.dagster import _model_names
    from floe.rules.dbt_manifest import read_manifest

    def node(name: str, kind: str = "model", package: str = "shop", **config: str) -> object:
        return {
            **MODEL,
            "name": name,
            "resource_type": kind,
            "package_name": package,
            "config": config,
            "refs": [],
            "depends_on": {"nodes": []},
        }

    nodes = {
        "model.shop.a": node("a"),
        "model.shop.b": node("b", materialized="ephemeral"),
        "model.shop.c.v1": {**node("c"), "version": 1},  # type: ignore[dict-item]
        "model.shop.c.v2": {**node("c"), "version": 2},  # type: ignore[dict-item]
        "snapshot.shop.s": node("s", "snapshot"),
        "model.pkg.p": node("p", package="pkg", materialized="view"),
        "test.shop.t": TEST,
    }
    text = json.dumps({"metadata": {}, "nodes": nodes, "sources": {}})
    project = read_manifest(tmp_path, _write(tmp_path, text), "shop", [], {})
    assert project.built_models == ("a", "c", "p")
    assert list(project.built_models) == _model_names(json.loads(text))


def test_the_code_location_copies_a_manifest_file_as_it_copies_its_bytes(tmp_path: Path) -> None:
    """A manifest file is copied in chunks; the copy and its digest are the bytes' own."""
    from floe.project.plugins.dagster import GATE_FILE, MANIFEST_COPY, write_code_location

    text = json.dumps(_manifest(30))
    path = _write(tmp_path, text)
    platform = {"name": "acme", "version": "1.0.0", "digest": "sha256:" + "0" * 64}
    by_bytes = write_code_location(
        tmp_path / "a", tmp_path, tmp_path, path.read_bytes(), [], platform
    )
    by_path = write_code_location(
        tmp_path / "b", tmp_path, tmp_path, path, [], platform, (), ["m1", "m0", "m1"]
    )
    assert by_path.manifest_digest == by_bytes.manifest_digest
    assert by_path.manifest_digest == "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert (by_path.folder / MANIFEST_COPY).read_bytes() == path.read_bytes()
    gate = json.loads((by_path.folder / GATE_FILE).read_text())
    assert gate["models"] == ["m0", "m1"]
    assert [p.name for p in by_path.folder.iterdir() if p.name.startswith(".tmp")] == []


class _Kept:
    """A SlimCache in memory, counting what it was given."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.puts = 0

    def get(self) -> bytes | None:
        return self.body

    def put(self, body: bytes) -> None:
        self.body, self.puts = body, self.puts + 1


def test_an_unchanged_manifest_is_loaded_from_its_slim_cache_not_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = json.dumps(_manifest(5))
    path = _write(tmp_path, text)
    kept = _Kept()
    first = manifest_stream.read_slim_cached(path, kept)
    assert first == read_slim(path) and kept.puts == 1
    streamed: list[Path] = []
    real = manifest_stream.read_slim
    monkeypatch.setattr(manifest_stream, "read_slim", lambda p: streamed.append(p) or real(p))
    assert manifest_stream.read_slim_cached(path, kept) == first
    assert streamed == [] and kept.puts == 1  # same sha256: nothing decoded, nothing written
    # One byte changed: the cache is for another file, the manifest is streamed again.
    path.write_bytes(text.replace('"m1"', '"mX"').encode())
    changed, digest = manifest_stream.read_slim_cached(path, kept)
    assert streamed == [path] and kept.puts == 2
    assert "mX" in {node["name"] for node in changed["nodes"].values()}
    assert digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "damage",
    [
        b"not deflated",
        zlib.compress(b"not json"),
        zlib.compress(b'{"nodes": {}'),
        zlib.compress(b"[1, 2]"),
        zlib.compress(b"{} trailing"),
        zlib.compress(b"\xff"),
        zlib.compress(b'{"nodes": {}}')[:-3],
    ],
)
def test_a_damaged_slim_cache_is_streamed_again(tmp_path: Path, damage: bytes) -> None:
    path = _write(tmp_path, json.dumps(_manifest(3)))
    kept = _Kept()
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    kept.body = manifest_stream.SLIM_HEADER + digest.encode() + b"\n" + damage
    assert manifest_stream.read_slim_cached(path, kept) == read_slim(path)
    assert (
        kept.puts == 1
        and kept.body != manifest_stream.SLIM_HEADER + digest.encode() + b"\n" + damage
    )


def test_compile_reads_no_manifest_cache_it_did_not_seal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.project.compile import MANIFEST_CACHE, _SealedCache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = _write(tmp_path, json.dumps(_manifest(3)))
    cache = _SealedCache(tmp_path / "out" / MANIFEST_CACHE)
    slim, digest = manifest_stream.read_slim_cached(path, cache)
    assert cache.get() is not None  # sealed under this user's key
    # A forgery saying "no nodes", with the right digest but no valid seal, is not read.
    forged = manifest_stream.SLIM_HEADER + digest.encode() + b'\n{"nodes": {}}'
    cache.path.write_bytes(b"floe-sealed-v1 " + b"0" * 64 + b"\n" + forged)
    assert cache.get() is None
    assert manifest_stream.read_slim_cached(path, cache) == (slim, digest)
