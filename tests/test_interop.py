"""Interop both ways with skopeo (oci: layouts, docker:// registries) and oras-py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import read_dir, tree_files, write_tree

from floe.artifact.pack import pack_tree
from floe.oci.copy import StaticTarget, copy_graph
from floe.oci.remote import RemoteTarget

pytestmark = [pytest.mark.registry, pytest.mark.interop]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    write_tree(tmp_path / "proj" / ".floe" / "artifacts", tree_files())
    return tmp_path / "proj"


def floe_json(*args: str, cwd: Path, code: int = 0) -> Any:
    result = run_floe(*args, "--format", "json", cwd=cwd)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def skopeo(*args: str) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(["skopeo", *args], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


def oras_client(registry: Any) -> Any:
    import oras.client

    return oras.client.OrasClient(hostname=registry.host, insecure=True)


def test_skopeo_reads_floe_layout_and_pushes_it_to_a_registry(
    project: Path, registry: Any, repo_name: str
) -> None:
    pub = floe_json("platform", "publish", "v1.2.3", "--registry", "oci-layout://lay", cwd=project)
    raw = skopeo("inspect", "--raw", f"oci:{project / 'lay'}:v1.2.3").stdout
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == pub["digest"]
    skopeo(
        "copy", "--quiet", f"oci:{project / 'lay'}:v1.2.3",
        f"docker://{registry.host}/{repo_name}:v1.2.3", "--dest-tls-verify=false",
    )  # fmt: skip
    pulled = floe_json(
        "platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", "out", cwd=project
    )
    assert pulled["digest"] == pub["digest"] and pulled["floe_platform"] is True
    assert read_dir(project / "out") == tree_files()


def test_floe_reads_a_layout_written_by_skopeo(
    project: Path, registry: Any, repo_name: str
) -> None:
    pub = floe_json(
        "platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project
    )
    skopeo(
        "copy", "--quiet", f"docker://{registry.host}/{repo_name}:v1.2.3",
        f"oci:{project / 'sk'}:v1.2.3", "--src-tls-verify=false",
    )  # fmt: skip
    listed = floe_json("platform", "list", "oci-layout://sk", cwd=project)
    assert listed["versions"] == [
        {"tag": "v1.2.3", "digest": pub["digest"], "size": listed["versions"][0]["size"]}
    ]
    pulled = floe_json("platform", "pull", "oci-layout://sk:v1.2.3", "--out", "out", cwd=project)
    assert pulled["digest"] == pub["digest"]
    assert read_dir(project / "out") == tree_files()


def test_oras_pulls_what_floe_published_file_for_file(
    project: Path, registry: Any, repo_name: str, tmp_path: Path
) -> None:
    floe_json("platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project)
    out = tmp_path / "oras-out"
    oras_client(registry).pull(target=f"{registry.host}/{repo_name}:v1.2.3", outdir=str(out))
    assert read_dir(out) == tree_files()


def test_oras_unpacks_floe_tar_layers(registry: Any, repo_name: str, tmp_path: Path) -> None:
    files = tree_files()
    packed = pack_tree(files, "v1.2.3", tar_threshold=1)
    remote = RemoteTarget(registry.host, repo_name, registry.options())
    copy_graph(StaticTarget(packed.blobs()), remote, packed.descriptor, tag="v1.2.3")
    out = tmp_path / "oras-out"
    oras_client(registry).pull(target=f"{registry.host}/{repo_name}:v1.2.3", outdir=str(out))
    assert read_dir(out) == files


def test_floe_pulls_what_oras_pushed(
    project: Path, registry: Any, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = project / ".floe" / "artifacts"
    monkeypatch.chdir(tree)
    oras_client(registry).push(
        target=f"{registry.host}/{repo_name}:v1.2.3",
        files=sorted(os.listdir(tree)),
    )
    result = run_floe(
        "platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", str(project / "out")
    )
    assert result.exit_code == 0, result.output
    assert "was not published by floe" in result.stderr
    assert "form a valid platform tree" in result.stderr
    assert read_dir(project / "out") == tree_files()


def test_oras_single_file_artifact(
    project: Path, registry: Any, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    Path("notes.txt").write_text("hello\n")
    oras_client(registry).push(target=f"{registry.host}/{repo_name}:notes", files=["notes.txt"])
    pulled = floe_json(
        "platform", "pull", registry.ref(repo_name, "notes"), "--out", "out", cwd=project
    )
    assert pulled["floe_platform"] is False and pulled["content_digest"] is None
    assert read_dir(project / "out") == {"notes.txt": b"hello\n"}
