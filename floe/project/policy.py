"""A project's trust policy: floe.yaml's `security:` anchors plus --key / --identity."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floe.files import read_text
from floe.tree.model import TrustedIdentity, TrustPolicy

if TYPE_CHECKING:
    from floe.project.floe_yaml import FloeYaml


def _read_key(entry: str, base: Path) -> str:
    """A trusted key from floe.yaml: inline PEM, or a path relative to floe.yaml."""
    if entry.lstrip().startswith("-----BEGIN "):
        return entry
    return read_text(
        base / entry,
        slug="trusted_key_unreadable",
        what="trusted key",
        hint="list PEM public keys (cosign.pub) relative to floe.yaml",
    )


def project_policy(
    config: FloeYaml | None,
    keys: tuple[Path, ...],
    project: Path,
    identities: tuple[TrustedIdentity, ...] = (),
) -> TrustPolicy:
    """floe.yaml's `security:` plus `--key` / `--identity` (which imply signing is required)."""
    security = config.security if config is not None else None
    pems = [_read_key(entry, project) for entry in (security.trusted_keys if security else [])]
    pems += [_read_key(str(path.absolute()), project) for path in keys]
    for number, pem in enumerate(pems, start=1):
        from floe.signing.keys import load_public_key  # cryptography only for listed keys

        load_public_key(pem.encode(), source=f"floe.yaml trusted_keys[{number}]")
    require = bool(keys or identities) or bool(security and security.require_signed_artifacts)
    listed = list(security.trusted_identities) if security else []
    listed += [i for i in identities if i not in listed]
    return TrustPolicy(
        require_signed_artifacts=require, trusted_keys=pems, trusted_identities=listed
    )
