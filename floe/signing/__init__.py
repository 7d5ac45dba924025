"""Signing mechanisms: cosign-compatible keys and signatures, keyless via sigstore.

The trust decision itself (whom to believe) is `floe.trust.decide`.

Public API (others call these): `load_signer`, `sign_artifact`, `verify_artifact`,
`merge_policies`, `attach_provenance`, `build_statement`, `docker_reference_for`.
"""

from __future__ import annotations

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
