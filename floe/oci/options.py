"""How to reach a registry: TLS, auth and retry settings shared by every remote call."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RegistryOptions:
    plain_http: bool | None = None  # None: automatic (plain HTTP for loopback hosts only)
    insecure: bool = False  # skip TLS verification
    ca_file: Path | None = None
    username: str | None = None  # else FLOE_REGISTRY_USERNAME, else docker config
    password: str | None = None
    docker_config: Path | None = None  # else $DOCKER_CONFIG/config.json or ~/.docker/config.json
    retry_budget_seconds: float = 20.0  # bounded total time spent retrying one request
    timeout_seconds: float = 15.0  # connect / between-bytes read timeout of one attempt
    concurrency: int = 8  # parallel blob transfers
    offline: bool = False  # refuse any network access (lockfile-only operation)
