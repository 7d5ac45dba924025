"""RemoteTarget against a real docker-registry process (no mocks)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from registry_fixtures import FaultProxy, Registry

from floe.errors import FloeError
from floe.oci.remote import RemoteTarget, ping
from floe.oci.target import (
    EMPTY_DIGEST,
    EMPTY_JSON,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Target,
    canonical_json,
)

ARTIFACT = "application/vnd.floe.test.v1"


def _blob(data: bytes) -> Descriptor:
    return Descriptor.for_bytes("application/octet-stream", data)


def _manifest(
    layers: list[Descriptor], subject: Descriptor | None = None, artifact_type: str = ARTIFACT
) -> tuple[Descriptor, bytes]:
    body: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [layer.to_json() for layer in layers],
    }
    if subject is not None:
        body["subject"] = subject.to_json()
    data = canonical_json(body)
    return Descriptor.for_bytes(OCI_MANIFEST, data, artifact_type=artifact_type), data


def _push_artifact(
    target: RemoteTarget, payload: bytes, tag: str | None = "v1"
) -> tuple[Descriptor, Descriptor]:
    layer = _blob(payload)
    target.push(layer, io.BytesIO(payload))
    target.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    desc, data = _manifest([layer])
    target.push_manifest(desc, data, tag)
    return layer, desc


def _requests_for(registry: Registry, repo: str, method: str) -> list[str]:
    return [
        line
        for line in registry.request_log()
        if line.startswith(f"{method} ") and f"/v2/{repo}/" in line
    ]


def test_round_trip_blobs_and_manifests(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    assert isinstance(target, Target)
    ping(registry.host)
    layer, desc = _push_artifact(target, b"policy bytes\n" * 100)

    resolved = target.resolve("v1")
    assert resolved == desc
    assert resolved.media_type == OCI_MANIFEST
    assert resolved.artifact_type == ARTIFACT
    assert json.loads(target.fetch_bytes(resolved))["layers"][0]["digest"] == layer.digest
    with target.fetch(layer) as stream:
        assert stream.read() == b"policy bytes\n" * 100
    assert target.exists(layer)
    assert not target.exists(_blob(b"never pushed"))
    assert target.tags() == ["v1"]
    # A fresh client resolves by digest and verifies the bytes it gets.
    fresh = RemoteTarget(registry.host, repo_name)
    assert fresh.resolve(desc.digest) == desc
    assert target.describe() == f"oci://{registry.host}/{repo_name}"


def test_manifest_digest_comes_from_the_exact_bytes(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    layer = _blob(b"x")
    target.push(layer, io.BytesIO(b"x"))
    target.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    # Pretty-printed JSON: re-serializing would change the digest.
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [layer.to_json()],
    }
    data = json.dumps(body, indent=3).encode()
    desc = Descriptor.for_bytes(OCI_MANIFEST, data)
    target.push_manifest(desc, data, "pretty")
    assert RemoteTarget(registry.host, repo_name).resolve("pretty").digest == desc.digest
    assert RemoteTarget(registry.host, repo_name).fetch_bytes(desc) == data


def test_second_push_sends_no_blob(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    _push_artifact(target, b"same bytes")
    puts_before = len(_requests_for(registry, repo_name, "PUT"))
    posts_before = len(_requests_for(registry, repo_name, "POST"))
    assert posts_before == 2

    _push_artifact(RemoteTarget(registry.host, repo_name), b"same bytes")
    assert len(_requests_for(registry, repo_name, "POST")) == posts_before
    puts = _requests_for(registry, repo_name, "PUT")
    # Only the manifest is PUT again.
    assert len(puts) == puts_before + 1
    assert "/manifests/v1" in puts[-1]


def test_chunked_upload_above_threshold(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    target.monolithic_limit = 1 << 20
    target.chunk_size = 1 << 20
    payload = os.urandom((3 << 20) + 12345)
    layer = _blob(payload)
    target.push(layer, io.BytesIO(payload))
    patches = _requests_for(registry, repo_name, "PATCH")
    assert len(patches) == 4
    with RemoteTarget(registry.host, repo_name).fetch(layer) as stream:
        assert stream.read() == payload


def test_unseekable_stream_is_streamed(
    registry: Registry, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(60_000)  # fits the pipe buffer
    layer = _blob(payload)
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(payload)

    def no_spool(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upload spooled its source")

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", no_spool)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_spool)
    with os.fdopen(read_end, "rb") as pipe:
        RemoteTarget(registry.host, repo_name).push(layer, pipe)
    assert RemoteTarget(registry.host, repo_name).fetch_bytes(layer, max_size=1 << 20) == payload


def test_cross_repository_mount(registry: Registry, repo_name: str) -> None:
    source = RemoteTarget(registry.host, repo_name + "/src")
    layer, _ = _push_artifact(source, b"mount me")
    dest = RemoteTarget(registry.host, repo_name + "/dst")
    assert not dest.exists(layer)
    assert dest.mount(layer, repo_name + "/src")
    assert dest.exists(layer)
    missing = _blob(b"nowhere")
    assert not dest.mount(missing, repo_name + "/src")


def test_tag_listing_follows_pagination(
    registry: Registry, repo_name: str, fault_proxy: Callable[..., FaultProxy]
) -> None:
    target = RemoteTarget(registry.host, repo_name)
    _, desc = _push_artifact(target, b"tagged")
    for tag in ("v1.0.0", "v1.1.0", "v2.0.0", "latest"):
        target.tag(desc, tag)
    expected = ["latest", "v1", "v1.0.0", "v1.1.0", "v2.0.0"]
    assert sorted(target.tags(page_size=2)) == expected
    # docker-registry 2.8 ignores `n`; the proxy pages like GHCR or registry 3 do.
    proxy = fault_proxy()
    proxy.paginate_tags = 2
    assert RemoteTarget(proxy.host, repo_name).tags(page_size=2) == expected
    assert proxy.count("GET", "/tags/list") == 3
    assert RemoteTarget(registry.host, repo_name + "/empty").tags() == []


def test_referrers_fall_back_to_the_tag_schema(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    _, subject = _push_artifact(target, b"subject")
    assert target.referrers(subject) == []
    sig_layer = _blob(b"signature")
    target.push(sig_layer, io.BytesIO(b"signature"))
    first, first_data = _manifest([sig_layer], subject=subject, artifact_type="application/x.sig")
    target.push_manifest(first, first_data)
    second, second_data = _manifest(
        [sig_layer], subject=subject, artifact_type="application/x.sbom"
    )
    target.push_manifest(second, second_data)

    found = RemoteTarget(registry.host, repo_name).referrers(subject)
    assert {d.digest for d in found} == {first.digest, second.digest}
    only = target.referrers(subject, "application/x.sig")
    assert [d.digest for d in only] == [first.digest]
    assert only[0].artifact_type == "application/x.sig"
    fallback = target.fallback_tag(subject)
    assert fallback == "sha256-" + subject.hex
    assert fallback in target.tags()
    assert target.resolve(fallback).media_type == OCI_INDEX


def test_tampered_blob_is_refused(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    payload = b"the real policy\n" * 64
    layer, _ = _push_artifact(target, payload)
    blob = registry.blob_path(layer.digest)
    assert blob.read_bytes() == payload
    blob.write_bytes(payload.replace(b"real", b"fake"))
    received: list[bytes] = []
    with pytest.raises(FloeError) as excinfo, target.fetch(layer) as stream:
        received.append(stream.read())
    assert excinfo.value.slug == "pull_digest_mismatch"
    assert excinfo.value.exit_code == 1
    assert received == []
    with pytest.raises(FloeError, match="does not match") as again:
        target.fetch_bytes(layer)
    assert again.value.slug == "pull_digest_mismatch"


def test_tampered_manifest_is_refused(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    _, desc = _push_artifact(target, b"manifest tamper")
    blob = registry.blob_path(desc.digest)
    blob.write_bytes(blob.read_bytes().replace(b"floe.test", b"floe.evil"))
    fresh = RemoteTarget(registry.host, repo_name)
    with pytest.raises(FloeError) as excinfo:
        fresh.resolve(desc.digest)
    assert excinfo.value.slug == "pull_digest_mismatch"
    with pytest.raises(FloeError) as by_desc:
        fresh.fetch_bytes(desc)
    assert by_desc.value.slug == "pull_digest_mismatch"


def test_missing_things_have_clear_slugs(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    with pytest.raises(FloeError) as missing_tag:
        target.resolve("v9.9.9")
    assert missing_tag.value.slug == "reference_not_found"
    assert missing_tag.value.exit_code == 2
    with pytest.raises(FloeError) as missing_blob:
        target.fetch_bytes(_blob(b"absent"))
    assert missing_blob.value.slug == "blob_not_found"
    too_big = Descriptor("application/octet-stream", EMPTY_DIGEST, 10 << 20)
    with pytest.raises(FloeError) as big:
        target.fetch_bytes(too_big, max_size=1 << 20)
    assert big.value.slug == "pull_too_large"


def test_offline_forbids_the_network(registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name, registry.options(offline=True))
    with pytest.raises(FloeError) as excinfo:
        target.tags()
    assert excinfo.value.slug == "network_forbidden"
    assert "floe platform pull" in (excinfo.value.hint or "")


def test_stopped_registry_is_unreachable(registry_factory: object, repo_name: str) -> None:
    reg = registry_factory()  # type: ignore[operator]
    target = RemoteTarget(reg.host, repo_name, reg.options(retry_budget_seconds=0.5))
    _push_artifact(target, b"before stop")
    reg.stop()
    with pytest.raises(FloeError) as excinfo:
        RemoteTarget(reg.host, repo_name, reg.options(retry_budget_seconds=0.5)).resolve("v1")
    assert excinfo.value.slug == "registry_unreachable"
    reg.start()
    assert RemoteTarget(reg.host, repo_name).resolve("v1").size > 0


def test_large_blob_streams_without_buffering(
    registry: Registry, repo_name: str, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    with source.open("wb") as handle:
        for _ in range(24):
            handle.write(os.urandom(1 << 20))
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    layer = Descriptor("application/octet-stream", digest, source.stat().st_size)
    target = RemoteTarget(registry.host, repo_name)
    tracemalloc.start()
    try:
        with source.open("rb") as handle:
            target.push(layer, handle)
        _, push_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        copy = tmp_path / "copy.bin"
        with target.fetch(layer) as stream, copy.open("wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        _, pull_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert push_peak < 8 << 20
    assert pull_peak < 8 << 20
    assert copy.read_bytes() == source.read_bytes()


def test_concurrent_transfers_share_one_target(token_registry: Registry, repo_name: str) -> None:
    target = RemoteTarget(token_registry.host, repo_name, token_registry.options())
    payloads = [os.urandom(50_000 + i) for i in range(24)]
    layers = [_blob(p) for p in payloads]
    pairs = list(zip(layers, payloads, strict=True))
    with ThreadPoolExecutor(8) as pool:
        pushes = [pool.submit(target.push, layer, io.BytesIO(data)) for layer, data in pairs]
        for push in pushes:
            push.result()
    reader = RemoteTarget(token_registry.host, repo_name, token_registry.options())
    with ThreadPoolExecutor(8) as pool:
        fetched = list(pool.map(lambda layer: reader.fetch_bytes(layer, 1 << 20), layers))
    assert fetched == payloads


def test_relative_upload_locations(
    registry: Registry, repo_name: str, fault_proxy: Callable[..., FaultProxy]
) -> None:
    proxy = fault_proxy()
    proxy.relative_locations = True
    target = RemoteTarget(proxy.host, repo_name)
    target.monolithic_limit = target.chunk_size = 1 << 20
    payloads = [os.urandom(1000), os.urandom((2 << 20) + 7)]
    for payload in payloads:
        target.push(_blob(payload), io.BytesIO(payload))
    assert proxy.count("PATCH") == 3
    reader = RemoteTarget(registry.host, repo_name)
    assert [reader.fetch_bytes(_blob(p), 4 << 20) for p in payloads] == payloads
