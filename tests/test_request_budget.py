"""Publish and pull ask the registry each question once (counted in the registry's log)."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import tree_files, write_tree

from floe.oci.remote import RemoteTarget
from floe.oci.target import EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from floe.oci.target import canonical_json as cj

pytestmark = pytest.mark.registry


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "artifacts"
    write_tree(folder, tree_files())
    return folder


def _publish(registry: Any, repo: str, tree: Path) -> dict[str, Any]:
    result = run_floe(
        "platform", "publish", "v1.2.3", "--artifacts", str(tree),
        "--registry", registry.ref(repo), "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def _requests(registry: Any, repo: str, before: int) -> list[str]:
    """`METHOD path` of this repository's requests since `before` (queries dropped)."""
    return [
        line.split("?", 1)[0] for line in registry.request_log()[before:] if f"/v2/{repo}/" in line
    ]


def test_publish_heads_each_blob_once(registry: Any, repo_name: str, tree: Path) -> None:
    before = len(registry.request_log())
    out = _publish(registry, repo_name, tree)
    log = _requests(registry, repo_name, before)
    blobs = out["blobs_copied"]
    assert blobs == 8
    kinds = Counter(
        line.split()[0] + (" blob" if "/blobs/" in line else " manifest") for line in log
    )
    # tag check, tag list (one semver is one tag: is the other v-spelling there?),
    # manifest HEAD, HEAD + POST + PUT per blob, manifest PUT: nothing twice
    assert kinds == Counter(
        {"GET manifest": 2, "HEAD manifest": 1, "HEAD blob": blobs, "POST blob": blobs,
         "PUT blob": blobs, "PUT manifest": 1}
    )  # fmt: skip
    heads = [line for line in log if line.startswith("HEAD")]
    assert len(heads) == len(set(heads))


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
