"""Signing mechanisms: cosign-compatible keys and signatures, keyless via sigstore.

The trust decision itself (whom to believe) is `floe.trust.decide`.

Public API (others call these): `load_signer`, `sign_artifact`, `verify_artifact`,
`merge_policies`, `attach_provenance`, `build_statement`, `docker_reference_for`.
They are imported on first use (PEP 562), so importing a light submodule such as
`floe.signing.trust_policy` or `floe.signing.lookup` does not load cryptography.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floe.signing.keys import Signer, load_signer
    from floe.signing.policy import merge_policies
    from floe.signing.provenance import attach_provenance, build_statement
    from floe.signing.sign import docker_reference_for, sign_artifact, sign_keyless
    from floe.signing.verify import (
        SignatureCheck,
        VerificationReport,
        check_artifact,
        verify_artifact,
    )

_HOMES = {
    "Signer": "keys",
    "load_signer": "keys",
    "merge_policies": "policy",
    "attach_provenance": "provenance",
    "build_statement": "provenance",
    "docker_reference_for": "sign",
    "sign_artifact": "sign",
    "sign_keyless": "sign",
    "SignatureCheck": "verify",
    "VerificationReport": "verify",
    "check_artifact": "verify",
    "verify_artifact": "verify",
}

__all__ = [
    "SignatureCheck",
    "Signer",
    "VerificationReport",
    "attach_provenance",
    "build_statement",
    "check_artifact",
    "docker_reference_for",
    "load_signer",
    "merge_policies",
    "sign_artifact",
    "sign_keyless",
    "verify_artifact",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'floe.signing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"floe.signing.{home}"), name)
    globals()[name] = value
    return value
