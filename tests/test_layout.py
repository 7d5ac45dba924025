"""LayoutTarget: the embedded registry on disk (image-spec OCI layout)."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from oci_helpers import tree_files

from floe.artifact.pack import pack_tree
from floe.errors import FloeError, GateError, UsageError
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.layout import LayoutTarget
from floe.oci.target import (
    EMPTY_DIGEST,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    canonical_json,
)


def _publish(layout: LayoutTarget, version: str = "1.2.3", note: str = "") -> Descriptor:
    packed = pack_tree(tree_files(version, note=note), "v" + version)
    copy_graph(StaticTarget(packed.blobs()), layout, packed.descriptor, tag="v" + version)
    return packed.descriptor


def _referrer(subject: Descriptor, kind: str, payload: bytes) -> tuple[Descriptor, bytes]:
    layer = Descriptor.for_bytes("application/octet-stream", payload)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": kind,
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [layer.to_json()],
            "subject": subject.to_json(),
            "annotations": {"kind": kind},
        }
    )
    return Descriptor.for_bytes(OCI_MANIFEST, manifest), manifest


def _push_referrer(layout: LayoutTarget, subject: Descriptor, kind: str) -> Descriptor:
    payload = kind.encode()
    desc, manifest = _referrer(subject, kind, payload)
    layout.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    layout.push(Descriptor.for_bytes("application/octet-stream", payload), io.BytesIO(payload))
    layout.push(desc, io.BytesIO(manifest))
    return desc


def test_round_trip_and_layout_files(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout)
    assert json.loads((tmp_path / "reg" / "oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"
    }
    index = json.loads((tmp_path / "reg" / "index.json").read_text())
    assert index["mediaType"] == OCI_INDEX
    entry = index["manifests"][0]
    assert entry["digest"] == root.digest
    assert entry["annotations"] == {"org.opencontainers.image.ref.name": "v1.2.3"}
    assert layout.resolve("v1.2.3") == root
    assert layout.resolve(root.digest) == root
    assert layout.tags() == ["v1.2.3"]
    data = layout.fetch_bytes(root)
    assert (tmp_path / "reg" / "blobs" / "sha256" / root.hex).read_bytes() == data
    assert not list((tmp_path / "reg" / "blobs" / "sha256").glob(".tmp-*"))


def test_index_is_deterministic(tmp_path: Path) -> None:
    first, second = LayoutTarget(tmp_path / "a"), LayoutTarget(tmp_path / "b")
    for version in ("1.0.0", "1.2.3", "0.9.0"):
        _publish(first, version)
    for version in ("0.9.0", "1.0.0", "1.2.3", "1.0.0"):
        _publish(second, version)
    assert (tmp_path / "a" / "index.json").read_bytes() == (
        tmp_path / "b" / "index.json"
    ).read_bytes()
    assert first.tags() == ["v0.9.0", "v1.0.0", "v1.2.3"]


def test_retag_moves_the_tag(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    one = _publish(layout)
    two = _publish(layout, note="x")
    assert one.digest != two.digest
    assert layout.resolve("v1.2.3") == two
    assert layout.tags() == ["v1.2.3"]


def test_missing_tag_and_missing_layout(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    with pytest.raises(UsageError) as info:
        layout.resolve("v1.0.0")
    assert info.value.slug == "layout_not_found"
    with pytest.raises(UsageError) as missing:
        layout.tags()  # a missing layout is not an empty one
    assert missing.value.slug == "layout_not_found" and missing.value.exit_code == 2
    _publish(layout)
    with pytest.raises(UsageError) as info:
        layout.resolve("v9.9.9")
    assert info.value.slug == "reference_not_found"


def test_corrupted_blob_fails_verification(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout)
    manifest = json.loads(layout.fetch_bytes(root))
    layer = Descriptor.from_json(manifest["layers"][0])
    path = layout.blob_path(layer.digest)
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(GateError) as info, layout.fetch(layer) as stream:
        stream.read()
    assert info.value.slug == "pull_digest_mismatch"
    assert layout.exists(layer)  # same size: exists() is cheap, fetch is the check


def test_push_refuses_wrong_bytes_and_leaves_nothing(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    desc = Descriptor.for_bytes("application/octet-stream", b"good bytes")
    with pytest.raises(GateError) as info:
        layout.push(desc, io.BytesIO(b"evil bytes"))
    assert info.value.slug == "pull_digest_mismatch"
    assert not layout.exists(desc)
    assert [p.name for p in (tmp_path / "reg" / "blobs" / "sha256").iterdir()] == []


def test_concurrent_writers_keep_every_tag(tmp_path: Path) -> None:
    layout_path = tmp_path / "reg"
    errors: list[BaseException] = []

    def publish(version: str) -> None:
        try:
            _publish(LayoutTarget(layout_path), version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(f"1.0.{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert LayoutTarget(layout_path).tags() == sorted(f"v1.0.{i}" for i in range(8))


def test_referrers_from_index_entries(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout)
    sig = _push_referrer(layout, root, "application/vnd.dev.sigstore.bundle.v0.3+json")
    att = _push_referrer(layout, root, "application/vnd.example.attestation")
    found = layout.referrers(root)
    assert sorted(r.digest for r in found) == sorted([sig.digest, att.digest])
    only = layout.referrers(root, "application/vnd.example.attestation")
    assert [r.digest for r in only] == [att.digest]
    assert only[0].annotations == {"kind": "application/vnd.example.attestation"}
    assert layout.tags() == ["v1.2.3"]  # referrers carry no ref name
    other = _publish(layout, "2.0.0")
    assert layout.referrers(other) == []


def test_referrers_from_tag_schema_fallback(tmp_path: Path) -> None:
    """A `sha256-<hex>` index (as copied from a registry without the referrers API)."""
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout)
    payload = b"signature"
    desc, manifest = _referrer(root, "application/vnd.example.sig", payload)
    blobs = {
        EMPTY_DIGEST: EMPTY_JSON,
        Descriptor.for_bytes("x", payload).digest: payload,
        desc.digest: manifest,
    }
    # store the referrer's blobs without index entries, then the fallback index
    for digest, data in blobs.items():
        path = layout.blob_path(digest)
        path.write_bytes(data)
    entry = desc.to_json() | {"artifactType": "application/vnd.example.sig"}
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    index_desc = Descriptor.for_bytes(OCI_INDEX, index)
    layout.push(index_desc, io.BytesIO(index))
    layout.tag(index_desc, "sha256-" + root.hex)
    assert [r.digest for r in layout.referrers(root)] == [desc.digest]


def test_tag_validation(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    root = _publish(layout)
    with pytest.raises(FloeError) as info:
        layout.tag(root, "../escape")
    assert info.value.slug == "reference_invalid"


def test_concurrent_processes_keep_every_tag(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; sys.path.insert(0, {tests!r})\n"
        "from pathlib import Path\n"
        "from test_layout import _publish\n"
        "from floe.oci.layout import LayoutTarget\n"
        "_publish(LayoutTarget(Path({path!r})), sys.argv[1])\n"
    ).format(tests=str(Path(__file__).parent), path=str(tmp_path / "reg"))
    procs = [
        subprocess.Popen([sys.executable, "-c", script, f"2.0.{i}"], stderr=subprocess.PIPE)
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert LayoutTarget(tmp_path / "reg").tags() == [f"v2.0.{i}" for i in range(4)]
