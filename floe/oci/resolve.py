"""Reference string -> (Target, Reference), and where the registry is when none is given.

Registry precedence: the `--registry` flag, then `FLOE_REGISTRY`, then the
configuration (platform manifest or floe.yaml `artifacts.registry`), then the
embedded default: an OCI image layout at `$FLOE_HOME/registry` (FLOE_HOME
defaults to `~/.floe`), so one machine needs nothing running.
"""

from __future__ import annotations

import os
from pathlib import Path

from floe.oci.options import RegistryOptions
from floe.oci.reference import DEFAULT_REPOSITORY, Reference, is_reference, parse_reference
from floe.oci.target import Target

REGISTRY_ENV = "FLOE_REGISTRY"
HOME_ENV = "FLOE_HOME"


def floe_home() -> Path:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else Path.home() / ".floe"


def default_registry() -> str:
    """The embedded registry: an OCI layout under $FLOE_HOME."""
    return f"oci-layout://{floe_home() / 'registry'}"


def configured_registry(flag: str | None = None, *configured: str | None) -> str:
    """The registry to use: flag, FLOE_REGISTRY, configuration values in order, default."""
    for candidate in (flag, os.environ.get(REGISTRY_ENV), *configured):
        if candidate:
            return candidate
    return default_registry()


def parse_repository(text: str) -> Reference:
    """A repository reference (no tag or digest); `oci://HOST` means HOST/floe-platform."""
    ref = parse_reference(text, default_repository=DEFAULT_REPOSITORY)
    if ref.tag or ref.digest:
        from floe.errors import UsageError

        raise UsageError(
            "reference_invalid",
            f"{text!r} names a version; a registry reference here is a repository only",
            hint=f"use {ref.repository_ref()}",
        )
    return ref


def expand_reference(text: str, registry: str | None = None) -> Reference:
    """A full reference, or a bare tag/digest (`v1.2.3`) in the configured registry."""
    if is_reference(text):
        return parse_reference(text, default_repository=DEFAULT_REPOSITORY)
    base = parse_repository(configured_registry(registry))
    if text.startswith("sha256:"):
        return parse_reference(f"{base}@{text}")
    return parse_reference(f"{base}:{text}")


def target_for(ref: Reference, options: RegistryOptions | None = None) -> Target:
    if ref.is_layout:
        from floe.oci.layout import LayoutTarget

        return LayoutTarget(Path(ref.path))
    from floe.oci.mirror import with_mirrors
    from floe.oci.remote import RemoteTarget
    from floe.oci.settings import mirrors_of

    options = options or RegistryOptions()
    origin = RemoteTarget(ref.host, ref.repository, options)
    return with_mirrors(origin, mirrors_of(ref.host, options))  # registries.toml mirrors


def open_target(
    ref_string: str, options: RegistryOptions | None = None
) -> tuple[Target, Reference]:
    """Parse `oci://...` or `oci-layout://...` (or a bare tag) and open its Target."""
    ref = expand_reference(ref_string)
    return target_for(ref, options), ref
