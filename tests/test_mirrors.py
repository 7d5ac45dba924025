"""Registry mirrors (registries.toml `mirrors`) against two real docker-registry processes.

The mirror is a byte-exact replica of the origin (floe copy with referrers); tests then
tamper with a blob file in the mirror's storage, stop the mirror, or move its tag, and
check that floe reads content from the mirror, verifies every byte, falls back to the
origin (with a warning line) and never stores what failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FloeResult, run_floe
from lifecycle_helpers import files_under, make_signer, make_tree, publish
from registry_fixtures import Registry

from floe.oci.manifest import parse_manifest
from floe.oci.remote import RemoteTarget

pytestmark = pytest.mark.registry
REPO = "acme/platform"
TAG = "v1.2.3"


@dataclass
class Pair:
    origin: Registry
    mirror: Registry
    pub: Path
    digest: str
    files: dict[str, bytes]
    settings: Path

    def ref(self, tag: str = TAG) -> str:
        return self.origin.ref(REPO, tag)

    def layers(self) -> list[tuple[str, str]]:
        """(title, digest) of the artifact's layers, read from the origin."""
        target = RemoteTarget(self.origin.host, REPO, self.origin.options(use_settings=False))
        desc = target.resolve(self.digest)
        manifest = parse_manifest(target.fetch_bytes(desc), desc.digest)
        return [(layer.annotations.get("org.opencontainers.image.title", ""), layer.digest)
                for layer in manifest.layers]  # fmt: skip


def _tamper(reg: Registry, digest: str) -> None:
    """Same size, other bytes: only the digest check can catch it."""
    path = reg.blob_path(digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert "sha256:" + hashlib.sha256(bytes(data)).hexdigest() != digest


def _blob_gets(reg: Registry) -> list[str]:
    return [line for line in reg.request_log() if line.startswith("GET ") and "/blobs/" in line]


def _writes(reg: Registry) -> list[str]:
    return [line for line in reg.request_log() if line.split()[0] in ("PUT", "POST", "PATCH")]


@pytest.fixture
def pair(
    registry_factory: Callable[..., Registry], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Pair:
    from floe.artifact.copy import CopyRequest, copy_artifact

    origin, mirror = registry_factory(), registry_factory()
    signer, pub = make_signer(tmp_path / "keys")
    files = make_tree("1.2.3")
    digest = publish(origin.ref(REPO), files, signer=signer)
    copy_artifact(CopyRequest(origin.ref(REPO, TAG), mirror.ref(REPO, TAG), with_referrers=True))
    settings = tmp_path / "registries.toml"
    settings.write_text(f'[registry."{origin.host}"]\nmirrors = ["{mirror.host}"]\n')
    monkeypatch.setenv("FLOE_REGISTRIES_CONFIG", str(settings))
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "floe-home"))
    return Pair(origin, mirror, pub, digest, files, settings)


def _pull(pair: Pair, out: Path, *extra: str) -> FloeResult:
    return run_floe("platform", "pull", pair.ref(), "--out", str(out), "--key", str(pair.pub),
                    *extra)  # fmt: skip


def test_content_comes_from_the_mirror_and_the_tag_from_the_origin(
    pair: Pair, tmp_path: Path
) -> None:
    origin_before, mirror_before = len(pair.origin.request_log()), len(pair.mirror.request_log())
    result = _pull(pair, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    origin_log = pair.origin.request_log()[origin_before:]
    mirror_log = pair.mirror.request_log()[mirror_before:]
    assert f"GET /v2/{REPO}/manifests/{TAG}" in origin_log  # the tag: the origin's answer
    assert not any(f"/manifests/{TAG}" in line for line in mirror_log)
    layer_digests = {digest for _, digest in pair.layers()}
    served = {line.rsplit("/", 1)[1] for line in _blob_gets(pair.mirror)}
    assert layer_digests <= served
    from_origin = [line for line in origin_log if line.startswith("GET ") and "/blobs/" in line]
    assert not any(d in line for line in from_origin for d in layer_digests)
    for name, data in pair.files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_tampered_mirror_blob_falls_back_to_the_origin(pair: Pair, tmp_path: Path) -> None:
    title, digest = pair.layers()[0]
    _tamper(pair.mirror, digest)
    origin_before = len(pair.origin.request_log())
    result = _pull(pair, tmp_path / "out", "--format", "json")
    assert result.exit_code == 0, result.output
    stderr = result.stderr
    assert (
        f"warning: mirror {pair.mirror.host} failed for blob {digest} [pull_digest_mismatch]"
        in stderr
    )
    assert stderr.count("warning: mirror") == 1
    assert f"GET /v2/{REPO}/blobs/{digest}" in pair.origin.request_log()[origin_before:]
    assert json.loads(result.stdout)["digest"] == pair.digest
    for name, data in pair.files.items():
        assert (tmp_path / "out" / name).read_bytes() == data, name
    assert title


def test_tampered_everywhere_fails_with_digest_mismatch_and_caches_nothing(
    pair: Pair, tmp_path: Path
) -> None:
    _, digest = pair.layers()[0]
    _tamper(pair.mirror, digest)
    _tamper(pair.origin, digest)
    project = tmp_path / "proj"
    project.mkdir()
    result = run_floe("init", f"--platform={TAG}", "--registry", pair.origin.ref(REPO),
                      "--key", str(pair.pub), cwd=project)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "pull_digest_mismatch" in result.output
    assert "warning: mirror" in result.stderr  # the mirror was tried first
    assert not (project / "floe.yaml").exists()
    cached = [p for p in files_under(project) if "/blobs/" in p or p.endswith(".lock")]
    assert cached == []
    pulled = _pull(pair, tmp_path / "out")
    assert pulled.exit_code == 1 and "pull_digest_mismatch" in pulled.output
    assert not (tmp_path / "out").exists()


def test_a_mirror_that_is_down_falls_back_and_is_asked_once(pair: Pair, tmp_path: Path) -> None:
    pair.mirror.stop()
    result = _pull(pair, tmp_path / "out")
    assert result.exit_code == 0, result.output
    stderr = result.stderr
    assert f"warning: mirror {pair.mirror.host} failed" in stderr
    assert "[registry_unreachable]" in stderr
    assert stderr.count("warning: mirror") == 1  # a dead mirror is not asked again
    for name, data in pair.files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_mirror_whose_tag_moved_is_not_believed(pair: Pair, tmp_path: Path) -> None:
    """The mirror's v1.2.3 names another (unsigned) build: the origin's digest wins."""
    other = publish(pair.mirror.ref(REPO), make_tree("1.2.3", name="forged-platform"))
    assert other != pair.digest
    result = _pull(pair, tmp_path / "out", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["digest"] == pair.digest
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert manifest["metadata"]["name"] == "acme-data-platform"


def test_a_mirror_missing_a_blob_is_a_warning_and_the_origin_serves_it(
    pair: Pair, tmp_path: Path
) -> None:
    _, digest = pair.layers()[1]
    pair.mirror.blob_path(digest).unlink()
    result = _pull(pair, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert f"failed for blob {digest}" in result.stderr
    assert f"GET /v2/{REPO}/blobs/{digest}" in pair.origin.request_log()


def test_writes_never_go_to_a_mirror(pair: Pair, tmp_path: Path) -> None:
    before = len(_writes(pair.mirror))
    signer, _ = make_signer(tmp_path / "k2", "second")
    publish(pair.origin.ref(REPO), make_tree("1.3.0"), signer=signer)
    result = run_floe("platform", "copy", pair.ref(), pair.origin.ref("acme/copy", TAG))
    assert result.exit_code == 0, result.output
    assert _writes(pair.mirror)[before:] == []
    assert RemoteTarget(pair.origin.host, "acme/copy").resolve(TAG).digest == pair.digest


def test_mirror_settings_are_checked(pair: Pair) -> None:
    pair.settings.write_text(f'[registry."{pair.origin.host}"]\nmirrors = "{pair.mirror.host}"\n')
    result = run_floe("platform", "inspect", pair.ref())
    assert result.exit_code == 2
    assert "registry_settings_invalid" in result.output and "mirrors" in result.output


def test_the_origin_credentials_never_reach_a_mirror(
    basic_auth_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile mirror asks for Basic credentials: the command's -u/-p are the origin's."""
    from hostile_registry import HostileRegistry, error_reply

    origin = basic_auth_registry
    publish(origin.ref(REPO), make_tree("1.2.3"), options=origin.options())
    mirror = HostileRegistry()
    try:
        challenge = {"WWW-Authenticate": 'Basic realm="mirror"'}
        mirror.script(None, r".*", error_reply(401, "UNAUTHORIZED", "log in", **challenge))
        settings = tmp_path / "registries.toml"
        settings.write_text(f'[registry."{origin.host}"]\nmirrors = ["{mirror.host}"]\n')
        monkeypatch.setenv("FLOE_REGISTRIES_CONFIG", str(settings))
        password = origin.password or ""
        result = run_floe("platform", "pull", origin.ref(REPO, TAG), "--out", str(tmp_path / "o"),
                          "-u", "floe", "-p", password)  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"mirror {mirror.host} failed" in result.stderr
        assert "[registry_auth_failed]" in result.stderr
        assert mirror.seen(), "the mirror was asked first"
        assert all("Authorization" not in req.headers for req in mirror.requests)
        assert password not in result.output
    finally:
        mirror.close()


def test_a_tampered_manifest_by_digest_and_signature_fall_back(pair: Pair, tmp_path: Path) -> None:
    """Pinned by digest, the manifest itself comes from the mirror (verified); so do the
    signature manifests the origin's referrers list names. Both tampered: both refused."""
    origin = RemoteTarget(pair.origin.host, REPO, pair.origin.options(use_settings=False))
    root = origin.resolve(pair.digest)
    signatures = origin.referrers(root)
    assert signatures, "the fixture signs the artifact"
    _tamper(pair.mirror, pair.digest)
    _tamper(pair.mirror, signatures[0].digest)
    pinned = pair.origin.ref(REPO) + "@" + pair.digest
    result = run_floe("platform", "pull", pinned, "--out", str(tmp_path / "out"), "--key",
                      str(pair.pub), "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"failed for manifest {pair.digest} [pull_digest_mismatch]" in result.stderr
    assert json.loads(result.stdout)["verified"]
    for name, data in pair.files.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_tampered_signature_on_the_mirror_falls_back_and_still_verifies(
    pair: Pair, tmp_path: Path
) -> None:
    origin = RemoteTarget(pair.origin.host, REPO, pair.origin.options(use_settings=False))
    signature = origin.referrers(origin.resolve(pair.digest))[0]
    _tamper(pair.mirror, signature.digest)
    result = _pull(pair, tmp_path / "out", "--format", "json")
    assert result.exit_code == 0, result.output
    assert f"failed for content {signature.digest} [pull_digest_mismatch]" in result.stderr
    assert json.loads(result.stdout)["verified"]
    assert f"GET /v2/{REPO}/manifests/{signature.digest}" in pair.origin.request_log()
