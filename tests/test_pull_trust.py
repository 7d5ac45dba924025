"""`floe platform pull REF --out DIR` and `copy` enforce trust before writing anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from oci_helpers import read_dir, tree_files, write_tree

from floe.tree import model as t

pytestmark = pytest.mark.registry


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a compiled tree and two key pairs: cosign.* (signs) and other.*."""
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "correct horse")
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    root = tmp_path / "work"
    write_tree(root / ".floe" / "artifacts", tree_files())
    ok(run_floe("platform", "keygen", cwd=root))
    ok(run_floe("platform", "keygen", "--output-key-prefix", "other", cwd=root))
    return root


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def base_ref(kind: str, registry: Any, repo_name: str, root: Path) -> str:
    return f"oci-layout://{root / 'reg'}" if kind == "layout" else str(registry.ref(repo_name))


def publish(root: Path, ref: str, version: str, *extra: str) -> None:
    write_tree(root / ".floe" / "artifacts", tree_files(version.lstrip("v")))
    ok(run_floe("platform", "publish", version, "--registry", ref, "-q", *extra, cwd=root))


def pull(root: Path, ref: str, out: str, *extra: str) -> Any:
    return run_floe("platform", "pull", ref, "--out", out, "--format", "json", *extra, cwd=root)


def event(result: Any) -> str:
    return str(json.loads(result.stdout)["event"])


def fingerprint(root: Path, name: str) -> str:
    from floe.signing.keys import fingerprint, load_public_key

    return fingerprint(load_public_key((root / name).read_bytes()))


@pytest.mark.parametrize("kind", ["layout", "registry"])
def test_pull_with_key_verifies_before_writing(
    kind: str, work: Path, registry: Any, repo_name: str
) -> None:
    ref = base_ref(kind, registry, repo_name, work)
    publish(work, ref, "v1.2.3", "--key", "cosign.key")
    publish(work, ref, "v1.2.4")  # unsigned

    wrong = pull(work, f"{ref}:v1.2.3", "wrong", "--key", "other.pub")
    assert wrong.exit_code == 1 and event(wrong) == "signature_untrusted"
    assert not (work / "wrong").exists()

    right = pull(work, f"{ref}:v1.2.3", "right", "--key", "other.pub", "--key", "cosign.pub")
    assert right.exit_code == 0, right.output
    pulled = json.loads(right.stdout)
    assert pulled["verified"] is True and pulled["trust"] == "pinned"
    assert pulled["signer"] == fingerprint(work, "cosign.pub")
    assert read_dir(work / "right") == tree_files("1.2.3")

    missing = pull(work, f"{ref}:v1.2.4", "missing", "--key", "cosign.pub")
    assert missing.exit_code == 1 and event(missing) == "signature_missing"
    assert not (work / "missing").exists()


def test_wrong_key_leaves_an_existing_out_dir_untouched(
    work: Path, registry: Any, repo_name: str
) -> None:
    ref = str(registry.ref(repo_name))
    publish(work, ref, "v1.2.3", "--key", "cosign.key")
    (work / "out").mkdir()
    (work / "out" / "keep.txt").write_text("mine")
    refused = pull(work, f"{ref}:v1.2.3", "out", "--force", "--key", "other.pub")
    assert refused.exit_code == 1 and event(refused) == "signature_untrusted"
    assert read_dir(work / "out") == {"keep.txt": b"mine"}
    assert [p.name for p in work.iterdir() if p.name.startswith(".out")] == []


def test_require_signed_flags(work: Path, registry: Any, repo_name: str) -> None:
    ref = str(registry.ref(repo_name))
    publish(work, ref, "v1.2.4")  # unsigned, and its own policy does not ask for signatures

    plain = pull(work, f"{ref}:v1.2.4", "plain")
    assert plain.exit_code == 0, plain.output
    assert "is not signed" in plain.stderr
    assert json.loads(plain.stdout)["verified"] is False

    required = pull(work, f"{ref}:v1.2.4", "required", "--require-signed")
    assert required.exit_code == 1 and event(required) == "signature_missing"
    assert not (work / "required").exists()

    waived = run_floe(
        "platform", "pull", f"{ref}:v1.2.4", "--out", "waived", "--key", "cosign.pub",
        "--no-require-signed", cwd=work,
    )  # fmt: skip
    assert waived.exit_code == 0, waived.output
    assert "accepted because of --no-require-signed" in waived.stderr
    assert read_dir(work / "waived") == tree_files("1.2.4")


def test_no_require_signed_never_accepts_a_bad_signature(
    work: Path, registry: Any, repo_name: str
) -> None:
    ref = str(registry.ref(repo_name))
    publish(work, ref, "v1.2.3", "--key", "cosign.key")
    result = pull(work, f"{ref}:v1.2.3", "out", "--key", "other.pub", "--no-require-signed")
    assert result.exit_code == 1 and event(result) == "signature_untrusted"
    assert not (work / "out").exists()


def test_signed_without_key_follows_the_artifacts_own_policy(work: Path) -> None:
    # The platform lists no key: the signature cannot be checked, and says so.
    publish(work, "oci-layout://reg", "v1.2.3", "--key", "cosign.key")
    unchecked = pull(work, "oci-layout://reg:v1.2.3", "unchecked")
    assert unchecked.exit_code == 0, unchecked.output
    assert "Signature not checked" in unchecked.stderr

    # The platform lists its key and requires signatures: trust on first use, loudly.
    files = tree_files("1.2.5")
    manifest = json.loads(files[t.MANIFEST_FILE])
    pem = (work / "cosign.pub").read_text()
    manifest["security"] = {"require_signed_artifacts": True, "trusted_keys": [pem]}
    files[t.MANIFEST_FILE] = t.dump_json(manifest)
    t.parse_tree(files)
    write_tree(work / ".floe" / "artifacts", files)
    args = ("platform", "publish", "v1.2.5", "--registry", "oci-layout://reg", "-q")
    ok(run_floe(*args, "--key", "cosign.key", cwd=work))
    tofu = pull(work, "oci-layout://reg:v1.2.5", "tofu")
    assert tofu.exit_code == 0, tofu.output
    assert f"Trusting signer {fingerprint(work, 'cosign.pub')} on first use" in tofu.stderr
    assert json.loads(tofu.stdout)["trust"] == "first-use"

    # Re-published unsigned under another tag: its own policy requires a signature.
    ok(run_floe("platform", "copy", "oci-layout://reg:v1.2.5", "oci-layout://bare", cwd=work))
    bare = pull(work, "oci-layout://bare:v1.2.5", "bare-out")
    assert bare.exit_code == 1 and event(bare) == "signature_missing"
    assert not (work / "bare-out").exists()


def test_trust_flags_need_a_ref(work: Path) -> None:
    result = run_floe("platform", "pull", "--key", "cosign.pub", cwd=work)
    assert result.exit_code == 2
    assert "pull_trust_options" in result.stderr


def test_copy_with_key_verifies_the_source_first(work: Path, registry: Any, repo_name: str) -> None:
    ref = str(registry.ref(repo_name))
    publish(work, ref, "v1.2.3", "--key", "cosign.key")
    refused = run_floe(
        "platform", "copy", f"{ref}:v1.2.3", "oci-layout://mirror", "--key", "other.pub",
        "--format", "json", cwd=work,
    )  # fmt: skip
    assert refused.exit_code == 1 and event(refused) == "signature_untrusted"
    assert not (work / "mirror").exists()
    ok(
        run_floe(
            "platform", "copy", f"{ref}:v1.2.3", "oci-layout://mirror", "--key", "cosign.pub",
            "--with-referrers", cwd=work,
        )
    )  # fmt: skip
    ok(
        run_floe(
            "platform", "verify", "oci-layout://mirror:v1.2.3", "--key", "cosign.pub", cwd=work
        )
    )
