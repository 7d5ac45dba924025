"""Seeded mutation fuzzing of the OCI documents floe reads (manifests, configs, layers).

A valid floe artifact is published to an OCI layout once; each case stores a mutated copy
of its manifest (structure-aware mutations: wrong types, missing keys, hostile titles,
huge or deep values, byte flips) under a tag and pulls it with the real CLI. The contract:
exit 0, 1 or 2 with one line on stderr, never a traceback or `internal_error`, and a
rejected pull writes nothing at --out. `FLOE_FUZZ_CASES` raises the count (`make fuzz`).
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import tree_files, write_tree

from floe.oci.layout import LayoutTarget
from floe.oci.target import OCI_MANIFEST, Descriptor

CASES = int(os.environ.get("FLOE_FUZZ_CASES", "2000"))
SEED = 20261201
HOSTILE_VALUES: list[Any] = [
    None,
    0,
    -1,
    2**63,
    1.5,
    True,
    "",
    "x",
    "../../etc/passwd",
    "/abs/path",
    "a/" * 2000 + "f.json",
    "sha256:" + "0" * 64,
    "sha256:zz",
    "x" * 100_000,
    [],
    [1, "x", None],
    {},
    {"mediaType": 1},
    {"a": {"b": {"c": None}}},
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return doc


def mutate(manifest: dict[str, Any], rng: random.Random) -> bytes:
    """One structure-aware or byte-level mutation of a manifest's JSON."""
    kind = rng.randrange(10)
    raw = json.dumps(manifest).encode()
    if kind == 0:  # byte flips and truncation
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data[: rng.randint(1, len(data))])
    if kind == 1:  # nesting far beyond any sane document (written as text: json can't)
        depth = rng.choice([100, 5000, 100_000])
        doc = _set(copy.deepcopy(manifest), ("layers",), "__DEEP__")
        return json.dumps(doc).replace('"__DEEP__"', "[" * depth + "0" + "]" * depth).encode()
    doc = copy.deepcopy(manifest)
    path = rng.choice(_paths(doc))
    if kind in (2, 3) and path:
        return json.dumps(_delete(doc, path)).encode()
    if kind == 4:  # duplicate a layer (two files with one title)
        doc["layers"].append(copy.deepcopy(rng.choice(doc["layers"])))
        return json.dumps(doc).encode()
    return json.dumps(_set(doc, path, copy.deepcopy(rng.choice(HOSTILE_VALUES)))).encode()


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fuzz")
    tree = write_tree(root / "tree", tree_files())
    layout = root / "layout"
    result = run_floe(
        "platform", "publish", "1.2.3", "--registry", f"oci-layout://{layout}", "--artifacts",
        str(tree), "--allow-unsigned",
    )  # fmt: skip
    if result.exit_code != 0:  # older publish has no --allow-unsigned flag
        result = run_floe(
            "platform", "publish", "1.2.3", "--registry", f"oci-layout://{layout}",
            "--artifacts", str(tree),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    target = LayoutTarget(layout)
    desc = target.resolve("1.2.3")
    return layout, json.loads(target.fetch_bytes(desc))


def _store(layout: Path, data: bytes, tag: str) -> None:
    """Write the bytes as a tagged manifest the way a hostile layout on disk holds them."""
    desc = Descriptor.for_bytes(OCI_MANIFEST, data)
    (layout / "blobs" / "sha256" / desc.digest.removeprefix("sha256:")).write_bytes(data)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    entry = desc.to_json()
    entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index["manifests"] = [
        m
        for m in index["manifests"]
        if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") != tag
    ] + [entry]
    index_path.write_text(json.dumps(index))


def test_mutated_manifests_never_crash_and_never_land(
    published: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    layout, manifest = published
    rng = random.Random(SEED)
    crashes: list[tuple[int, str]] = []
    landed: list[int] = []
    codes: dict[int, int] = {}
    for case in range(CASES):
        tag = f"fuzz{case}"
        _store(layout, mutate(manifest, rng), tag)
        out = tmp_path / f"out{case}"
        result = run_floe("platform", "pull", f"oci-layout://{layout}:{tag}", "--out", str(out))
        codes[result.exit_code] = codes.get(result.exit_code, 0) + 1
        bad = "Traceback" in result.stderr or "internal_error" in result.stderr
        if bad or result.exit_code not in (0, 1, 2):
            crashes.append((case, result.stderr.strip().splitlines()[-1:][0][:300]))
        elif result.exit_code != 0 and out.exists():
            landed.append(case)
    assert crashes == [], f"{len(crashes)} of {CASES} crashed, e.g. {crashes[:5]}"
    assert landed == [], f"rejected pulls left files at --out: {landed[:10]}"
    assert codes.get(1, 0) > CASES // 4, codes  # most mutations are a bad artifact (exit 1)
