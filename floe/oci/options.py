"""How to reach a registry: TLS, auth, retry and deadline settings shared by every remote call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from floe.oci.deadline import DEFAULT_TIMEOUT, Deadline


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
    timeout: float = DEFAULT_TIMEOUT  # all network work of one command (`--timeout`)
    # The running deadline (started by the first request); copies made with
    # dataclasses.replace share it, so one command has one deadline.
    deadline: Deadline | None = field(default=None, compare=False, repr=False)
    # Where warnings go (`--insecure`, a mirror that failed); the CLI prints each once.
    warn: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    # `--debug`: one line per HTTP request (method, redacted URL, status, time).
    trace: Callable[[str], None] | None = field(default=None, compare=False, repr=False)
    use_settings: bool = True  # apply the registries.toml entry of each host (floe.oci.settings)

    def __post_init__(self) -> None:
        if self.deadline is None or self.deadline.seconds != float(self.timeout):
            object.__setattr__(self, "deadline", Deadline(self.timeout))

    @property
    def tls_given(self) -> bool:
        """True when the caller chose the TLS settings itself (a flag: they win over the file)."""
        return self.plain_http is not None or self.insecure or self.ca_file is not None

    def notify(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)

    @property
    def network_deadline(self) -> Deadline:
        assert self.deadline is not None  # set by __post_init__
        return self.deadline
