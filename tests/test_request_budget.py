"""Publish and pull ask the registry each question once (counted in the registry's log),
over as few connections as they need (counted by a TCP relay), and uploads stream."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import tree_files, write_tree
from registry_fixtures import FaultProxy

from floe.errors import GateError
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.remote import RemoteTarget
from floe.oci.target import EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from floe.oci.target import canonical_json as cj

pytestmark = pytest.mark.registry
WRITES = ("PUT", "POST", "PATCH", "DELETE")


class Relay:
    """A TCP relay in front of a registry that counts the connections clients open."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def ref(self, repo: str, tag: str | None = None) -> str:
        return f"oci://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(src, dst), daemon=True).start()

    def close(self) -> None:
        self._server.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(1 << 16):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay(registry: Any) -> Iterator[Relay]:
    counting = Relay(registry.port)
    yield counting
    counting.close()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    write_tree(folder, tree_files())
    return folder


def _publish(registry: Any, repo: str, tree: Path, version: str = "v1.2.3") -> dict[str, Any]:
    result = run_floe(
        "platform", "publish", version, "--artifacts", str(tree),
        "--registry", registry.ref(repo), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _requests(registry: Any, repo: str, before: int) -> list[str]:
    """`METHOD path` of this repository's requests since `before` (queries dropped)."""
    return [
        line.split("?", 1)[0] for line in registry.request_log()[before:] if f"/v2/{repo}/" in line
    ]


def _kinds(log: list[str]) -> Counter[str]:
    kind = {True: " blob", False: " manifest"}
    return Counter(line.split()[0] + kind["/blobs/" in line] for line in log)


def test_a_first_publish_asks_no_head(registry: Any, repo_name: str, tree: Path) -> None:
    before = len(registry.request_log())
    out = _publish(registry, repo_name, tree)
    log = _requests(registry, repo_name, before)
    blobs = out["blobs_copied"]
    assert blobs == 8
    # tag check, tag list (one semver is one tag: is the other v-spelling there?), then
    # POST + PUT per blob and the manifest PUT: the empty tag list already said the
    # repository holds nothing, so no HEAD asks it again (oras-py's own count per blob)
    assert _kinds(log) == Counter(
        {"GET manifest": 2, "POST blob": blobs, "PUT blob": blobs, "PUT manifest": 1}
    )
    others = [line for line in log if not line.startswith("POST")]
    assert len(others) == len(set(others))  # nothing asked or sent twice


def test_a_new_version_heads_each_blob_once(registry: Any, repo_name: str, tree: Path) -> None:
    _publish(registry, repo_name, tree)
    manifest = tree / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["metadata"]["version"] = "1.2.4"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    before = len(registry.request_log())
    out = _publish(registry, repo_name, tree, version="v1.2.4")
    log = _requests(registry, repo_name, before)
    # The repository has tags now: each blob is asked once, the unchanged ones are not sent
    heads = [line for line in log if line.startswith("HEAD")]
    assert len(heads) == len(set(heads)) and len([h for h in heads if "/blobs/" in h]) == 8
    assert out["blobs_copied"] == _kinds(log)["PUT blob"] < 8


def test_republish_is_one_request(registry: Any, repo_name: str, tree: Path) -> None:
    first = _publish(registry, repo_name, tree)
    before = len(registry.request_log())
    again = _publish(registry, repo_name, tree)
    assert again["digest"] == first["digest"] and again["blobs_copied"] == 0
    # The tag already names this manifest: no HEAD, no blob request, no re-PUT of the tag.
    assert _requests(registry, repo_name, before) == [f"GET /v2/{repo_name}/manifests/v1.2.3"]


def test_pull_gets_each_blob_once(
    registry: Any, repo_name: str, tree: Path, tmp_path: Path
) -> None:
    published = _publish(registry, repo_name, tree)
    before = len(registry.request_log())
    result = run_floe(
        "platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", str(tmp_path / "out"),
        "--no-require-signed", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["digest"] == published["digest"]
    log = _requests(registry, repo_name, before)
    blob_gets = [line for line in log if line.startswith("GET") and "/blobs/" in line]
    assert len(blob_gets) == 8 and len(set(blob_gets)) == 8  # the config is a layer too
    assert not [line for line in log if line.startswith(("HEAD", "PUT", "POST", "PATCH"))]
    assert log.count(f"GET /v2/{repo_name}/manifests/v1.2.3") == 1


def _artifact(target: RemoteTarget, payload: bytes, subject: Descriptor | None) -> Descriptor:
    layer = Descriptor.for_bytes("application/octet-stream", payload)
    target.push(layer, io.BytesIO(payload))
    target.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [layer.to_json()],
    }
    if subject is not None:
        manifest["subject"] = subject.to_json()
    data = cj(manifest)
    desc = Descriptor.for_bytes(OCI_MANIFEST, data, artifact_type=manifest["artifactType"])
    target.push_manifest(desc, data, None if subject else "v1")
    return desc


def test_referrers_are_asked_once_and_refreshed_by_a_push(registry: Any, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    subject = _artifact(target, b"subject", None)
    before = len(registry.request_log())
    assert target.referrers(subject) == [] and target.referrers(subject) == []
    asked = _requests(registry, repo_name, before)
    assert len(asked) == len(set(asked)) and asked  # the second call was answered from memory
    signature = _artifact(target, b"signature", subject)
    assert [r.digest for r in target.referrers(subject)] == [signature.digest]
    fresh = RemoteTarget(registry.host, repo_name)
    assert [r.digest for r in fresh.referrers(subject)] == [signature.digest]


def test_a_blob_read_once_is_served_from_memory(registry: Any, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name)
    _artifact(target, b"config-like bytes", None)
    reader = RemoteTarget(registry.host, repo_name)
    manifest = json.loads(reader.fetch_bytes(reader.resolve("v1")))
    layer = Descriptor.from_json(manifest["layers"][0])
    before = len(registry.request_log())
    assert reader.fetch_bytes(layer) == b"config-like bytes"
    with reader.fetch(layer) as stream:
        assert stream.read() == b"config-like bytes"
    assert reader.exists(layer)
    gets = _requests(registry, repo_name, before)
    assert gets == [f"GET /v2/{repo_name}/blobs/{layer.digest}"]


def test_environment_is_read_once_per_host_and_still_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from floe.oci.http import _Session

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    session = _Session()
    merge = session.merge_environment_settings
    proxied = merge("http://reg.example/v2/", {}, None, True, None)
    assert proxied["proxies"]["http"] == "http://proxy.example:3128"
    assert proxied["verify"] == "/etc/ssl/corp.pem"
    assert "http" not in merge("http://direct.example/v2/", {}, None, True, None)["proxies"]
    proxied["proxies"]["http"] = "changed by a caller"
    monkeypatch.setenv("HTTP_PROXY", "http://other.example:3128")  # read once: not seen
    again = merge("http://reg.example/v2/x", {}, None, True, None)
    assert again["proxies"]["http"] == "http://proxy.example:3128"
    assert (
        merge("http://reg.example/", {"http": "http://explicit:1"}, None, True, None)["proxies"][
            "http"
        ]
        == "http://explicit:1"
    )


def test_republish_to_a_layout_leaves_its_index_alone(tmp_path: Path, tree: Path) -> None:
    layout = tmp_path / "layout"
    args = ("platform", "publish", "v1.2.3", "--artifacts", str(tree))
    ref = f"oci-layout://{layout}"
    assert run_floe(*args, "--registry", ref).exit_code == 0
    index = layout / "index.json"
    before = (index.stat().st_ino, index.read_bytes())
    again = run_floe(*args, "--registry", ref)
    assert again.exit_code == 0, again.output
    assert (index.stat().st_ino, index.read_bytes()) == before  # not rewritten (same inode)


def test_publish_and_pull_use_one_connection_each(
    registry: Any, relay: Relay, repo_name: str, tree: Path, tmp_path: Path
) -> None:
    """Eight small blobs go one after the other over one kept-alive connection (404s of
    HEAD and GET included); threads and their connections are for big or many blobs."""
    result = run_floe(
        "platform", "publish", "v1.2.3", "--artifacts", str(tree),
        "--registry", relay.ref(repo_name), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["blobs_copied"] == 8
    assert relay.connections == 1
    pulled = run_floe(
        "platform", "pull", relay.ref(repo_name, "v1.2.3"), "--out", str(tmp_path / "out"),
        "--no-require-signed", "--format", "json",
    )  # fmt: skip
    assert pulled.exit_code == 0, pulled.output
    assert relay.connections == 2


def _no_spooling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an upload spooled its source to a temporary file")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refuse)


def test_a_big_file_goes_as_one_streamed_put(
    registry: Any, repo_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """65 MiB from a file, through the progress wrapper: POST + one PUT, nothing spooled
    (the old path spooled every blob and sent this one as POST + 5 PATCH + PUT)."""
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        for _ in range(65):
            handle.write(b"\x07" * (1 << 20))
    desc = Descriptor(
        "application/octet-stream",
        "sha256:" + hashlib.sha256(b"\x07" * (65 << 20)).hexdigest(),
        65 << 20,
    )
    root_data = cj({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.big",
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [desc.to_json()],
    })  # fmt: skip
    root = Descriptor.for_bytes(OCI_MANIFEST, root_data)
    source = StaticTarget({desc.digest: big, EMPTY_DIGEST: EMPTY_JSON, root.digest: root_data})
    progress: list[int] = []
    _no_spooling(monkeypatch)
    before = len(registry.request_log())
    copy_graph(
        source, RemoteTarget(registry.host, repo_name), root, tag="v1",
        on_progress=lambda event, d, n: progress.append(n) if event == "advance" else None,
    )  # fmt: skip
    blob_writes = [
        line.split()[0] for line in _requests(registry, repo_name, before)
        if line.startswith(WRITES) and "/blobs/" in line
    ]  # fmt: skip
    assert Counter(blob_writes) == Counter({"POST": 2, "PUT": 2})  # the big blob, the config
    assert sum(progress) == desc.size + 2
    assert RemoteTarget(registry.host, repo_name).exists(desc)  # the registry checked the digest


def test_a_registry_refusing_a_big_body_gets_chunks(
    registry: Any, repo_name: str, fault_proxy: Callable[..., FaultProxy]
) -> None:
    proxy = fault_proxy()
    proxy.inject("status", method="PUT", path="/blobs/uploads/", status=413)
    target = RemoteTarget(proxy.host, repo_name)
    first, second = os.urandom((3 << 20) + 5), os.urandom(2 << 20)
    target.chunk_size = 1 << 20
    target.push(Descriptor.for_bytes("application/octet-stream", first), io.BytesIO(first))
    assert proxy.count("PATCH") == 4  # after the refused PUT: 1 MiB chunks
    assert proxy.count("PUT") == 2
    # learnt for the session: the next big blob is chunked at once, no refused PUT first
    target.push(Descriptor.for_bytes("application/octet-stream", second), io.BytesIO(second))
    assert proxy.count("PATCH") == 6 and proxy.count("PUT") == 3
    reader = RemoteTarget(registry.host, repo_name)
    for data in (first, second):
        assert reader.fetch_bytes(_blob(data), 4 << 20) == data


def _blob(data: bytes) -> Descriptor:
    return Descriptor.for_bytes("application/octet-stream", data)


def test_an_unseekable_source_is_fetched_again_not_spooled(
    registry: Any,
    repo_name: str,
    fault_proxy: Callable[..., FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mirror streams the source registry's response into the upload; when that
    upload breaks, the blob is fetched again (a registry stream cannot be rewound)."""
    source = RemoteTarget(registry.host, repo_name)
    payload = os.urandom(300_000)
    layer = _blob(payload)
    source.push(layer, io.BytesIO(payload))
    source.push(_blob(EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    data = cj({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.m",
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [layer.to_json()],
    })  # fmt: skip
    root = Descriptor.for_bytes(OCI_MANIFEST, data)
    source.push_manifest(root, data, "v1")
    proxy = fault_proxy()
    proxy.inject("reset", method="PUT", path=layer.digest.split(":")[1])  # in the query
    _no_spooling(monkeypatch)
    before = len(registry.request_log())
    stats = copy_graph(source, RemoteTarget(proxy.host, repo_name + "-m"), root, tag="v1")
    assert stats.blobs_copied == 2
    gets = [
        line for line in _requests(registry, repo_name, before)
        if line == f"GET /v2/{repo_name}/blobs/{layer.digest}"
    ]  # fmt: skip
    assert len(gets) == 2  # the first stream was spent on the broken upload
    assert RemoteTarget(registry.host, repo_name + "-m").fetch_bytes(layer, 1 << 20) == payload


@pytest.fixture
def key_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "keys"
    project.mkdir()
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "correct horse")
    assert run_floe("platform", "keygen", cwd=project).exit_code == 0
    return project


def _signed_publish(registry: Any, repo: str, tree: Path, key: Path) -> Any:
    return run_floe(
        "platform", "publish", "v1.2.3", "--artifacts", str(tree), "--key", str(key),
        "--registry", registry.ref(repo), "--format", "json",
    )  # fmt: skip


def test_signed_republish_writes_nothing_and_needs_no_password(
    registry: Any, repo_name: str, tree: Path, key_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = key_project / "cosign.key"
    first = _signed_publish(registry, repo_name, tree, key)
    assert first.exit_code == 0, first.output
    signatures = json.loads(first.stdout)["signatures"]
    assert len(signatures) == 2
    # No password anywhere and no terminal: asking for one would fail the command.
    monkeypatch.delenv("FLOE_SIGNING_PASSWORD")
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    before = len(registry.request_log())
    again = _signed_publish(registry, repo_name, tree, key)
    assert again.exit_code == 0, again.output
    out = json.loads(again.stdout)
    assert out["signatures"] == signatures and out["blobs_copied"] == 0
    log = _requests(registry, repo_name, before)
    assert [line for line in log if line.startswith(WRITES)] == []
    assert len(log) == len(set(log))  # each signature piece read once
    # Something new to sign: the password is needed, and its absence refuses the
    # publish before anything is pushed.
    write_tree(tree, tree_files("1.2.4"))
    before = len(registry.request_log())
    refused = run_floe(
        "platform", "publish", "v1.2.4", "--artifacts", str(tree), "--key", str(key),
        "--registry", registry.ref(repo_name), "--format", "json",
    )  # fmt: skip
    assert refused.exit_code == 2 and "signing_key_password" in refused.output
    assert [
        line for line in _requests(registry, repo_name, before) if line.startswith(WRITES)
    ] == []


def test_a_stale_pub_beside_the_key_is_refused(
    registry: Any, repo_name: str, tree: Path, key_project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert run_floe("platform", "keygen", cwd=other).exit_code == 0
    (key_project / "cosign.pub").write_bytes((other / "cosign.pub").read_bytes())
    before = len(registry.request_log())
    result = _signed_publish(registry, repo_name, tree, key_project / "cosign.key")
    assert result.exit_code == 2 and "signing_key_pair_mismatch" in result.output
    assert [
        line for line in _requests(registry, repo_name, before) if line.startswith(WRITES)
    ] == []


def test_init_asks_each_question_once(
    tmp_path: Path, registry: Any, repo_name: str, fault_proxy: Callable[..., FaultProxy]
) -> None:
    """A signed platform, `floe init` through a proxy that logs every request (the
    registry's own log leaves out routes it lacks, such as the referrers API)."""
    from lifecycle_helpers import make_signer, make_tree, publish

    signer, pub = make_signer(tmp_path / "keys")
    for version in ("1.2.2", "1.2.3"):
        publish(registry.ref(repo_name), make_tree(version), signer=signer)
    proxy = fault_proxy()
    project = tmp_path / "p"
    project.mkdir()
    result = run_floe(
        "init", "--platform=v1.2.*", "--registry", proxy.ref(repo_name), "--key", str(pub),
        cwd=project,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    asked = [line for line in proxy.requests if f"/v2/{repo_name}/" in line]
    assert [line for line in asked if line.startswith(WRITES)] == []
    assert sorted(line for line, n in Counter(asked).items() if n > 1) == []
    tags = f"GET /v2/{repo_name}/tags/list"
    assert asked.count(tags) == 1
    # The referrers of the platform are asked (once); those of its signature bundle are not.
    referrers = [line for line in asked if "/referrers/" in line]
    assert len(referrers) == 1


def test_a_file_changed_since_packing_never_lands(
    registry: Any, repo_name: str, tmp_path: Path
) -> None:
    """Read once: hashed as it is sent, the last byte withheld when the digest is wrong."""
    path = tmp_path / "layer.bin"
    original = os.urandom((2 << 20) + 11)
    desc = _blob(original)
    path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # changed after packing
    root_data = cj({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.m",
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [desc.to_json()],
    })  # fmt: skip
    root = Descriptor.for_bytes(OCI_MANIFEST, root_data)
    source = StaticTarget({desc.digest: path, EMPTY_DIGEST: EMPTY_JSON, root.digest: root_data})
    target = RemoteTarget(registry.host, repo_name)
    with pytest.raises(GateError) as info:
        copy_graph(source, target, root, tag="v1")
    assert info.value.slug == "pull_digest_mismatch"
    fresh = RemoteTarget(registry.host, repo_name)
    assert not fresh.exists(desc) and not fresh.exists(root)
