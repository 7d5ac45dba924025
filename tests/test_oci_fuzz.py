"""Seeded mutation fuzzing of OCI manifests, indexes and configs through parse and copy.

Every mutated document is served by an in-memory source and copied into an OCI
layout and into a FileStore (`unpack_artifact`). The contract: success, or a
FloeError with exit code 1 (the artifact is bad); never another exception; on
failure nothing is reachable in the layout (no root manifest, no tag) and the
output folder does not exist, with no staging leftovers.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from oci_helpers import tree_files

from floe.artifact.pack import pack_tree, unpack_artifact
from floe.errors import FloeError
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.layout import LayoutTarget
from floe.oci.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor, parse_document
from floe.oci.target import canonical_json

SEED = 20261201
CASES = 2_000

_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    2**70,
    "",
    "x",
    "sha256:" + "0" * 64,
    "sha256:../../etc/passwd",
    "a" * 70_000,
    [],
    [1, "x", None],
    {},
    {"mediaType": 1},
    "../../escape",
    "/abs/path",
    "d/" + "/".join(["f"] * 40),
]


def _base() -> tuple[dict[str, bytes], Descriptor, bytes]:
    files = tree_files()
    packed = pack_tree(files, "v1.2.3", tar_threshold=1)  # folders go as tar layers
    blobs = {d: (v if isinstance(v, bytes) else v.read_bytes()) for d, v in packed.blobs().items()}
    return blobs, packed.descriptor, packed.config


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*prefix, i))
    return out


def _mutate_value(rng: random.Random, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(doc))
        if not path:
            doc = rng.choice(_VALUES) if rng.random() < 0.2 else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        roll = rng.random()
        if roll < 0.5:
            parent[last] = copy.deepcopy(rng.choice(_VALUES))
        elif roll < 0.65:
            del parent[last]
        elif roll < 0.8 and isinstance(parent, list):
            parent.extend(copy.deepcopy(parent[:1]) * rng.randint(1, 3))
        elif isinstance(parent, dict):
            parent[rng.choice(["annotations", "subject", "extra", "artifactType"])] = copy.deepcopy(
                rng.choice(_VALUES)
            )
        else:
            parent[last] = {"deep": [[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]}
    return doc


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    roll = rng.random()
    if roll < 0.25:
        return data[: rng.randrange(len(data))]
    if roll < 0.5:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if roll < 0.7:
        depth = rng.choice([20, 1_000, 100_000])
        return b"[" * depth + b"]" * depth
    if roll < 0.85:
        return data + rng.choice([b"x", b"}", b"\xff", b"  "])
    return b'{"schemaVersion": 2, "layers": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"


def _case(rng: random.Random, blobs: dict[str, bytes], root: Descriptor, config: bytes) -> Any:
    """One mutated artifact: (source blobs, root descriptor)."""
    blobs = dict(blobs)
    manifest = json.loads(blobs[root.digest])
    kind = rng.random()
    if kind < 0.2:  # a mutated config (manifest.json), re-referenced so it is fetched
        cfg = _mutate_bytes(rng, config) if rng.random() < 0.5 else config + b" "
        desc = Descriptor.for_bytes(manifest["config"]["mediaType"], cfg)
        blobs[desc.digest] = cfg
        manifest["config"] = desc.to_json()
        data = canonical_json(manifest)
        media_type = OCI_MANIFEST
    elif kind < 0.4:  # an index around the (maybe mutated) manifest
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [root.to_json()]}
        data = canonical_json(_mutate_value(rng, index))
        media_type = OCI_INDEX
    elif kind < 0.85:
        data = canonical_json(_mutate_value(rng, manifest))
        media_type = OCI_MANIFEST
    else:
        data = _mutate_bytes(rng, blobs[root.digest])
        media_type = rng.choice([OCI_MANIFEST, OCI_INDEX])
    desc = Descriptor.for_bytes(media_type, data)
    blobs[desc.digest] = data
    return blobs, desc


def _expect_exit_1(exc: BaseException) -> None:
    assert isinstance(exc, FloeError), f"{type(exc).__name__}: {exc}"
    assert exc.exit_code == 1, f"{exc.slug} exits {exc.exit_code}: {exc}"


@pytest.mark.slow
def test_mutated_oci_documents_fail_closed(tmp_path: Path) -> None:
    base_blobs, root, config = _base()
    rng = random.Random(SEED)
    outcomes: dict[str, int] = {}
    for i in range(CASES):
        blobs, desc = _case(rng, base_blobs, root, config)
        src = StaticTarget(dict(blobs))
        with _Outcome(outcomes):
            parse_document(blobs[desc.digest], desc)
        layout = LayoutTarget(tmp_path / f"l{i}")
        with _Outcome(outcomes) as copied:
            copy_graph(src, layout, desc, tag="v1.2.3", concurrency=1)
        if copied.failed:
            assert not layout.exists(desc), blobs[desc.digest][:200]
            assert not (layout.path / "index.json").exists() or layout.tags() == []
        out = tmp_path / f"o{i}" / "out"
        with _Outcome(outcomes) as unpacked:
            unpack_artifact(src, desc, out, require_floe=False, concurrency=1)
        if unpacked.failed:
            assert not out.parent.exists() or list(out.parent.iterdir()) == []
    assert outcomes.get("ok", 0) > 50  # the mutator leaves some documents valid
    assert len(outcomes) >= 5, outcomes  # and reaches many different refusals


class _Outcome:
    """Context manager: records success or the slug; any non-FloeError or exit 2 fails."""

    def __init__(self, outcomes: dict[str, int]) -> None:
        self.outcomes = outcomes
        self.failed = False
        self.slug = ""

    def __enter__(self) -> _Outcome:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> bool:
        if exc is None:
            self.outcomes["ok"] = self.outcomes.get("ok", 0) + 1
            return False
        _expect_exit_1(exc)
        self.failed, self.slug = True, getattr(exc, "slug", "")
        self.outcomes[self.slug] = self.outcomes.get(self.slug, 0) + 1
        return True


def test_mutated_documents_parse_or_fail_with_one_slug() -> None:
    """Parse only (not marked slow): 2,000 mutations of manifest and index bytes."""
    base_blobs, root, config = _base()
    rng = random.Random(SEED + 1)
    slugs: set[str] = set()
    for _ in range(2_000):
        blobs, desc = _case(rng, base_blobs, root, config)
        try:
            parse_document(blobs[desc.digest], desc)
        except FloeError as exc:
            _expect_exit_1(exc)
            slugs.add(exc.slug)
    assert slugs == {"artifact_manifest_invalid"}
