"""Release integrity against a real docker-registry (issue 11 item 1): the tag, the version
annotation and manifest.json agree on publish, copy and `pull --out`; one semver is one tag;
publish refuses unsigned, untrusted-signer and failing-check releases. Nothing lands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from lifecycle_helpers import make_signer, make_tree, publish, write_tree

from floe.oci.copy import copy_graph
from floe.oci.remote import RemoteTarget

pytestmark = pytest.mark.registry


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "test password")


def _tags(registry: Any, repo: str) -> list[str]:
    return sorted(RemoteTarget(registry.host, repo).tags())


def _platform(folder: Path, files: dict[str, bytes]) -> Path:
    write_tree(folder / ".floe" / "artifacts", files)
    return folder


def test_retag_attack_refused_by_copy_and_pull_out(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.0.0"))
    copied = run_floe("platform", "copy", f"{repo}:v1.0.0", f"{repo}:v9.9.9", cwd=tmp_path)
    assert copied.exit_code == 1, copied.output
    assert "error[artifact_version_mismatch]" in copied.stderr
    assert "tag 9.9.9" in copied.stderr and "metadata.version 1.0.0" in copied.stderr
    assert _tags(registry, repo_name) == ["v1.0.0"]
    # Someone with push rights retags it anyway (not through floe): pull --out refuses it.
    target = RemoteTarget(registry.host, repo_name)
    copy_graph(target, target, target.resolve("v1.0.0"), tag="v9.9.9")
    out = tmp_path / "out"
    pulled = run_floe("platform", "pull", f"{repo}:v9.9.9", "--out", str(out), cwd=tmp_path)
    assert pulled.exit_code == 1, pulled.output
    assert "error[artifact_version_mismatch]" in pulled.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    honest = run_floe("platform", "pull", f"{repo}:v1.0.0", "--out", str(out), cwd=tmp_path)
    assert honest.exit_code == 0, honest.output
    assert (out / "manifest.json").is_file()


def test_copy_under_the_same_version_and_by_digest_is_accepted(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    digest = publish(repo, make_tree("1.0.0"))
    mirror = f"oci-layout://{tmp_path / 'mirror'}"
    same = run_floe("platform", "copy", f"{repo}:v1.0.0", f"{mirror}:1.0.0", cwd=tmp_path)
    assert same.exit_code == 0, same.output
    by_digest = run_floe("platform", "copy", f"{repo}@{digest}", f"{mirror}-2", cwd=tmp_path)
    assert by_digest.exit_code == 0, by_digest.output


@pytest.mark.parametrize(("first", "second"), [("v1.3.0", "1.3.0"), ("1.3.0", "v1.3.0")])
def test_one_semver_is_one_tag(
    tmp_path: Path, registry: Any, repo_name: str, first: str, second: str
) -> None:
    work = _platform(tmp_path / "p", make_tree("1.3.0"))
    repo = registry.ref(repo_name)
    assert run_floe("platform", "publish", first, "--registry", repo, cwd=work).exit_code == 0
    again = run_floe("platform", "publish", second, "--registry", repo, "--force", cwd=work)
    assert again.exit_code == 1, again.output
    assert "error[version_tag_conflict]" in again.stderr
    assert _tags(registry, repo_name) == [first]
    copied = run_floe("platform", "copy", f"{repo}:{first}", f"{repo}:{second}", cwd=work)
    assert copied.exit_code == 1 and "error[version_tag_conflict]" in copied.stderr
    assert _tags(registry, repo_name) == [first]


def test_publish_unsigned_refused_when_the_tree_requires_signatures(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    work = _platform(tmp_path / "p", make_tree(security={"require_signed_artifacts": True}))
    repo = registry.ref(repo_name)
    refused = run_floe("platform", "publish", "v1.2.3", "--registry", repo, cwd=work)
    assert refused.exit_code == 1, refused.output
    assert "error[publish_unsigned]" in refused.stderr and "--allow-unsigned" in refused.stderr
    assert _tags(registry, repo_name) == []
    args = ("platform", "publish", "v1.2.3", "--registry", repo, "--allow-unsigned")
    assert run_floe(*args, cwd=work).exit_code == 0
    assert _tags(registry, repo_name) == ["v1.2.3"]


def test_publish_refuses_a_signer_the_tree_does_not_list(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    work = tmp_path / "p"
    work.mkdir()
    assert run_floe("platform", "keygen", cwd=work).exit_code == 0
    _, other_pub = make_signer(tmp_path / "other")
    listed_other = {"require_signed_artifacts": True, "trusted_keys": [other_pub.read_text()]}
    _platform(work, make_tree(security=listed_other))
    repo = registry.ref(repo_name)
    args = ("platform", "publish", "v1.2.3", "--registry", repo, "--key", "cosign.key")
    refused = run_floe(*args, cwd=work)
    assert refused.exit_code == 1, refused.output
    assert "error[publish_signer_untrusted]" in refused.stderr
    assert 'trusted_keys: ["cosign.pub"]' in refused.stderr
    assert _tags(registry, repo_name) == []
    ours = {"trusted_keys": [other_pub.read_text(), (work / "cosign.pub").read_text()]}
    _platform(work, make_tree(security={"require_signed_artifacts": True, **ours}))
    published = run_floe(*args, cwd=work)
    assert published.exit_code == 0, published.output
    assert "v1.2.3" in _tags(registry, repo_name)


def test_publish_keyless_refused_when_the_tree_trusts_only_keys(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    _, pub = make_signer(tmp_path / "k")
    work = _platform(tmp_path / "p", make_tree(security={"trusted_keys": [pub.read_text()]}))
    repo = registry.ref(repo_name)
    args = ("platform", "publish", "v1.2.3", "--registry", repo, "--keyless")
    refused = run_floe(*args, "--identity-token", "not-used", cwd=work)
    assert refused.exit_code == 1, refused.output
    assert "error[publish_signer_untrusted]" in refused.stderr
    assert _tags(registry, repo_name) == []


def test_publish_refuses_a_tree_failing_the_builtin_checks(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    files = make_tree(permissions={"ghost": ["select"]})
    work = _platform(tmp_path / "p", files)
    repo = registry.ref(repo_name)
    refused = run_floe("platform", "publish", "v1.2.3", "--registry", repo, cwd=work)
    assert refused.exit_code == 1, refused.output
    assert "error[publish_checks_failed]" in refused.stderr
    assert "unknown role 'ghost'" in refused.stderr
    assert _tags(registry, repo_name) == []


def test_publish_signs_with_the_manifests_signing_key_by_default(tmp_path: Path) -> None:
    import shutil

    from conftest import REPO_ROOT

    for folder in ("manifests", "policies"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    assert run_floe("platform", "keygen", cwd=tmp_path).exit_code == 0
    manifest = tmp_path / "manifests" / "acme" / "manifest.yaml"
    text = manifest.read_text()
    assert "  trusted_keys: []\n" in text
    manifest.write_text(
        text.replace(
            "  trusted_keys: []\n",
            '  trusted_keys: ["../../cosign.pub"]\n  signing:\n    key: ../../cosign.key\n',
        )
    )
    assert run_floe("platform", "compile", str(manifest), cwd=tmp_path).exit_code == 0
    published = run_floe("platform", "publish", "v1.2.3", cwd=tmp_path)
    assert published.exit_code == 0, published.output
    assert "security.signing.key" in published.stdout and "  ✓ Signed with sha256:" in (
        published.stdout
    )
    verified = run_floe("platform", "verify", "v1.2.3", "--key", "cosign.pub", cwd=tmp_path)
    assert verified.exit_code == 0, verified.output


def test_copy_of_an_index_still_works(tmp_path: Path) -> None:
    import io

    from floe.oci.layout import LayoutTarget
    from floe.oci.target import OCI_INDEX, Descriptor, canonical_json

    src = f"oci-layout://{tmp_path / 'a'}"
    digest = publish(src, make_tree("1.0.0"))
    layout = LayoutTarget(tmp_path / "a")
    child = layout.resolve(digest)
    index = canonical_json(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child.to_json()]}
    )
    root = Descriptor.for_bytes(OCI_INDEX, index)
    layout.push(root, io.BytesIO(index))
    layout.tag(root, "multi")
    dst = f"oci-layout://{tmp_path / 'b'}"
    copied = run_floe("platform", "copy", f"{src}:multi", f"{dst}:multi", cwd=tmp_path)
    assert copied.exit_code == 0, copied.output
    assert LayoutTarget(tmp_path / "b").resolve("multi").digest == root.digest
