"""`floe platform publish --attest`: signed SLSA v1 provenance that matches the published tree."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import floe
from floe.oci.resolve import open_target
from floe.oci.target import Target

pytestmark = pytest.mark.registry

SLSA = "https://slsa.dev/provenance/v1"
MANIFEST = """\
apiVersion: floe.dev/v1
kind: Manifest
metadata:
  name: attested
  version: "1.2.3"
{created}
plugins:
  compute:
    type: duckdb
  orchestrator:
    type: dagster
  catalog:
    type: polaris

data_architecture:
  pattern: medallion
  naming:
    enforcement: strict

governance:
  classification:
    from: ../../policies/attested/classification.yaml
  access_control:
    from: ../../policies/attested/access-control.yaml
  quality_gates:
    minimum_test_coverage: 80

security:
  require_signed_artifacts: true
  trusted_keys: [keys/cosign.pub]
"""
CLASSIFICATION = "levels: [public, internal, pii]\ndefault_level: internal\n"
ACCESS = "roles: [analyst, engineer]\npermissions:\n  analyst: [select]\n"
MATERIALS = (
    "manifests/attested/keys/cosign.pub",
    "manifests/attested/manifest.yaml",
    "policies/attested/access-control.yaml",
    "policies/attested/classification.yaml",
)


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A platform repo: manifest with `from:` policy files and a trusted key file, a key pair."""
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "correct horse")
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    root = tmp_path / "repo"
    (root / "manifests" / "attested" / "keys").mkdir(parents=True)
    (root / "policies" / "attested").mkdir(parents=True)
    created = '  created: "2026-03-01T12:00:00Z"\n'
    (root / "manifests" / "attested" / "manifest.yaml").write_text(MANIFEST.format(created=created))
    (root / "policies" / "attested" / "classification.yaml").write_text(CLASSIFICATION)
    (root / "policies" / "attested" / "access-control.yaml").write_text(ACCESS)
    ok(run_floe("platform", "keygen", cwd=root))
    (root / "manifests" / "attested" / "keys" / "cosign.pub").write_bytes(
        (root / "cosign.pub").read_bytes()
    )
    ok(run_floe("platform", "compile", cwd=root))
    return root


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def floe_json(*args: str, cwd: Path, code: int = 0) -> Any:
    result = run_floe(*args, "--format", "json", cwd=cwd)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def registry_ref(kind: str, registry: Any, repo_name: str, root: Path) -> str:
    if kind == "layout":
        return f"oci-layout://{root / 'reg'}"
    return str(registry.ref(repo_name))


def target_of(ref: str, registry: Any) -> Target:
    options = registry.options() if ref.startswith("oci://") else None
    return open_target(ref, options)[0]


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def attestations(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in info["referrers"] if "attestation" in r]


def verify_dsse_with_cryptography(raw_bundle: bytes, public_pem: bytes) -> dict[str, Any]:
    """Check the DSSE signature over PAE with only `cryptography`; returns the statement."""
    envelope = json.loads(raw_bundle)["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    payload_type = envelope["payloadType"].encode()
    pae = b"DSSEv1 %d %b %d %b" % (len(payload_type), payload_type, len(payload), payload)
    key = serialization.load_pem_public_key(public_pem)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    key.verify(signature, pae, ec.ECDSA(hashes.SHA256()))  # raises InvalidSignature
    statement: dict[str, Any] = json.loads(payload)
    return statement


def bundle_bytes(target: Target, referrer_digest: str) -> bytes:
    from floe.oci.target import Descriptor

    layer = json.loads(target.fetch_bytes(target.resolve(referrer_digest)))["layers"][0]
    return target.fetch_bytes(Descriptor.from_json(layer))


@pytest.mark.parametrize("kind", ["layout", "registry"])
def test_publish_attest_inspect_shows_materials_and_dsse_verifies(
    kind: str, source: Path, registry: Any, repo_name: str
) -> None:
    ref = registry_ref(kind, registry, repo_name, source)
    published = floe_json(
        "platform", "publish", "v1.2.3", "--registry", ref, "--key", "cosign.key", "--attest",
        cwd=source,
    )  # fmt: skip
    assert published["attestation"].startswith("sha256:")
    assert len(published["signatures"]) == 2

    info = floe_json("platform", "inspect", f"{ref}:v1.2.3", cwd=source)
    [referrer] = attestations(info)
    assert referrer["digest"] == published["attestation"]
    claims = referrer["attestation"]
    assert claims["predicate_type"] == SLSA
    assert claims["builder"] == f"https://floe.dev/floe@{floe.__version__}"
    assert claims["subject"] == [published["digest"]]
    assert claims["external_parameters"] == {
        "manifest": "manifests/attested/manifest.yaml",
        "version": "v1.2.3",
    }
    expected = [
        {"uri": f"file:{p}", "digest": {"sha256": sha256_file(source / p)}} for p in MATERIALS
    ]
    assert claims["materials"] == expected

    text = ok(run_floe("platform", "inspect", f"{ref}:v1.2.3", cwd=source)).stdout
    assert f"attestation:  {SLSA}" in text
    for path in MATERIALS:
        assert f"file:{path}  sha256:{sha256_file(source / path)}" in text

    raw = bundle_bytes(target_of(ref, registry), published["attestation"])
    statement = verify_dsse_with_cryptography(raw, (source / "cosign.pub").read_bytes())
    assert statement["predicateType"] == SLSA
    assert statement["subject"][0]["digest"] == {"sha256": published["digest"].split(":")[1]}
    definition = statement["predicate"]["buildDefinition"]
    assert definition["internalParameters"] == {"contentDigest": published["content_digest"]}
    assert "timestamp" not in json.dumps(statement).lower()  # reproducible: no clock

    verified = floe_json("platform", "verify", f"{ref}:v1.2.3", "--key", "cosign.pub", cwd=source)
    kinds = sorted(s["format"] for s in verified["signatures"])
    assert kinds == ["attestation", "bundle", "legacy"]
    [att] = [s for s in verified["signatures"] if s["format"] == "attestation"]
    assert att["passed"] and att["predicate_type"] == SLSA


def test_attestation_is_reproducible_and_not_a_signature(source: Path) -> None:
    args = ("platform", "publish", "v1.2.3", "--key", "cosign.key", "--attest")
    first = floe_json(*args, "--registry", "oci-layout://one", cwd=source)
    second = floe_json(*args, "--registry", "oci-layout://one", cwd=source)
    assert first["attestation"] == second["attestation"]  # no clock, deterministic ECDSA
    info = floe_json("platform", "inspect", "oci-layout://one:v1.2.3", cwd=source)
    assert len(attestations(info)) == 1

    # Only the provenance referrer on an artifact: it is listed but does not sign it.
    from floe.oci.copy import copy_graph
    from floe.oci.layout import LayoutTarget

    one, bare = LayoutTarget(source / "one"), LayoutTarget(source / "bare")
    root = one.resolve("v1.2.3")
    copy_graph(one, bare, root, tag="v1.2.3")
    att = one.resolve(first["attestation"])
    copy_graph(one, bare, att, tag=None)
    result = run_floe(
        "platform", "verify", "oci-layout://bare:v1.2.3", "--key", "cosign.pub", cwd=source
    )
    assert result.exit_code == 1
    assert "signature_missing" in result.stderr
    assert "attestation" in result.stdout and "not a signature" in result.stdout


@pytest.mark.parametrize("kind", ["layout", "registry"])
def test_tree_not_built_from_source_is_refused_and_nothing_pushed(
    kind: str, source: Path, registry: Any, repo_name: str
) -> None:
    ref = registry_ref(kind, registry, repo_name, source)
    policy = source / "policies" / "attested" / "classification.yaml"
    policy.write_text(CLASSIFICATION.replace("pii", "phi"))  # edited after compile
    result = run_floe(
        "platform", "publish", "v1.2.3", "--registry", ref, "--key", "cosign.key", "--attest",
        "--format", "json", cwd=source,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)
    assert error["event"] == "attest_source_mismatch"
    assert "floe platform compile" in error["hint"]
    if kind == "layout":
        assert not (source / "reg").exists()
    else:
        assert target_of(ref, registry).tags() == []


def test_manifest_json_difference_is_a_mismatch(source: Path) -> None:
    """The content digest excludes manifest.json; the check still covers it (e.g. keys)."""
    other = source / "manifests" / "attested" / "keys" / "cosign.pub"
    ok(run_floe("platform", "keygen", "--output-key-prefix", "other", cwd=source))
    other.write_bytes((source / "other.pub").read_bytes())
    result = run_floe(
        "platform", "publish", "v1.2.3", "--registry", "oci-layout://reg", "--key", "cosign.key",
        "--attest", cwd=source,
    )  # fmt: skip
    assert result.exit_code == 2
    assert "attest_source_mismatch" in result.stderr and "manifest.json" in result.stderr
    assert not (source / "reg").exists()


def test_explicit_source_and_created_from_source_date_epoch(source: Path) -> None:
    manifest = source / "manifests" / "attested" / "manifest.yaml"
    elsewhere = source / "elsewhere"
    elsewhere.mkdir()
    manifest.write_text(MANIFEST.format(created=""))  # `created` from SOURCE_DATE_EPOCH
    env = {"SOURCE_DATE_EPOCH": "1767225600"}
    ok(run_floe("platform", "compile", str(manifest), "--out", "art", cwd=elsewhere, env=env))
    published = floe_json(
        "platform", "publish", "v1.2.3", "--artifacts", "art", "--registry", "oci-layout://reg",
        "--key", "../cosign.key", "--attest", "--source", str(manifest), cwd=elsewhere,
    )  # fmt: skip
    info = floe_json("platform", "inspect", "oci-layout://reg:v1.2.3", cwd=elsewhere)
    [referrer] = attestations(info)
    assert referrer["digest"] == published["attestation"]
    claims = referrer["attestation"]
    assert claims["external_parameters"]["manifest"] == "../manifests/attested/manifest.yaml"
    assert {m["uri"] for m in claims["materials"]} == {f"file:../{p}" for p in MATERIALS}


def test_attest_needs_a_signer_and_a_manifest(source: Path) -> None:
    result = run_floe("platform", "publish", "v1.2.3", "--attest", cwd=source)
    assert result.exit_code == 2
    assert "attest_requires_signing" in result.stderr
    unused = run_floe("platform", "publish", "v1.2.3", "--source", "x.yaml", cwd=source)
    assert unused.exit_code == 2 and "attest_source_unused" in unused.stderr
    (source / "manifests" / "second").mkdir()
    (source / "manifests" / "second" / "manifest.yaml").write_text("{}\n")
    ambiguous = run_floe(
        "platform", "publish", "v1.2.3", "--key", "cosign.key", "--attest", cwd=source
    )
    assert ambiguous.exit_code == 2 and "manifest_ambiguous" in ambiguous.stderr
    assert not (source.parent / "home" / "registry").exists()
