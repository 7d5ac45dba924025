"""The trust-policy shapes (who may sign): used by the tree contract, floe.yaml and trust.

Pydantic only, no cryptography: parsing a policy must stay cheap.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrustedIdentity(_Strict):
    issuer: str
    subject: str | None = None
    subject_regex: str | None = None


class TrustPolicy(_Strict):
    require_signed_artifacts: bool = False
    trusted_keys: list[str] = Field(default_factory=list)  # PEM public keys, inlined at compile
    trusted_identities: list[TrustedIdentity] = Field(default_factory=list)
