"""Reference string -> (Target, Reference), and where the registry is when none is given.

Registry precedence: the `--registry` flag, then `FLOE_REGISTRY`, then the
configuration (platform manifest or floe.yaml `artifacts.registry`), then the
embedded default, so one machine needs nothing running.

The embedded registry is a folder, `$FLOE_HOME/registry` (FLOE_HOME defaults to
`~/.floe`), holding one OCI image layout per repository: `registry/<name>/`. A
platform publishes to the repository named after it (`metadata.name`), so two
platforms' v1.0.0 never meet. A reader that names no repository gets the only one
there is (`floe-platform` when there is none yet); with several it is told to pick.
A pre-namespace embedded registry (one flat layout at `registry/` itself) is still
read as it is; publishing into it is refused with the two commands that migrate it.
"""

from __future__ import annotations

import os
from pathlib import Path

from floe.errors import UsageError
from floe.oci.options import RegistryOptions
from floe.oci.reference import (
    DEFAULT_REPOSITORY,
    LAYOUT_SCHEME,
    REPOSITORY_RE,
    Reference,
    is_reference,
    parse_reference,
)
from floe.oci.target import Target

REGISTRY_ENV = "FLOE_REGISTRY"
HOME_ENV = "FLOE_HOME"
LAYOUT_MARKER = "oci-layout"  # floe.oci.layout.LAYOUT_FILE, without importing the layout


def floe_home() -> Path:
    value = os.environ.get(HOME_ENV)
    return Path(value) if value else Path.home() / ".floe"


def embedded_root() -> Path:
    """The embedded registry's folder (one OCI layout per repository inside)."""
    return floe_home() / "registry"


def embedded_repositories(root: Path) -> list[str]:
    """The repositories of the embedded registry: sub-folders holding an OCI layout."""
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if REPOSITORY_RE.match(entry.name) and (entry / LAYOUT_MARKER).is_file()
    )


def default_registry(repository: str | None = None, *, for_write: bool = False) -> str:
    """The embedded registry's repository `repository`, or the one a reader means.

    `repository` None (a reader that does not know the platform): the only repository
    there is, `floe-platform` when there is none, `registry_ambiguous` with several.
    """
    root = embedded_root()
    if (root / LAYOUT_MARKER).is_file():  # the pre-namespace flat layout
        if for_write:
            raise _flat_layout_error(root, repository or DEFAULT_REPOSITORY)
        return f"{LAYOUT_SCHEME}{root}"
    if repository is not None:
        if "/" in repository or not REPOSITORY_RE.match(repository):
            raise UsageError(
                "reference_invalid",
                f"{repository!r} cannot name a repository of the embedded registry",
                hint="a platform name is lowercase letters, digits and dashes; or pass --registry",
            )
        return f"{LAYOUT_SCHEME}{root / repository}"
    found = embedded_repositories(root)
    if len(found) > 1:
        raise UsageError(
            "registry_ambiguous",
            f"the embedded registry {root} holds {len(found)} platforms: {', '.join(found)}",
            hint=f"name one: --registry {LAYOUT_SCHEME}{root / found[0]} (or set {REGISTRY_ENV})",
            details={"repositories": found},
        )
    return f"{LAYOUT_SCHEME}{root / (found[0] if found else DEFAULT_REPOSITORY)}"


def _flat_layout_error(root: Path, repository: str) -> UsageError:
    old = root.with_name(root.name + "-flat")
    return UsageError(
        "registry_flat_layout",
        f"the embedded registry {root} is one flat OCI layout shared by every platform (an "
        "older floe wrote it); publishing into it could collide with another platform's "
        "versions",
        hint=f"move it aside and copy each version into its platform's repository: "
        f"mv {root} {old} && floe platform copy {LAYOUT_SCHEME}{old}:VERSION "
        f"{LAYOUT_SCHEME}{root / repository}:VERSION --with-referrers",
    )


def configured_registry(
    flag: str | None = None,
    *configured: str | None,
    repository: str | None = None,
    for_write: bool = False,
) -> str:
    """The registry to use: flag, FLOE_REGISTRY, configuration values in order, default
    (the embedded registry's `repository`, see default_registry)."""
    for candidate in (flag, os.environ.get(REGISTRY_ENV), *configured):
        if candidate:
            return candidate
    return default_registry(repository, for_write=for_write)


def parse_repository(text: str) -> Reference:
    """A repository reference (no tag or digest); `oci://HOST` means HOST/floe-platform."""
    ref = parse_reference(text, default_repository=DEFAULT_REPOSITORY)
    if ref.tag or ref.digest:
        raise UsageError(
            "reference_invalid",
            f"{text!r} names a version; a registry reference here is a repository only",
            hint=f"use {ref.repository_ref()}",
        )
    return ref


def expand_reference(text: str, registry: str | None = None) -> Reference:
    """A full reference, or a bare tag/digest (`v1.2.3`) in `registry` (a flag or a
    platform folder's registry), else the configured one."""
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
    ref_string: str, options: RegistryOptions | None = None, registry: str | None = None
) -> tuple[Target, Reference]:
    """Parse `oci://...` or `oci-layout://...` (or a bare tag, looked up in `registry`,
    else the configured registry) and open its Target."""
    ref = expand_reference(ref_string, registry)
    return target_for(ref, options), ref
