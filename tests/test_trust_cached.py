"""compile's cache check goes through the trust decision: a swapped cached signature fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_floe
from lifecycle_helpers import make_signer, signed_project

from floe.errors import GateError
from floe.oci.layout import LayoutTarget
from floe.project.lifecycle import load_verified_platform
from floe.release.lockfile import read_lock
from floe.signing import simplesigning
from floe.signing.sign import sign_artifact


def _signed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    return signed_project(tmp_path, monkeypatch)


def test_the_cached_signature_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    assert load_verified_platform(project).signer is not None

    # Someone with write access to the cache re-signs the cached manifest with their key
    # and drops the original signatures: the tree still matches the lock, the signer not.
    cache = LayoutTarget(oci)
    lock = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert lock is not None
    manifest = cache.resolve(lock.platform.manifest_digest)
    index = json.loads((oci / "index.json").read_bytes())
    index["manifests"] = [m for m in index["manifests"] if m["digest"] == manifest.digest]
    (oci / "index.json").write_bytes(json.dumps(index).encode())
    intruder, _ = make_signer(tmp_path / "intruder")
    sign_artifact(cache, manifest, intruder, "registry.example/x")
    assert cache.resolve(simplesigning.signature_tag(manifest.digest))

    with pytest.raises(GateError) as info:
        load_verified_platform(project)
    assert info.value.slug == "signature_untrusted" and info.value.exit_code == 1


def test_a_missing_cached_manifest_is_cache_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    (oci / "index.json").write_bytes(b'{"schemaVersion":2,"manifests":[]}')
    lock = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert lock is not None
    digest = lock.platform.manifest_digest.split(":")[1]
    (oci / "blobs" / "sha256" / digest).unlink()
    with pytest.raises(GateError) as info:
        load_verified_platform(project)
    assert info.value.slug == "cache_corrupt"
    # `pull --force` repairs it, and the check passes again.
    assert run_floe("platform", "pull", "--force", cwd=project).exit_code == 0
    assert load_verified_platform(project).signer is not None
