"""compile's cache check runs once per cache state: a sealed record of a passed check
(in compile's report folder) lets the next compile skip it, and any change to what the
check reads runs it again. floe.yaml likewise: validated whenever its bytes change.

Every case uses a real signed platform in an embedded registry, a real `floe init` and
the real cache; a spy on `check_cached` shows when the full check ran.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import force_writable, make_signer, signed_project

from floe.errors import GateError, UsageError
from floe.oci.layout import LayoutTarget
from floe.oci.target import SIGSTORE_BUNDLE, Descriptor
from floe.project.lifecycle import FLOE_YAML_CHECKED, TRUST_CHECKED, load_verified_platform
from floe.project.sealed import HEADER
from floe.release.lockfile import read_lock
from floe.signing import simplesigning
from floe.signing.sign import sign_artifact
from floe.trust import cached


def _signed_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return signed_project(tmp_path, monkeypatch)


def _out(project: Path) -> Path:
    """Where compile keeps its sealed records: its report folder."""
    return project / "target" / "floe"


class _Spy:
    """Counts full checks (and still runs them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = cached.check_cached

        def spy(*args: object, **kwargs: object) -> object:
            self.calls += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(cached, "check_cached", spy)


def _manifest(project: Path, oci: Path) -> Descriptor:
    lock = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert lock is not None and lock.platform.signers
    return LayoutTarget(oci).resolve(lock.platform.manifest_digest)


def _signature_blobs(oci: Path, manifest: Descriptor) -> list[Path]:
    """The simple-signing payload and the bundle blob of the cached signatures."""
    cache = LayoutTarget(oci)
    sig = cache.resolve(simplesigning.signature_tag(manifest.digest))
    payload = simplesigning.parse_layers(cache.fetch_bytes(sig))[0]
    referrer = next(
        r for r in cache.referrers(manifest, None) if r.artifact_type == SIGSTORE_BUNDLE
    )
    bundle = json.loads(cache.fetch_bytes(referrer))["layers"][0]["digest"]
    return [cache.blob_path(payload.digest), cache.blob_path(bundle)]


def _tamper(path: Path) -> None:
    force_writable(path)
    data = path.read_bytes()
    path.write_bytes(data[:-2] + bytes([data[-2] ^ 1]) + data[-1:])


def test_a_passed_check_is_sealed_and_the_next_load_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _ = _signed_project(tmp_path, monkeypatch)
    spy = _Spy(monkeypatch)
    record = _out(project) / TRUST_CHECKED
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert spy.calls == 1 and record.read_bytes().startswith(HEADER)
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert spy.calls == 1  # the same cache state: checked once


def test_a_tampered_cached_signature_runs_the_full_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    spy = _Spy(monkeypatch)
    load_verified_platform(project, checked_dir=_out(project))
    payload, bundle = _signature_blobs(oci, _manifest(project, oci))
    _tamper(payload)  # the legacy signature no longer reads; the bundle still passes
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert spy.calls == 2
    _tamper(bundle)  # now no signature verifies: refused, as without the record
    with pytest.raises(GateError) as info:
        load_verified_platform(project, checked_dir=_out(project))
    assert info.value.slug == "signature_invalid" and info.value.exit_code == 1
    assert spy.calls == 3
    with pytest.raises(GateError):  # and on every later load
        load_verified_platform(project, checked_dir=_out(project))


def test_a_swapped_cached_signature_is_caught_after_a_sealed_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    load_verified_platform(project, checked_dir=_out(project))
    assert (_out(project) / TRUST_CHECKED).is_file()
    # Re-signed by an intruder, the original signatures dropped from index.json.
    manifest = _manifest(project, oci)
    index = json.loads((oci / "index.json").read_bytes())
    index["manifests"] = [m for m in index["manifests"] if m["digest"] == manifest.digest]
    (oci / "index.json").write_bytes(json.dumps(index).encode())
    intruder, _ = make_signer(tmp_path / "intruder")
    sign_artifact(LayoutTarget(oci), manifest, intruder, "registry.example/x")
    with pytest.raises(GateError) as info:
        load_verified_platform(project, checked_dir=_out(project))
    assert info.value.slug == "signature_untrusted" and info.value.exit_code == 1


def test_a_forged_record_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    payload, bundle = _signature_blobs(oci, _manifest(project, oci))
    _tamper(payload)
    _tamper(bundle)
    loaded = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert loaded is not None
    locked = loaded.platform
    policy = make_security(project, locked.version)
    state = cached.cache_state(oci, locked.manifest_digest, locked, policy)
    assert state is not None
    # The tampered state, "sealed" without the user's key (a record copied or written in).
    record = _out(project) / TRUST_CHECKED
    record.parent.mkdir(parents=True)
    record.write_bytes(HEADER + b"0" * 64 + b"\n" + state.encode())
    with pytest.raises(GateError) as info:
        load_verified_platform(project, checked_dir=_out(project))
    assert info.value.slug == "signature_invalid"


def test_the_state_binds_the_lock_and_the_platform_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    loaded = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert loaded is not None
    locked = loaded.platform
    policy = make_security(project, locked.version)
    state = cached.cache_state(oci, locked.manifest_digest, locked, policy)
    assert state is not None and len(state) == 64
    assert cached.cache_state(oci, locked.manifest_digest, locked, policy) == state
    other = replace(locked, signer="sha256:" + "0" * 64)
    assert cached.cache_state(oci, locked.manifest_digest, other, policy) not in (None, state)
    wider = policy.model_copy(update={"trusted_keys": [*policy.trusted_keys, "x"]})
    assert cached.cache_state(oci, locked.manifest_digest, locked, wider) not in (None, state)
    keyless = replace(locked, signer="https://issuer=me", signers=())
    assert cached.cache_state(oci, locked.manifest_digest, keyless, policy) is None
    (oci / "index.json").write_bytes((oci / "index.json").read_bytes() + b"\n")
    assert cached.cache_state(oci, locked.manifest_digest, locked, policy) not in (None, state)


def make_security(project: Path, version: str) -> Any:
    """The platform's own `security:` block, as load_verified_platform passes it."""
    from floe.release.cache import ProjectPaths, read_verified_tree
    from floe.tree.model import load_locked_tree

    paths = ProjectPaths(project)
    loaded = read_lock(paths.lock_file)
    assert loaded is not None
    files = read_verified_tree(paths.version_dir(version), loaded.platform.files)
    return load_locked_tree(files, origin="test").manifest.security


def test_a_read_only_cache_checks_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, _ = _signed_project(tmp_path, monkeypatch)
    spy = _Spy(monkeypatch)

    def refuse(path: Path, body: bytes) -> None:
        raise OSError("read-only")

    monkeypatch.setattr("floe.project.sealed.write_sealed", refuse)
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert load_verified_platform(project, checked_dir=_out(project)).signer is not None
    assert spy.calls == 2
    assert not (_out(project) / TRUST_CHECKED).exists()


# ---- floe.yaml: validated by its model when its bytes change, sealed otherwise ----------


def test_floe_yaml_is_validated_again_whenever_its_bytes_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from floe.project import floe_yaml

    project, _ = _signed_project(tmp_path, monkeypatch)
    calls: list[Path] = []
    real = floe_yaml.parse_floe_yaml_bytes

    def spy(data: bytes, path: Path) -> floe_yaml.FloeYaml:
        calls.append(path)
        return real(data, path)

    monkeypatch.setattr(floe_yaml, "parse_floe_yaml_bytes", spy)
    load_verified_platform(project, checked_dir=_out(project))
    load_verified_platform(project, checked_dir=_out(project))
    assert len(calls) == 1 and (_out(project) / FLOE_YAML_CHECKED).is_file()
    path = project / "floe.yaml"
    text = path.read_text()
    path.write_text(text + "\nbogus_key: 1\n")  # a typo after a sealed pass
    with pytest.raises(UsageError) as info:
        load_verified_platform(project, checked_dir=_out(project))
    assert info.value.slug == "floe_yaml_invalid" and "bogus_key" in info.value.message
    assert len(calls) == 2
    path.write_text(text + "\n# a comment\n")  # other bytes, still valid
    assert load_verified_platform(project, checked_dir=_out(project)).version == "v1.2.3"
    assert len(calls) == 3


def test_a_forged_floe_yaml_record_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from floe import __version__

    project, _ = _signed_project(tmp_path, monkeypatch)
    path = project / "floe.yaml"
    path.write_text(path.read_text() + "\nbogus_key: 1\n")
    body = {
        "floe": __version__,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "ref": "oci-layout://elsewhere:v1.2.3",
        "version": "v1.2.3",
    }
    record = _out(project) / FLOE_YAML_CHECKED
    record.parent.mkdir(parents=True)
    record.write_bytes(HEADER + b"0" * 64 + b"\n" + json.dumps(body).encode())
    with pytest.raises(UsageError) as info:
        load_verified_platform(project, checked_dir=_out(project))
    assert info.value.slug == "floe_yaml_invalid"


def test_without_a_folder_nothing_is_remembered_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other readers (`floe rules`, the upgrade preview) check in full and write nothing."""
    project, _ = _signed_project(tmp_path, monkeypatch)
    spy = _Spy(monkeypatch)
    before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert load_verified_platform(project).signer is not None
    assert load_verified_platform(project).signer is not None
    assert spy.calls == 2
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == before


def test_a_failed_load_writes_no_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, oci = _signed_project(tmp_path, monkeypatch)
    for blob in _signature_blobs(oci, _manifest(project, oci)):
        _tamper(blob)
    with pytest.raises(GateError):
        load_verified_platform(project, checked_dir=_out(project))
    assert not _out(project).exists()  # not even floe.yaml's, which passed
