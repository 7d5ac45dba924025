"""SLSA v1 provenance for a published platform artifact, attached as a signed DSSE referrer."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from floe import __version__
from floe.oci.target import Descriptor, Target
from floe.signing import dsse
from floe.signing.keys import Signer

SLSA_PREDICATE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://floe.dev/platform-compile/v1"


def build_statement(
    subject_name: str,
    manifest_digest: str,
    *,
    source_manifest: str,
    version: str,
    inputs: Mapping[str, bytes | Path],
    builder_version: str = __version__,
    internal_parameters: Mapping[str, Any] | None = None,
) -> bytes:
    """An in-toto v1 statement with a SLSA v1 predicate describing `floe platform compile`.

    `inputs` maps a path (relative to the project, as shown to people) to the file's
    bytes or its location on disk; each becomes a resolved dependency with its sha256.
    Deterministic: no timestamps, dependencies sorted by path.
    """
    dependencies = [
        {"uri": f"file:{path}", "digest": {"sha256": _sha256(content)}}
        for path, content in sorted(inputs.items())
    ]
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {"manifest": source_manifest, "version": version},
            "internalParameters": dict(internal_parameters or {}),
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": f"https://floe.dev/floe@{builder_version}"},
            "metadata": {},
        },
    }
    return dsse.statement(subject_name, manifest_digest, SLSA_PREDICATE, predicate)


def attach_provenance(
    target: Target, manifest: Descriptor, signer: Signer, statement: bytes
) -> Descriptor:
    """Sign `statement` (DSSE) and push it as a bundle referrer of `manifest`."""
    from floe.signing.sign import attach_dsse_bundle

    return attach_dsse_bundle(target, manifest, signer, statement, SLSA_PREDICATE)


def _sha256(content: bytes | Path) -> str:
    data = content.read_bytes() if isinstance(content, Path) else content
    return hashlib.sha256(data).hexdigest()
