"""The file-store Target: admits a manifest before blobs move, stages, swaps, cleans up."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from floe.errors import GateError
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.filestore import MAX_PATH_DEPTH, FileStore, check_path
from floe.oci.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor
from floe.oci.target import ANNOTATION_TITLE, canonical_json


class _Counting(StaticTarget):
    """An in-memory source that records which blobs were fetched."""

    def __init__(self, blobs: dict[str, bytes | Path]) -> None:
        super().__init__(blobs)
        self.fetched: list[str] = []

    @contextlib.contextmanager
    def fetch(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        self.fetched.append(desc.digest)
        with super().fetch(desc) as stream:
            yield stream


def _artifact(layers: list[tuple[str | None, bytes]]) -> tuple[_Counting, Descriptor]:
    config = Descriptor.for_bytes("application/vnd.oci.empty.v1+json", b"{}")
    blobs: dict[str, bytes | Path] = {config.digest: b"{}"}
    descs = []
    for title, data in layers:
        desc = Descriptor.for_bytes(
            "application/octet-stream", data, {ANNOTATION_TITLE: title} if title else None
        )
        blobs[desc.digest] = data
        descs.append(desc.to_json())
    manifest = canonical_json(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(), "layers": descs}
    )
    root = Descriptor.for_bytes(OCI_MANIFEST, manifest)
    blobs[root.digest] = manifest
    return _Counting(blobs), root


def test_titled_files_land_and_untitled_layers_are_never_fetched(tmp_path: Path) -> None:
    src, root = _artifact([("a.txt", b"A"), ("sub/b.txt", b"B"), ("copy.txt", b"A"), (None, b"U")])
    store = FileStore(tmp_path / "out", max_blob_size=1024)
    with store:
        copy_graph(src, store, root, tag=None)
        store.commit()
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"A"
    assert (tmp_path / "out" / "copy.txt").read_bytes() == b"A"  # one blob, two titles
    assert (tmp_path / "out" / "sub" / "b.txt").read_bytes() == b"B"
    assert Descriptor.for_bytes("x/y", b"U").digest not in src.fetched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_refused_title_fetches_no_blob(tmp_path: Path) -> None:
    src, root = _artifact([("ok.txt", b"A"), ("../escape", b"B")])
    with pytest.raises(GateError) as info, FileStore(tmp_path / "out", max_blob_size=1024) as s:
        copy_graph(src, s, root, tag=None)
    assert info.value.slug == "pull_unsafe_path"
    assert src.fetched == [root.digest] or src.fetched == []
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_blob_leaves_nothing(tmp_path: Path) -> None:
    src, root = _artifact([("a.txt", b"A"), ("b.txt", b"B")])
    src._blobs[Descriptor.for_bytes("x/y", b"B").digest] = b"C"  # served bytes lie
    with pytest.raises(GateError) as info, FileStore(tmp_path / "out", max_blob_size=1024) as s:
        copy_graph(src, s, root, tag=None, concurrency=1)
    assert info.value.slug == "pull_digest_mismatch"
    assert list(tmp_path.iterdir()) == []


def test_an_index_and_an_oversize_layer_are_refused(tmp_path: Path) -> None:
    src, root = _artifact([("big.bin", b"x" * 2048)])
    with pytest.raises(GateError) as info, FileStore(tmp_path / "out", max_blob_size=1024) as s:
        copy_graph(src, s, root, tag=None)
    assert info.value.slug == "pull_too_large"
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    desc = Descriptor.for_bytes(OCI_INDEX, index)
    with pytest.raises(GateError) as info, FileStore(tmp_path / "out", max_blob_size=1024) as s:
        s.push(desc, io.BytesIO(index))
    assert info.value.slug == "artifact_manifest_invalid"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "title",
    ["/".join(["d"] * (MAX_PATH_DEPTH + 1)), "n" * 256, "a/" * 600 + "b", "C:x", "a\\b", "a//b"],
)
def test_path_caps(title: str) -> None:
    with pytest.raises(GateError) as info:
        check_path(title)
    assert (info.value.slug, info.value.exit_code) == ("pull_unsafe_path", 1)
    assert check_path("/".join(["d"] * MAX_PATH_DEPTH)).parts[0] == "d"


def test_out_parent_symlinked_outside_the_working_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.artifact.pack import check_destination
    from floe.errors import UsageError

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    (work / "link").symlink_to(elsewhere)
    (work / "inside").mkdir()
    (work / "ok-link").symlink_to(work / "inside")
    monkeypatch.chdir(work)
    with pytest.raises(UsageError) as refused:
        check_destination(Path("link/out"), force=False)
    assert refused.value.slug == "path_symlinked" and refused.value.exit_code == 2
    assert list(elsewhere.iterdir()) == []
    check_destination(Path("ok-link/out"), force=False)  # a link that stays inside is fine
    check_destination(tmp_path / "elsewhere" / "out", force=False)  # explicit outside path
