"""artifacts.lock and floe.yaml: deterministic bytes, strict reading, surgical writes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from floe.errors import UsageError
from floe.project.floe_yaml import (
    PlatformSpec,
    SecuritySpec,
    parse_floe_yaml,
    read_floe_yaml,
    write_floe_yaml,
)
from floe.release.lockfile import Lock, LockedFile, LockedPlatform, dumps, read_lock, write_lock

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64


def _locked(signer: str | None = "SHA256:abc") -> LockedPlatform:
    return LockedPlatform(
        ref="oci://127.0.0.1:5000/floe-platform:v1.2.3",
        constraint="v1.2.*",
        version="v1.2.3",
        tag="v1.2.3",
        manifest_digest=DIGEST_A,
        content_digest=DIGEST_B,
        name="acme-data-platform",
        signer=signer,
        files=(
            LockedFile("policies/quality-gates.json", DIGEST_B, 10),
            LockedFile("manifest.json", DIGEST_A, 20),
        ),
    )


def test_lock_round_trips_and_is_deterministic(tmp_path: Path) -> None:
    lock = Lock((_locked(),))
    path = tmp_path / "artifacts.lock"
    write_lock(path, lock)
    first = path.read_bytes()
    again = read_lock(path)
    assert again is not None
    assert again.platform.signer == "SHA256:abc"
    assert [f.path for f in again.platform.files] == [
        "manifest.json",
        "policies/quality-gates.json",
    ]
    write_lock(path, again)
    assert path.read_bytes() == first
    doc = tomllib.loads(first.decode())
    assert doc["lock_version"] == 1
    scalars = [k for k in doc["platform"][0] if k != "files"]
    assert scalars == sorted(scalars)
    assert b"created" not in first and b"time" not in first


def test_unsigned_lock_omits_signer(tmp_path: Path) -> None:
    data = dumps(Lock((_locked(signer=None),)))
    assert b"signer" not in data
    path = tmp_path / "a.lock"
    path.write_bytes(data)
    lock = read_lock(path)
    assert lock is not None and lock.platform.signer is None


def test_missing_lock_is_none_and_broken_lock_is_usage_error(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "none.lock") is None
    bad = tmp_path / "bad.lock"
    bad.write_text("lock_version = 1\n[[platform]]\nref = 3\n")
    with pytest.raises(UsageError) as info:
        read_lock(bad)
    assert info.value.slug == "lock_invalid"
    bad.write_text("not toml = = =")
    with pytest.raises(UsageError):
        read_lock(bad)


EXISTING = """\
# Customer 360 -- owned by the analytics team
name: customer-360   # shown in reports

platform:
  ref: oci://old.example.com/floe-platform:v1.0.0  # old registry
  version: "v1.*.*"

# who we trust
security:
  require_signed_artifacts: true
"""


def test_floe_yaml_write_changes_only_the_platform_block(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(EXISTING)
    created = write_floe_yaml(
        path,
        PlatformSpec(ref="oci://127.0.0.1:5000/floe-platform:v1.2.3", version=">=1.2,<2"),
        None,
    )
    assert created is False
    text = path.read_text()
    assert text == EXISTING.replace(
        '  ref: oci://old.example.com/floe-platform:v1.0.0  # old registry\n  version: "v1.*.*"\n',
        '  ref: oci://127.0.0.1:5000/floe-platform:v1.2.3\n  version: ">=1.2,<2"\n',
    )
    config = read_floe_yaml(path)
    assert config is not None and config.platform is not None
    assert config.platform.version == ">=1.2,<2"
    assert config.name == "customer-360"


def test_floe_yaml_new_file_and_security_block(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    security = SecuritySpec(require_signed_artifacts=True, trusted_keys=["keys/cosign.pub"])
    assert write_floe_yaml(
        path, PlatformSpec(ref="oci-layout://reg:v1.2.3", version="v1.2.*"), security
    )
    config = read_floe_yaml(path)
    assert config is not None and config.security is not None
    assert config.security.trusted_keys == ["keys/cosign.pub"]
    assert config.platform == PlatformSpec(ref="oci-layout://reg:v1.2.3", version="v1.2.*")


def test_floe_yaml_appends_platform_block_when_missing(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text("name: x  # keep me")
    write_floe_yaml(path, PlatformSpec(ref="oci://h/r:v1.0.0", version="^1"), None)
    assert path.read_text().startswith("name: x  # keep me\nplatform:\n")


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("platfrom:\n  ref: x\n", "floe.yaml:1", "did you mean 'platform'"),
        ("name: a\nplatform:\n  ref: x\n  versoin: y\n", "floe.yaml:4", "did you mean 'version'"),
        ("security:\n  require_signed_artifacts: maybe\n", "floe.yaml:2", "valid boolean"),
        ("platform: [\n", "floe.yaml", "not valid YAML"),
        ("- a\n", "floe.yaml:1", "mapping"),
    ],
)
def test_floe_yaml_errors_name_file_and_line(text: str, where: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_floe_yaml(text, Path("floe.yaml"))
    assert info.value.slug == "floe_yaml_invalid"
    assert where in info.value.message
    assert says in info.value.message
