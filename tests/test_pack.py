"""Packing the tree into an artifact, and the hostile-input checks of unpacking."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from oci_helpers import read_dir, tree_files

from floe.artifact.pack import check_title, pack_files, pack_tree, unpack_artifact
from floe.errors import FloeError, GateError, UsageError
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.layout import LayoutTarget
from floe.oci.target import (
    ANNOTATION_CONTENT_DIGEST,
    ANNOTATION_ORAS_UNPACK,
    ANNOTATION_TITLE,
    FLOE_ARTIFACT_TYPE,
    FLOE_CONFIG,
    FLOE_POLICY,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
)


def _store(layout: LayoutTarget, manifest: dict[str, object], blobs: list[bytes]) -> Descriptor:
    for data in blobs:
        layout.push(Descriptor.for_bytes("application/octet-stream", data), io.BytesIO(data))
    raw = canonical_json(manifest)
    desc = Descriptor.for_bytes(OCI_MANIFEST, raw)
    layout.push(desc, io.BytesIO(raw))
    return desc


def _plain_manifest(layers: list[Descriptor]) -> dict[str, object]:
    config = Descriptor.for_bytes("application/vnd.oci.empty.v1+json", b"{}")
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example",
        "config": config.to_json(),
        "layers": [layer.to_json() for layer in layers],
    }


def _titled(title: str, data: bytes, **extra: str) -> Descriptor:
    return Descriptor.for_bytes(
        "application/octet-stream", data, {ANNOTATION_TITLE: title, **extra}
    )


def _publish(layout: LayoutTarget, files: dict[str, bytes], **kwargs: int) -> Descriptor:
    packed = pack_tree(files, "v1.2.3", **kwargs)
    copy_graph(StaticTarget(packed.blobs()), layout, packed.descriptor, tag="v1.2.3")
    return packed.descriptor


def test_pack_is_deterministic_and_shaped() -> None:
    files = tree_files()
    first = pack_tree(files, "v1.2.3")
    second = pack_tree(dict(reversed(list(files.items()))), "1.2.3")
    assert first.manifest == second.manifest
    manifest = json.loads(first.manifest)
    assert manifest["artifactType"] == FLOE_ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == FLOE_CONFIG
    assert first.config == files["manifest.json"]
    titles = [layer["annotations"][ANNOTATION_TITLE] for layer in manifest["layers"]]
    assert titles == sorted(files)
    by_title = {layer["annotations"][ANNOTATION_TITLE]: layer for layer in manifest["layers"]}
    assert by_title["policies/quality-gates.json"]["mediaType"] == FLOE_POLICY
    notes = manifest["annotations"]
    assert notes["org.opencontainers.image.created"] == "2026-01-01T00:00:00Z"
    assert notes["org.opencontainers.image.version"] == "1.2.3"
    assert notes["org.opencontainers.image.title"] == "acme"
    assert (
        notes[ANNOTATION_CONTENT_DIGEST] == json.loads(files["manifest.json"])["metadata"]["digest"]
    )


def test_version_must_match_tree() -> None:
    with pytest.raises(UsageError) as info:
        pack_tree(tree_files(), "v1.2.4")
    assert info.value.slug == "publish_version_mismatch"
    with pytest.raises(UsageError) as info:
        pack_tree(tree_files(), "latest")
    assert info.value.slug == "version_invalid"


def test_unpack_round_trip(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    files = tree_files()
    root = _publish(layout, files)
    result = unpack_artifact(layout, root, tmp_path / "out")
    assert read_dir(tmp_path / "out") == files
    assert result.is_floe
    assert result.content_digest == json.loads(files["manifest.json"])["metadata"]["digest"]


def test_tar_mode_round_trip_is_reproducible(tmp_path: Path) -> None:
    files = tree_files()
    packed = pack_tree(files, "v1.2.3", tar_threshold=1)
    again = pack_tree(files, "v1.2.3", tar_threshold=1)
    assert packed.manifest == again.manifest
    layers = json.loads(packed.manifest)["layers"]
    titles = [layer["annotations"][ANNOTATION_TITLE] for layer in layers]
    assert titles == ["architecture", "catalog", "manifest.json", "policies"]
    assert layers[0]["annotations"][ANNOTATION_ORAS_UNPACK] == "true"
    layout = LayoutTarget(tmp_path / "reg")
    copy_graph(StaticTarget(packed.blobs()), layout, packed.descriptor, tag="v1.2.3")
    unpack_artifact(layout, packed.descriptor, tmp_path / "out")
    assert read_dir(tmp_path / "out") == files


@pytest.mark.parametrize(
    "title",
    ["", "/etc/passwd", "../escape", "a/../../b", "a//b", "./a", "a\\..\\b", "C:/x", "a/./b"],
)
def test_unsafe_titles_are_refused(tmp_path: Path, title: str) -> None:
    with pytest.raises(GateError) as info:
        check_title(title)
    assert info.value.slug == "pull_unsafe_path"
    layout = LayoutTarget(tmp_path / "reg")
    desc = _store(layout, _plain_manifest([_titled(title, b"x")]), [b"{}", b"x"])
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, desc, tmp_path / "out", require_floe=False)
    assert info.value.slug == "pull_unsafe_path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg"]


@pytest.mark.parametrize(
    "titles", [["a.txt", "a.txt"], ["dir", "dir/file"]], ids=["duplicate", "file-and-folder"]
)
def test_conflicting_titles_are_refused(tmp_path: Path, titles: list[str]) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    layers = [_titled(t, t.encode() + b"!") for t in titles]
    desc = _store(layout, _plain_manifest(layers), [b"{}", *[t.encode() + b"!" for t in titles]])
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, desc, tmp_path / "out", require_floe=False)
    assert info.value.slug == "pull_unsafe_path"
    assert not (tmp_path / "out").exists()


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, data if kind == tarfile.REGTYPE else None


@pytest.mark.parametrize(
    "member",
    [
        _member("dir/../../escape.txt", data=b"x"),
        _member("/abs.txt", data=b"x"),
        _member("other/file.txt", data=b"x"),
        _member("dir/link", tarfile.SYMTYPE, link="/etc/passwd"),
        _member("dir/hard", tarfile.LNKTYPE, link="../../outside"),
        _member("dir/dev", tarfile.CHRTYPE),
        _member("dir/fifo", tarfile.FIFOTYPE),
    ],
    ids=["dotdot", "absolute", "outside-title", "symlink", "hardlink", "device", "fifo"],
)
def test_unsafe_tar_members_are_refused(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None]
) -> None:
    blob = _tar([_member("dir/ok.txt", data=b"fine"), member])
    layer = _titled("dir", blob, **{ANNOTATION_ORAS_UNPACK: "true"})
    layout = LayoutTarget(tmp_path / "reg")
    desc = _store(layout, _plain_manifest([layer]), [b"{}", blob])
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, desc, tmp_path / "work" / "out", require_floe=False)
    assert info.value.slug == "pull_unsafe_path"
    assert list((tmp_path / "work").iterdir()) == []
    assert not (tmp_path / "escape.txt").exists()


def test_oversize_layer_and_tar_bomb(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    big = b"x" * 5000
    desc = _store(layout, _plain_manifest([_titled("big.bin", big)]), [b"{}", big])
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, desc, tmp_path / "out", require_floe=False, max_blob_size=4096)
    assert info.value.slug == "pull_too_large"
    bomb = _tar([_member("d/zeros", data=b"\0" * 100_000)])
    assert len(bomb) < 4096
    layer = _titled("d", bomb, **{ANNOTATION_ORAS_UNPACK: "true"})
    desc = _store(layout, _plain_manifest([layer]), [b"{}", bomb])
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, desc, tmp_path / "out", require_floe=False, max_blob_size=4096)
    assert info.value.slug == "pull_too_large"
    assert not (tmp_path / "out").exists()


def test_oversize_manifest(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    fake = Descriptor(OCI_MANIFEST, "sha256:" + "0" * 64, 5 * 1024 * 1024)
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, fake, tmp_path / "out")
    assert info.value.slug == "pull_too_large"


def test_tampered_blob_leaves_nothing(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout, tree_files())
    layer = Descriptor.from_json(json.loads(layout.fetch_bytes(root))["layers"][-1])
    path = layout.blob_path(layer.digest)
    path.write_bytes(path.read_bytes().replace(b"not_null", b"not_nul!"))
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, root, tmp_path / "work" / "out")
    assert info.value.slug == "pull_digest_mismatch"
    assert list((tmp_path / "work").iterdir()) == []


def test_floe_artifact_whose_tree_lies_is_refused(tmp_path: Path) -> None:
    """Layers verify, but the tree's content digest does not match manifest.json."""
    files = tree_files()
    forged = dict(files)
    forged["policies/quality-gates.json"] = b'{"minimum_test_coverage": 0}\n'
    packed = pack_files(
        forged,
        artifact_type=FLOE_ARTIFACT_TYPE,
        config=pack_tree(files, "v1.2.3").layers[4],  # manifest.json blob
    )
    layout = LayoutTarget(tmp_path / "reg")
    copy_graph(StaticTarget(packed.blobs()), layout, packed.descriptor, tag="x")
    with pytest.raises(GateError) as info:
        unpack_artifact(layout, packed.descriptor, tmp_path / "out")
    assert info.value.slug == "tree_digest_mismatch"
    assert not (tmp_path / "out").exists()


def test_non_floe_artifact(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    desc = _store(layout, _plain_manifest([_titled("notes/a.txt", b"hello")]), [b"{}", b"hello"])
    with pytest.raises(UsageError) as info:
        unpack_artifact(layout, desc, tmp_path / "out")
    assert info.value.slug == "artifact_not_floe"
    result = unpack_artifact(layout, desc, tmp_path / "out", require_floe=False)
    assert not result.is_floe
    assert read_dir(tmp_path / "out") == {"notes/a.txt": b"hello"}


def test_existing_out_needs_force(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    files = tree_files()
    root = _publish(layout, files)
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(FloeError) as info:
        unpack_artifact(layout, root, out)
    assert info.value.slug == "pull_out_exists"
    unpack_artifact(layout, root, out, force=True)
    assert read_dir(out) == files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "reg"]


def test_light_content_digest_equals_the_tree_contract(tmp_path: Path) -> None:
    from oci_helpers import write_tree

    from floe.artifact.pack import content_digest, read_tree_dir, tree_metadata
    from floe.tree import model as tree

    files = tree_files()
    assert content_digest is tree.content_digest  # one implementation, light enough for both
    assert content_digest(files) == tree.content_digest(files)
    write_tree(tmp_path / "t", files)
    assert read_tree_dir(tmp_path / "t") == tree.read_tree_files(tmp_path / "t")
    edited = dict(files, **{"catalog/namespaces.json": b'{"namespaces": []}\n'})
    with pytest.raises(GateError) as info:
        tree_metadata(edited, "t")
    assert info.value.slug == "tree_digest_mismatch"


def test_progress_bar_counts_every_byte(tmp_path: Path) -> None:
    from floe.oci import progress

    assert not progress.wanted(10_000_000, quiet=True)
    assert not progress.wanted(100, quiet=False)
    packed = pack_files({"big.bin": b"x" * 2_000_000}, artifact_type="application/x")
    seen: list[tuple[str, int]] = []
    with progress.transfer_progress(2_000_002, enabled=True, label="Uploading") as bar:

        def spy(event: str, desc: Descriptor, nbytes: int) -> None:
            seen.append((event, nbytes))
            bar(event, desc, nbytes)

        copy_graph(StaticTarget(packed.blobs()), LayoutTarget(tmp_path / "r"), packed.descriptor,
                   tag="t", on_progress=spy)  # fmt: skip
    assert sum(n for event, n in seen if event == "advance") == 2_000_002


def _unpack_layer(tmp_path: Path, blob: bytes, cap: int = 256 * 1024 * 1024) -> GateError:
    layer = _titled("d", blob, **{ANNOTATION_ORAS_UNPACK: "true"})
    layout = LayoutTarget(tmp_path / "reg")
    desc = _store(layout, _plain_manifest([layer]), [b"{}", blob])
    with pytest.raises(GateError) as info:
        unpack_artifact(
            layout, desc, tmp_path / "work" / "out", require_floe=False, max_blob_size=cap
        )
    assert list((tmp_path / "work").iterdir()) == []  # nothing landed, no leftovers
    return info.value


def _pax_tar(records: bytes, name: str = "d/f") -> bytes:
    """A hand-made tar whose pax header carries `records` (tarfile would not write it)."""
    info = tarfile.TarInfo("d/././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(records)
    raw = io.BytesIO()
    raw.write(info.tobuf(format=tarfile.USTAR_FORMAT))
    raw.write(records + bytes(-len(records) % 512))
    file_info = tarfile.TarInfo(name)
    raw.write(file_info.tobuf(format=tarfile.USTAR_FORMAT))
    raw.write(bytes(1024))
    return gzip.compress(raw.getvalue(), mtime=0)


def test_hostile_tar_layers_are_refused_before_parsing(tmp_path: Path) -> None:
    """CVE-2024-6232-sized pax headers, gzip bombs of trailing zeros, junk and truncation."""
    huge_pax = b"%d comment=%s\n" % (256 * 1024 + 20, b"x" * (256 * 1024))
    assert _unpack_layer(tmp_path / "a", _pax_tar(huge_pax)).slug == "pull_layer_invalid"
    tar = _tar([_member("d/ok.txt", data=b"fine")])
    zeros_after = gzip.compress(gzip.decompress(tar) + bytes(64 * 1024 * 1024), mtime=0)
    bomb = _unpack_layer(tmp_path / "b", zeros_after)  # padding counts: ratio over 200:1
    assert bomb.slug == "pull_too_large", bomb.one_line()
    assert _unpack_layer(tmp_path / "d", b"not gzip at all").slug == "pull_layer_invalid"
    assert _unpack_layer(tmp_path / "e", tar[: len(tar) // 2]).slug == "pull_layer_invalid"
    not_tar = gzip.compress(b"hello world" * 100, mtime=0)
    assert _unpack_layer(tmp_path / "f", not_tar).slug == "pull_layer_invalid"
    inflated = gzip.compress(gzip.decompress(_tar([_member("d/z", data=bytes(6_000_000))])))
    assert _unpack_layer(tmp_path / "g", inflated, cap=1_000_000).slug == "pull_too_large"


def test_too_many_tar_members_are_refused(tmp_path: Path) -> None:
    from floe.oci import tarsafe

    members = [_member(f"d/f{i}", data=b"") for i in range(tarsafe.MAX_MEMBERS + 1)]
    error = _unpack_layer(tmp_path, _tar(members))
    assert error.slug == "pull_too_large" and "entries" in error.message


def test_pax_path_and_long_names_round_trip(tmp_path: Path) -> None:
    long_name = "d/" + "n" * 150 + "/file.json"
    blob = _tar([_member(long_name, data=b"{}")])
    layer = _titled("d", blob, **{ANNOTATION_ORAS_UNPACK: "true"})
    layout = LayoutTarget(tmp_path / "reg")
    desc = _store(layout, _plain_manifest([layer]), [b"{}", blob])
    unpack_artifact(layout, desc, tmp_path / "out", require_floe=False)
    assert (tmp_path / "out" / long_name).read_bytes() == b"{}"
