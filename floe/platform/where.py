"""Which registry a platform folder means, the way `platform publish` picks it.

    registry_here(flag)   # flag > FLOE_REGISTRY > artifacts.registry > embedded/<name>

Inside a platform folder (one with a compiled tree at `.floe/artifacts`, or a single
manifest as `floe platform compile` finds it), `list`, `inspect`, `verify`-style
lookups of a bare `v1.2.3` and `diff` use the registry publish would push to: the
manifest's `artifacts.registry`, else the embedded registry's repository named after
the platform (`$FLOE_HOME/registry/<metadata.name>`). Elsewhere the plain precedence
of floe.oci.resolve applies.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floe.errors import GateError, UsageError
from floe.oci.reference import is_reference
from floe.oci.resolve import REGISTRY_ENV, configured_registry, expand_reference
from floe.tree.files import MANIFEST_FILE

if TYPE_CHECKING:
    from floe.artifact.inspect import Inspection
    from floe.artifact.listing import Listing
    from floe.oci.options import RegistryOptions

COMPILED = Path(".floe/artifacts")
MAX_MANIFEST_JSON = 4 * 1024 * 1024


@dataclass(frozen=True)
class PlatformHere:
    """The platform a folder holds: its name and `artifacts.registry` (None: unset)."""

    name: str
    registry: str | None
    source: Path  # the file both were read from


def platform_here(cwd: Path, artifacts: Path = COMPILED) -> PlatformHere | None:
    """The compiled tree at `artifacts` (what publish reads), else the folder's only
    manifest; None when the folder holds neither (or several manifests)."""
    compiled = (artifacts if artifacts.is_absolute() else cwd / artifacts) / MANIFEST_FILE
    if compiled.is_file():
        return _from_compiled(compiled)
    from floe.platform.compile import default_manifest
    from floe.platform.manifest import load_manifest

    try:
        path = cwd / default_manifest(cwd)
    except UsageError:
        return None  # no manifest here, or several: no platform to take the registry from
    model = load_manifest(path).model
    return PlatformHere(model.metadata.name, model.artifacts.registry, path)


def _from_compiled(path: Path) -> PlatformHere:
    """name and artifacts.registry of a compiled manifest.json (checked, size-capped)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MANIFEST_JSON + 1)
        if len(raw) > MAX_MANIFEST_JSON:
            raise ValueError(f"over {MAX_MANIFEST_JSON} bytes")
        data = json.loads(raw)
        name = data["metadata"]["name"]
        registry = (data.get("artifacts") or {}).get("registry")
        if not isinstance(name, str) or not isinstance(registry, (str, type(None))):
            raise ValueError("metadata.name or artifacts.registry is not a string")
    except (OSError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise GateError(
            "tree_invalid",
            f"{path}: {exc}",
            hint="recompile the platform: floe platform compile",
        ) from None
    from floe.platform.manifest import NAME_RE

    if not NAME_RE.match(name):
        raise GateError("tree_invalid", f"{path}: metadata.name {name!r} is not a platform name")
    return PlatformHere(name, registry or None, path)


def registry_here(flag: str | None, cwd: Path | None = None) -> str:
    """The registry a command run in `cwd` means (see the module doc)."""
    if flag or os.environ.get(REGISTRY_ENV):
        return configured_registry(flag)  # the folder is not even read
    here = platform_here(cwd or Path.cwd())
    if here is None:
        return configured_registry(flag)
    return configured_registry(flag, here.registry, repository=here.name)


def reference_here(text: str, cwd: Path | None = None) -> str:
    """A full reference as given; a bare `v1.2.3` or `sha256:...` in registry_here."""
    if is_reference(text):
        return text
    return str(expand_reference(text, registry_here(None, cwd)))


def list_here(
    registry: str | None, *, show_all: bool = False, options: RegistryOptions | None = None
) -> Listing:
    """`platform list [REGISTRY]`: the versions in the registry this folder means."""
    from floe.artifact.listing import list_versions

    return list_versions(registry_here(registry), show_all=show_all, options=options)


def inspect_here(ref: str, *, options: RegistryOptions | None = None) -> Inspection:
    """`platform inspect REF`: REF (a bare version in the registry this folder means)."""
    from floe.artifact.inspect import inspect_artifact
    from floe.platform.attest import describe_statement

    return inspect_artifact(reference_here(ref), options=options, describe=describe_statement)
