"""`floe login | logout` as library calls: check credentials against the registry, then
store them in the docker config (or remove them)."""

from __future__ import annotations

from pathlib import Path

from floe.oci.auth import Credentials, erase_credentials, store_credentials
from floe.oci.options import RegistryOptions


def login(host: str, username: str, password: str, options: RegistryOptions) -> Path:
    """Ping `host` with the credentials (a refusal raises), then store them; returns the
    docker config file written. `options` carries TLS settings; the credentials are added."""
    from dataclasses import replace

    from floe.oci.remote import ping

    checked = replace(options, username=username, password=password)
    ping(host, checked)
    return store_credentials(host, Credentials(username, password), checked)


def logout(host: str, docker_config: Path | None = None) -> bool:
    """Remove the stored credentials for `host`; False when there were none."""
    return erase_credentials(host, RegistryOptions(docker_config=docker_config))
