"""Hostile tar+gzip layers through the file store: bombs, big headers, links, escapes.

Each case is refused with its slug before anything lands: the output folder is never
created and no staging folder is left behind.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path

import pytest

from floe.artifact.pack import unpack_artifact
from floe.errors import GateError
from floe.oci import tarsafe
from floe.oci.layout import LayoutTarget
from floe.oci.manifest import Descriptor
from floe.oci.target import ANNOTATION_ORAS_UNPACK, ANNOTATION_TITLE, OCI_MANIFEST, canonical_json


def _tar_bytes(members: list[tuple[tarfile.TarInfo, bytes | None]], **kw: object) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", **kw) as tar:  # type: ignore[call-overload]
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def _file(name: str, data: bytes = b"x", **pax: str) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.pax_headers = dict(pax)
    return info, data


def _pull(tmp_path: Path, blob: bytes, *, max_blob_size: int = 1 << 30) -> GateError:
    """Store `blob` as the tar layer `d` of an artifact, pull it, return the refusal."""
    layout = LayoutTarget(tmp_path / "reg")
    config = Descriptor.for_bytes("application/vnd.oci.empty.v1+json", b"{}")
    layer = Descriptor.for_bytes(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        blob,
        {ANNOTATION_TITLE: "d", ANNOTATION_ORAS_UNPACK: "true"},
    )
    for data in (b"{}", blob):
        layout.push(Descriptor.for_bytes("application/octet-stream", data), io.BytesIO(data))
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example",
            "config": config.to_json(),
            "layers": [layer.to_json()],
        }
    )
    desc = Descriptor.for_bytes(OCI_MANIFEST, manifest)
    layout.push(desc, io.BytesIO(manifest))
    with pytest.raises(GateError) as info:
        unpack_artifact(
            layout, desc, tmp_path / "out", require_floe=False, max_blob_size=max_blob_size
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg"]  # nothing landed or left
    return info.value


def _gzip_stream(parts: list[bytes], zeros: int) -> bytes:
    """gzip of parts followed by `zeros` zero bytes, compressed as it goes (small memory)."""
    out = io.BytesIO()
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    for part in parts:
        out.write(comp.compress(part))
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        out.write(comp.compress(block))
    out.write(comp.flush())
    return out.getvalue()


def test_a_zero_padding_gzip_bomb_is_refused_by_its_ratio(tmp_path: Path) -> None:
    tar = _tar_bytes([_file("d/a.txt", b"hello")])
    bomb = _gzip_stream([tar], 64 << 20)  # 64 MiB of trailing zeros
    assert len(bomb) < 100_000
    error = _pull(tmp_path, bomb)
    assert (error.slug, error.exit_code) == ("pull_too_large", 1)
    assert "ratio" in error.message


def test_padding_counts_towards_the_inflated_cap(tmp_path: Path) -> None:
    tar = _tar_bytes([_file("d/a.txt", b"hello")])
    bomb = _gzip_stream([tar], 2 << 20)  # under the ratio floor, over a 1 MiB cap
    error = _pull(tmp_path, bomb, max_blob_size=1 << 20)
    assert error.slug == "pull_too_large"
    assert "inflates to more than" in error.message


def test_a_huge_pax_header_is_refused_before_tarfile_parses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tar = _tar_bytes([_file("d/a.txt", comment="x" * 300_000)], format=tarfile.PAX_FORMAT)
    blob = gzip.compress(tar, mtime=0)

    def never(*args: object) -> None:
        raise AssertionError("tarfile parsed the pax header")

    monkeypatch.setattr(tarfile.TarInfo, "_proc_pax", never)
    error = _pull(tmp_path, blob)
    assert (error.slug, error.exit_code) == ("pull_layer_invalid", 1)
    assert "extended header" in error.message


def test_a_long_gnu_name_over_the_cap_is_refused(tmp_path: Path) -> None:
    tar = _tar_bytes([_file("d/" + "n" * 40_000)], format=tarfile.GNU_FORMAT)
    error = _pull(tmp_path, gzip.compress(tar, mtime=0))
    assert error.slug == "pull_layer_invalid"


def test_a_pax_size_override_is_refused(tmp_path: Path) -> None:
    tar = _tar_bytes([_file("d/a.txt", b"abc", size="3")], format=tarfile.PAX_FORMAT)
    error = _pull(tmp_path, gzip.compress(tar, mtime=0))
    assert error.slug == "pull_layer_invalid"


@pytest.mark.slow
def test_a_hundred_thousand_members_are_refused(tmp_path: Path) -> None:
    parts = [
        tarfile.TarInfo(f"d/{i}").tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")
        for i in range(100_000)
    ]
    blob = gzip.compress(b"".join(parts) + bytes(1024), compresslevel=1, mtime=0)
    error = _pull(tmp_path, blob)
    assert (error.slug, error.exit_code) == ("pull_too_large", 1)
    assert f"more than {tarsafe.MAX_MEMBERS} entries" in error.message


@pytest.mark.parametrize(
    ("member", "slug"),
    [
        (("d/link", tarfile.SYMTYPE, "/etc/passwd"), "pull_unsafe_path"),
        (("d/hard", tarfile.LNKTYPE, "d/a.txt"), "pull_unsafe_path"),
        (("d/../../escape.txt", tarfile.REGTYPE, ""), "pull_unsafe_path"),
        (("/etc/cron.d/x", tarfile.REGTYPE, ""), "pull_unsafe_path"),
        (("d/" + "/".join(["f"] * 40), tarfile.REGTYPE, ""), "pull_unsafe_path"),
        (("d/" + "n" * 300, tarfile.REGTYPE, ""), "pull_unsafe_path"),
        (("d/dev", tarfile.BLKTYPE, ""), "pull_unsafe_path"),
    ],
    ids=["symlink", "hardlink", "dotdot", "absolute", "deep", "long-name", "device"],
)
def test_unsafe_members_are_refused(
    tmp_path: Path, member: tuple[str, bytes, str], slug: str
) -> None:
    name, kind, link = member
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    tar = _tar_bytes([_file("d/a.txt"), (info, None)], format=tarfile.PAX_FORMAT)
    error = _pull(tmp_path, gzip.compress(tar, mtime=0))
    assert (error.slug, error.exit_code) == (slug, 1)
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    "blob",
    [
        gzip.compress(b"this is not a tar archive at all" * 40, mtime=0),
        gzip.compress(_tar_bytes([_file("d/a.txt", b"x" * 5000)]), mtime=0)[:-40],
        gzip.compress(_tar_bytes([_file("d/a.txt")]), mtime=0) + b"trailing garbage",
        b"plain bytes, not gzip",
        b"",
        gzip.compress(b"", mtime=0),
    ],
    ids=["not-a-tar", "truncated", "trailing", "not-gzip", "empty", "empty-gzip"],
)
def test_malformed_layers_are_one_slug(tmp_path: Path, blob: bytes) -> None:
    error = _pull(tmp_path, blob)
    assert (error.slug, error.exit_code) == ("pull_layer_invalid", 1)


def test_a_good_multi_member_gzip_still_unpacks(tmp_path: Path) -> None:
    tar = _tar_bytes([_file("d/a.txt", b"hello"), _file("d/sub/b.txt", b"world")])
    blob = gzip.compress(tar[:1024], mtime=0) + gzip.compress(tar[1024:], mtime=0)
    seen: dict[str, bytes] = {}

    def visit(member: tarfile.TarInfo, data: object) -> None:
        if member.isfile():
            seen[member.name] = data.read()  # type: ignore[attr-defined]

    digest = tarsafe.extract(io.BytesIO(blob), "d", visit)
    assert seen == {"d/a.txt": b"hello", "d/sub/b.txt": b"world"}
    assert digest == Descriptor.for_bytes("x/y", tar).digest
