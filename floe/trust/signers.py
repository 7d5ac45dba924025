"""The signers a project accepted, as the lock records them, and what trust reads of a lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LockedSigner:
    """A signer the project accepted: a key (fingerprint + PEM) or a keyless identity."""

    fingerprint: str | None = None  # sha256:<hex> of the key's PKIX DER
    public_key: str | None = None  # the PEM, so continuity never depends on the artifact
    issuer: str | None = None
    subject: str | None = None

    @property
    def name(self) -> str:
        return self.fingerprint or f"{self.issuer}={self.subject}"

    def to_toml(self) -> dict[str, str]:
        out = {
            "fingerprint": self.fingerprint,
            "public_key": self.public_key,
            "issuer": self.issuer,
            "subject": self.subject,
        }
        return {k: v for k, v in sorted(out.items()) if v is not None}


class LockedTrust(Protocol):
    """What the trust decision reads of a lock entry (floe.release.lockfile.LockedPlatform)."""

    @property
    def version(self) -> str: ...

    @property
    def signer(self) -> str | None: ...

    @property
    def signers(self) -> tuple[LockedSigner, ...]: ...
