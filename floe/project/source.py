"""Which repository a project's platform comes from (floe.yaml, the lock, --registry)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floe.release.resolve import Source, source_from

if TYPE_CHECKING:
    from floe.project.floe_yaml import FloeYaml
    from floe.release.lockfile import LockedPlatform


def choose_source(
    project: Path, registry: str | None, config: FloeYaml | None, locked: LockedPlatform | None
) -> Source:
    """--registry, else floe.yaml's platform.ref, else the lock, else FLOE_REGISTRY / default."""
    from floe.oci.resolve import configured_registry

    if registry:
        return source_from(registry, Path.cwd(), project)
    if config is not None and config.platform is not None:
        return source_from(config.platform.ref, project, project, pinned=True)
    if locked is not None:
        return source_from(locked.ref, project, project, pinned=True)
    return source_from(configured_registry(None), Path.cwd(), project)
