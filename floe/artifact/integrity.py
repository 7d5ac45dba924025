"""Release integrity: a tag, the `org.opencontainers.image.version` annotation and
manifest.json's `metadata.version` name one version, and one semver is one tag.

Checked before anything is written by publish, copy and `pull --out`: an artifact
retagged under another version (copy R:v1.0.0 R:v9.9.9) is refused everywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from floe.artifact.pack import read_manifest
from floe.artifact.versions import bare_version
from floe.errors import GateError
from floe.oci.target import (
    ANNOTATION_VERSION,
    DOCKER_MANIFEST_LIST,
    FLOE_CONFIG,
    OCI_INDEX,
    Descriptor,
    Target,
)
from floe.tree.files import MANIFEST_FILE

MAX_CONFIG_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ArtifactVersions:
    """The versions an artifact states about itself (None: it states none)."""

    annotation: str | None
    metadata: str | None


def artifact_versions(target: Target, desc: Descriptor) -> ArtifactVersions:
    """Read the annotation and (for a floe artifact) manifest.json's metadata.version.

    The config blob is fetched verified; it is small (limit 4 MiB) and pull checks
    again that it equals the manifest.json layer.
    """
    if desc.media_type in (OCI_INDEX, DOCKER_MANIFEST_LIST):
        return ArtifactVersions(None, None)  # an index states no version of its own
    manifest = read_manifest(target, desc)
    annotation = (manifest.get("annotations") or {}).get(ANNOTATION_VERSION)
    config = Descriptor.from_json(manifest.get("config") or {})
    metadata = None
    if config.media_type == FLOE_CONFIG:
        if config.size > MAX_CONFIG_BYTES:
            raise GateError("pull_too_large", f"{MANIFEST_FILE} is {config.size} bytes")
        try:
            data = json.loads(target.fetch_bytes(config, MAX_CONFIG_BYTES))
            metadata = str(data["metadata"]["version"])
        except (KeyError, TypeError, ValueError):
            raise GateError(
                "tree_invalid", f"{desc.digest}: {MANIFEST_FILE} has no metadata.version"
            ) from None
    return ArtifactVersions(str(annotation) if annotation is not None else None, metadata)


def check_versions_agree(target: Target, desc: Descriptor, tag: str | None) -> None:
    """`artifact_version_mismatch` unless tag (when semver), annotation and metadata agree."""
    stated = artifact_versions(target, desc)
    named = {
        "tag": bare_version(tag) if tag else None,
        ANNOTATION_VERSION: bare_version(stated.annotation) if stated.annotation else None,
        f"{MANIFEST_FILE} metadata.version": stated.metadata,
    }
    present = {k: v for k, v in named.items() if v is not None}
    if len(set(present.values())) <= 1:
        return
    listing = ", ".join(f"{k} {v}" for k, v in present.items())
    raise GateError(
        "artifact_version_mismatch",
        f"{desc.digest} does not agree on its version: {listing}",
        hint="the artifact was retagged under another version; nothing was written. "
        "Use the tag its publisher gave it, and tell them if a tag was moved",
    )


def check_one_spelling(target_tags: list[str], tag: str, where: str) -> None:
    """`version_tag_conflict` when `tag` is semver and the other spelling (with or without
    the `v`) is already a tag: one semver is one tag."""
    bare = bare_version(tag)
    if bare is None:
        return
    for other in target_tags:
        if other != tag and bare_version(other) == bare:
            raise GateError(
                "version_tag_conflict",
                f"{where} already has version {bare} as tag {other!r}; refusing a second "
                f"tag {tag!r} for the same version",
                hint=f"use {other!r} (one semver is one tag; the v prefix is not a new version)",
            )
