"""Helpers for the data-team lifecycle tests: platform trees, publishing, project state."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from oci_helpers import write_tree

from floe.tree import model as t

__all__ = ["write_tree"]  # the one write_tree of the tests (oci_helpers)

FLOE_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "floe"


def make_tree(
    version: str = "1.2.3",
    *,
    name: str = "acme-data-platform",
    security: dict[str, Any] | None = None,
    min_coverage: float = 80,
    permissions: dict[str, list[str]] | None = None,
) -> dict[str, bytes]:
    """A complete compiled platform tree, in memory (the shapes of floe/tree/model.py)."""
    files: dict[str, bytes] = {
        t.CLASSIFICATION_FILE: t.model_bytes(
            t.Classification(levels=["public", "internal", "confidential", "pii", "phi"])
        ),
        t.ACCESS_CONTROL_FILE: t.model_bytes(
            t.AccessControl(
                roles=["data_engineer", "analyst", "admin"], permissions=permissions or {}
            )
        ),
        t.QUALITY_GATES_FILE: t.model_bytes(
            t.QualityGates(
                minimum_test_coverage=min_coverage,
                required_tests=["not_null", "unique"],
                block_on_failure=True,
            )
        ),
        t.NAMESPACES_FILE: t.model_bytes(t.Namespaces(namespaces=["bronze", "silver", "gold"])),
        t.SCHEMA_REGISTRY_FILE: t.model_bytes(t.SchemaRegistry()),
        t.NAMING_RULES_FILE: t.model_bytes(
            t.NamingRules(
                pattern="medallion",
                enforcement="strict",
                prefixes={"bronze": "bronze_", "silver": "silver_", "gold": "gold_"},
            )
        ),
        t.LAYER_CONSTRAINTS_FILE: t.model_bytes(
            t.LayerConstraints(layers={"gold": t.LayerConstraint(required_tests=["not_null_pk"])})
        ),
    }
    manifest = t.PlatformManifest(
        metadata=t.ArtifactMetadata(
            name=name,
            version=version,
            created="2024-01-15T10:30:00Z",
            digest=t.content_digest(files),
        ),
        plugins={"compute": "duckdb", "orchestrator": "dagster", "catalog": "polaris"},
        security=t.TrustPolicy.model_validate(security or {}),
    )
    files[t.MANIFEST_FILE] = t.model_bytes(manifest)
    return files


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_under(root: Path) -> list[str]:
    """Every file and folder under root (relative, sorted); [] when root does not exist."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def force_writable(path: Path) -> None:
    """Make a read-only cached file editable (tests hand-edit the cache)."""
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


def install_state(
    project: Path,
    files: dict[str, bytes],
    *,
    ref: str = "oci://127.0.0.1:5000/floe-platform:v1.2.3",
    constraint: str = "v1.2.*",
) -> Path:
    """A project as `floe init` leaves it (floe.yaml, lock, read-only tree), without a registry.

    For tests of readers (`load_verified_platform`, `floe compile`); returns the tree folder.
    """
    from floe.project.floe_yaml import PlatformSpec, write_floe_yaml
    from floe.release.cache import ProjectPaths, install_dir, locked_files, new_temp_dir
    from floe.release.lockfile import Lock, LockedPlatform, write_lock
    from floe.tree.model import parse_tree

    tree = parse_tree(files)
    version = "v" + tree.manifest.metadata.version
    paths = ProjectPaths(project)
    built = new_temp_dir(paths.platform_dir)
    write_tree(built, files)
    install_dir(built, paths.version_dir(version))
    write_floe_yaml(paths.floe_yaml, PlatformSpec(ref=ref, version=constraint), None)
    locked = LockedPlatform(
        ref=ref,
        constraint=constraint,
        version=version,
        tag=version,
        manifest_digest=sha256(b"not a real manifest " + version.encode()),
        content_digest=tree.manifest.metadata.digest,
        name=tree.manifest.metadata.name,
        files=locked_files(files),
    )
    write_lock(paths.lock_file, Lock((locked,)))
    return paths.version_dir(version)


def publish(
    ref: str,
    files: dict[str, bytes],
    *,
    tag: str | None = None,
    signer: Any = None,
    options: Any = None,
) -> str:
    """Publish a tree with floe.artifact.publish (what `floe platform publish` runs), then
    sign it as `floe platform sign` does; returns its digest.

    Moves an existing tag (drift tests publish over a tag), and signs after publishing so a
    test can play a signer the tree does not list (publish itself refuses that signer).
    """
    from floe.artifact.publish import PublishRequest
    from floe.artifact.publish import publish as publish_tree

    version = "v" + t.parse_tree(files).manifest.metadata.version
    request = PublishRequest(
        files, version, registry=ref, force=True, allow_unsigned=True, tag=tag, options=options
    )
    result = publish_tree(request)
    if signer is not None:
        from floe.oci.resolve import target_for
        from floe.signing.sign import docker_reference_for, sign_artifact

        target = target_for(result.reference, options)
        root = target.resolve(result.digest)
        sign_artifact(target, root, signer, docker_reference_for(result.reference))
    return result.digest


def make_signer(folder: Path, name: str = "cosign") -> tuple[Any, Path]:
    """A fresh signing key in memory and its cosign.pub on disk."""
    from floe.signing.keys import Signer, generate_private_key, public_key_pem

    signer = Signer(generate_private_key())
    folder.mkdir(parents=True, exist_ok=True)
    pub = folder / f"{name}.pub"
    pub.write_bytes(public_key_pem(signer.public_key))
    return signer, pub


def signed_project(tmp_path: Path, monkeypatch: Any) -> tuple[Path, Path]:
    """A project initialised on a signed v1.2.3 (its key pinned): (project, its oci cache)."""
    from conftest import run_floe

    from floe.release.lockfile import read_lock

    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    signer, pub = make_signer(tmp_path / "keys")
    registry = f"oci-layout://{tmp_path / 'registry'}"
    publish(registry, make_tree("1.2.3"), signer=signer)
    project = tmp_path / "p"
    project.mkdir()
    result = run_floe(
        "init", "--platform=v1.2.3", "--registry", registry, "--key", str(pub), cwd=project
    )
    assert result.exit_code == 0, result.output
    lock = read_lock(project / ".floe" / "cache" / "artifacts.lock")
    assert lock is not None and lock.platform.signers
    return project, project / ".floe" / "cache" / "oci"


def tree_hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file under each root (a missing root has none): caches before/after."""
    out: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
