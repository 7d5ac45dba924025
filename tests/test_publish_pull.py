"""The transport commands end to end: publish, pull, inspect, list, copy (layout + registry)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import read_dir, tree_files, write_tree

from floe.oci.remote import RemoteTarget
from floe.oci.target import EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from floe.oci.target import canonical_json as cj

pytestmark = pytest.mark.registry


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a compiled tree at .floe/artifacts and FLOE_HOME inside tmp_path."""
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    write_tree(tmp_path / "proj" / ".floe" / "artifacts", tree_files())
    return tmp_path / "proj"


def floe_json(*args: str, cwd: Path, code: int = 0) -> Any:
    result = run_floe(*args, "--format", "json", cwd=cwd)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def blob_writes(log: list[str]) -> list[str]:
    return [
        line for line in log if line.split()[0] in ("PUT", "POST", "PATCH") and "/blobs/" in line
    ]


def test_publish_to_embedded_layout_prints_steps(project: Path) -> None:
    result = run_floe("platform", "publish", "v1.2.3", cwd=project)
    assert result.exit_code == 0, result.output
    layout = project.parent / "home" / "registry" / "acme"  # the platform's own repository
    lines = result.stdout.splitlines()
    assert lines[0] == f"Publishing to oci-layout://{layout}:v1.2.3"
    assert lines[1] == f"  ✓ Semver: first release in oci-layout://{layout} (nothing to compare)"
    assert lines[2] == "  ✓ Uploading manifest.json (300 B)"
    assert [line.split(" (")[0] for line in lines[3:6]] == [
        "  ✓ Uploading policies/",
        "  ✓ Uploading catalog/",
        "  ✓ Uploading architecture/",
    ]
    assert lines[6] == f"Published: oci-layout://{layout}:v1.2.3"
    assert lines[7].startswith("Digest: sha256:")
    assert (layout / "oci-layout").is_file()


def test_publish_same_digest_on_layout_and_registry_and_no_reupload(
    project: Path, registry: Any, repo_name: str
) -> None:
    to_layout = floe_json(
        "platform", "publish", "v1.2.3", "--registry", "oci-layout://lay", cwd=project
    )
    to_registry = floe_json(
        "platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project
    )
    assert to_layout["digest"] == to_registry["digest"]
    assert to_registry["blobs_copied"] == 8
    before = len(registry.request_log())
    again = floe_json(
        "platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project
    )
    assert again["digest"] == to_registry["digest"]
    assert again["blobs_copied"] == 0 and again["blobs_skipped"] == 8
    assert blob_writes(registry.request_log()[before:]) == []
    remote = RemoteTarget(registry.host, repo_name, registry.options())
    assert remote.resolve("v1.2.3").digest == to_registry["digest"]


def test_host_only_registry_uses_default_repository(project: Path, registry: Any) -> None:
    out = floe_json(
        "platform", "publish", "v1.2.3", "--registry", f"oci://{registry.host}", cwd=project
    )
    assert out["reference"] == f"oci://{registry.host}/floe-platform:v1.2.3"


def test_registry_from_env(
    project: Path, registry: Any, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_REGISTRY", registry.ref(repo_name))
    out = floe_json("platform", "publish", "v1.2.3", cwd=project)
    assert out["reference"] == registry.ref(repo_name, "v1.2.3")


def test_immutable_tags_and_force(project: Path, registry: Any, repo_name: str) -> None:
    ref = registry.ref(repo_name)
    first = floe_json("platform", "publish", "v1.2.3", "--registry", ref, cwd=project)
    write_tree(project / ".floe" / "artifacts", tree_files(note="changed"))
    refused = floe_json("platform", "publish", "v1.2.3", "--registry", ref, cwd=project, code=1)
    assert refused["event"] == "publish_tag_exists"
    assert "--force" in refused["hint"]
    text = run_floe("platform", "publish", "v1.2.3", "--registry", ref, cwd=project)
    assert text.exit_code == 1
    assert text.stderr.startswith("error[publish_tag_exists]")
    forced = floe_json("platform", "publish", "v1.2.3", "--registry", ref, "--force", cwd=project)
    assert forced["digest"] != first["digest"]
    assert (
        RemoteTarget(registry.host, repo_name, registry.options()).resolve("v1.2.3").digest
        == (forced["digest"])
    )


def test_version_mismatch_and_missing_tree(project: Path) -> None:
    wrong = floe_json("platform", "publish", "v2.0.0", cwd=project, code=2)
    assert wrong["event"] == "publish_version_mismatch"
    missing = floe_json("platform", "publish", "v1.2.3", "--artifacts", "nope", cwd=project, code=2)
    assert missing["event"] == "artifacts_missing"
    bad = floe_json(
        "platform", "publish", "v1.2.3", "--registry", "oci://h/UPPER", cwd=project, code=2
    )
    assert bad["event"] == "reference_invalid"


def test_pull_round_trip_and_bare_tag(project: Path, registry: Any, repo_name: str) -> None:
    ref = registry.ref(repo_name)
    pub = floe_json("platform", "publish", "v1.2.3", "--registry", ref, cwd=project)
    pulled = floe_json(
        "platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", "out", cwd=project
    )
    assert pulled["digest"] == pub["digest"] and pulled["floe_platform"] is True
    assert read_dir(project / "out") == tree_files()
    again = run_floe("platform", "pull", f"{ref}@{pub['digest']}", "--out", "out", cwd=project)
    assert again.exit_code == 2 and "pull_out_exists" in again.stderr
    forced = run_floe(
        "platform", "pull", f"{ref}@{pub['digest']}", "--out", "out", "--force", cwd=project
    )
    assert forced.exit_code == 0, forced.output
    assert "Content digest: sha256:" in forced.stdout
    run_floe("platform", "publish", "v1.2.3", cwd=project)  # embedded layout
    bare = floe_json("platform", "pull", "v1.2.3", "--out", "out2", cwd=project)
    assert bare["digest"] == pub["digest"]


def test_tampered_registry_blob_is_refused(project: Path, registry: Any, repo_name: str) -> None:
    floe_json("platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project)
    files = tree_files()
    target = Descriptor.for_bytes("x", files["policies/quality-gates.json"])
    path = registry.blob_path(target.digest)
    path.write_bytes(path.read_bytes().replace(b"not_null", b"not_nul!"))
    try:
        out = floe_json(
            "platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", "work/out",
            cwd=project, code=1,
        )  # fmt: skip
        assert out["event"] == "pull_digest_mismatch"
        assert not (project / "work" / "out").exists()
        assert list((project / "work").iterdir()) == []
    finally:
        path.write_bytes(files["policies/quality-gates.json"])


def test_list_newest_first(project: Path, registry: Any, repo_name: str) -> None:
    ref = registry.ref(repo_name)
    digests = {}
    for version in ("1.2.3", "1.10.0", "1.2.10", "2.0.0-rc.1"):
        write_tree(project / ".floe" / "artifacts", tree_files(version))
        digests[version] = floe_json(
            "platform", "publish", f"v{version}", "--registry", ref, cwd=project
        )["digest"]
    remote = RemoteTarget(registry.host, repo_name, registry.options())
    remote.tag(remote.resolve("v1.2.3"), "latest")
    listed = floe_json("platform", "list", ref, cwd=project)
    assert [row["tag"] for row in listed["versions"]] == [
        "v2.0.0-rc.1",
        "v1.10.0",
        "v1.2.10",
        "v1.2.3",
    ]
    assert listed["versions"][1]["digest"] == digests["1.10.0"]
    assert listed["hidden"] == 1 and listed["other_tags"] == []
    shown = floe_json("platform", "list", ref, "--all", cwd=project)
    assert [row["tag"] for row in shown["other_tags"]] == ["latest"]
    text = run_floe("platform", "list", ref, cwd=project)
    assert text.stdout.splitlines()[1].split() == ["v2.0.0-rc.1", digests["2.0.0-rc.1"]]
    assert "1 other tags hidden" in text.stdout


def _sign_like(target: Any, subject: Descriptor, kind: str) -> Descriptor:
    """Push a referrer manifest (what the signing helper pushes) onto subject."""
    payload = b'{"bundle": "' + kind.encode() + b'"}'
    layer = Descriptor.for_bytes("application/json", payload)
    target.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    target.push(layer, io.BytesIO(payload))
    manifest = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": kind,
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [layer.to_json()],
            "subject": subject.to_json(),
        }
    )
    desc = Descriptor.for_bytes(OCI_MANIFEST, manifest)
    target.push(desc, io.BytesIO(manifest))
    return desc


def test_copy_registry_layout_registry_with_referrers(
    project: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    pub = floe_json("platform", "publish", "v1.2.3", "--registry", ref, cwd=project)
    src = RemoteTarget(registry.host, repo_name, registry.options())
    root = src.resolve("v1.2.3")
    sig = _sign_like(src, root, "application/vnd.dev.sigstore.bundle.v0.3+json")
    legacy = _sign_like(src, Descriptor.for_bytes("x", b"unrelated"), "application/x-legacy")
    src.tag(legacy, "sha256-" + root.hex + ".sig")

    out = floe_json(
        "platform", "copy", registry.ref(repo_name, "v1.2.3"), "oci-layout://airgap",
        "--with-referrers", cwd=project,
    )  # fmt: skip
    assert out["digest"] == pub["digest"] and out["referrers_copied"] == 2
    inspected = floe_json("platform", "inspect", "oci-layout://airgap:v1.2.3", cwd=project)
    assert [r["digest"] for r in inspected["referrers"]] == [sig.digest]
    assert (
        inspected["referrers"][0]["artifact_type"]
        == "application/vnd.dev.sigstore.bundle.v0.3+json"
    )
    assert inspected["legacy_signature_tags"] == ["sha256-" + root.hex + ".sig"]
    assert len(inspected["files"]) == 8

    back = repo_name + "-back"
    out = floe_json(
        "platform", "copy", "oci-layout://airgap:v1.2.3", registry.ref(back),
        "--with-referrers", cwd=project,
    )  # fmt: skip
    assert out["destination"] == registry.ref(back, "v1.2.3")
    mirror = RemoteTarget(registry.host, back, registry.options())
    assert mirror.resolve("v1.2.3").digest == pub["digest"]
    assert [r.digest for r in mirror.referrers(root)] == [sig.digest]
    assert "sha256-" + root.hex + ".sig" in mirror.tags()
    plain = floe_json(
        "platform", "copy", "oci-layout://airgap:v1.2.3", "oci-layout://plain", cwd=project
    )
    assert plain["referrers_copied"] == 0


def test_inspect_text(project: Path) -> None:
    run_floe("platform", "publish", "v1.2.3", cwd=project)
    result = run_floe("platform", "inspect", "v1.2.3", cwd=project)
    assert result.exit_code == 0, result.output
    assert "Artifact type: application/vnd.floe.platform.v1" in result.stdout
    assert "policies/quality-gates.json" in result.stdout
    assert "none (the artifact is not signed)" in result.stdout
    missing = run_floe("platform", "inspect", "v9.9.9", cwd=project)
    assert missing.exit_code == 2 and "reference_not_found" in missing.stderr


def test_compiled_demo_platform_same_digest_everywhere(
    tmp_path: Path, registry: Any, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import REPO_ROOT

    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    manifest = str(REPO_ROOT / "manifests" / "acme" / "manifest.yaml")
    compiled = run_floe("platform", "compile", manifest, "--out", "art", cwd=tmp_path)
    assert compiled.exit_code == 0, compiled.output
    # acme requires signatures: an unsigned build needs --allow-unsigned to publish at all
    args = ("platform", "publish", "v1.2.3", "--artifacts", "art", "--allow-unsigned")
    layout = floe_json(*args, "--registry", "oci-layout://demo/.registry", cwd=tmp_path)
    remote = floe_json(*args, "--registry", registry.ref(repo_name), cwd=tmp_path)
    again = floe_json(*args, "--registry", registry.ref(repo_name), cwd=tmp_path)
    assert layout["digest"] == remote["digest"] == again["digest"]
    assert again["blobs_copied"] == 0
    # acme requires signatures and this build is unsigned: pull refuses it unless told not to.
    pulled = floe_json(
        "platform", "pull", "oci-layout://demo/.registry:v1.2.3", "--out", "pulled",
        "--no-require-signed", cwd=tmp_path,
    )  # fmt: skip
    assert read_dir(tmp_path / "pulled") == read_dir(tmp_path / "art")
    assert pulled["content_digest"] == layout["content_digest"]


def test_signed_publish_and_signatures_travel_with_copy(
    project: Path, registry: Any, repo_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "correct horse")
    assert run_floe("platform", "keygen", cwd=project).exit_code == 0
    ref = registry.ref(repo_name)
    pub = floe_json(
        "platform", "publish", "v1.2.3", "--registry", ref, "--key", "cosign.key", cwd=project
    )
    assert len(pub["signatures"]) == 2
    copied = floe_json(
        "platform", "copy", registry.ref(repo_name, "v1.2.3"), "oci-layout://airgap",
        "--with-referrers", cwd=project,
    )  # fmt: skip
    assert copied["referrers_copied"] == 2
    verify = run_floe(
        "platform", "verify", "oci-layout://airgap:v1.2.3", "--key", "cosign.pub", cwd=project
    )
    assert verify.exit_code == 0, verify.output
    unsigned = floe_json(
        "platform", "copy", registry.ref(repo_name, "v1.2.3"), "oci-layout://bare", cwd=project
    )
    assert unsigned["referrers_copied"] == 0
    refused = run_floe(
        "platform", "verify", "oci-layout://bare:v1.2.3", "--key", "cosign.pub", cwd=project
    )
    assert refused.exit_code == 1
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "wrong")
    write_tree(project / ".floe" / "artifacts", tree_files("1.2.4"))
    bad = run_floe(
        "platform", "publish", "v1.2.4", "--registry", ref, "--key", "cosign.key", cwd=project
    )
    assert bad.exit_code == 2
    assert "v1.2.4" not in RemoteTarget(registry.host, repo_name, registry.options()).tags()


def test_copy_within_one_registry_mounts_blobs(
    project: Path, registry: Any, repo_name: str
) -> None:
    floe_json("platform", "publish", "v1.2.3", "--registry", registry.ref(repo_name), cwd=project)
    before = len(registry.request_log())
    out = floe_json(
        "platform", "copy", registry.ref(repo_name, "v1.2.3"), registry.ref(repo_name + "-m"),
        cwd=project,
    )  # fmt: skip
    assert out["blobs_mounted"] == 8 and out["blobs_copied"] == 0
    log = registry.request_log()[before:]
    assert [line for line in log if line.startswith(("PUT", "PATCH")) and "/blobs/" in line] == []
    assert sum("mount=" in line for line in log) == 8
    mirror = RemoteTarget(registry.host, repo_name + "-m", registry.options())
    assert mirror.resolve("v1.2.3").digest == out["digest"]
