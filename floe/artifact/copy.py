"""`platform copy SRC DST`: mirror an artifact between registries and layouts (one graph
copy), verified first when trust flags are given, refused when the tag lies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from floe.artifact.integrity import check_one_spelling, check_versions_agree
from floe.artifact.transfer import copy_with_events, lookup, resolve
from floe.artifact.verify import DownloadTrust, verify_download
from floe.errors import FloeError, GateError
from floe.events import NULL_EVENTS, Events
from floe.oci.copy import CopyStats
from floe.oci.options import RegistryOptions
from floe.oci.reference import DEFAULT_REPOSITORY, Reference, parse_reference
from floe.oci.resolve import open_target, target_for
from floe.oci.target import ANNOTATION_TITLE, Descriptor, Target


@dataclass(frozen=True)
class CopyRequest:
    src: str
    dst: str
    with_referrers: bool = False
    force: bool = False
    trust: DownloadTrust = field(default_factory=DownloadTrust)
    options: RegistryOptions | None = None
    dst_options: RegistryOptions | None = None  # the destination's (`copy --to-*`); else options


@dataclass(frozen=True)
class CopyResult:
    source: Reference
    destination: Reference
    digest: str
    stats: CopyStats


def check_tag_free(
    dst: Target, ref: Reference, digest: str, force: bool, platform: str | None = None
) -> list[str] | None:
    """A version tag is immutable: `publish_tag_exists` when it names another digest
    (unless `force`), `version_tag_conflict` when the other `v` spelling exists.

    Returns dst's tags when the tag is new there (None when it already exists).
    `platform`: the name of what is published, so a tag held by another platform is
    told apart from a rebuild of the same one (its hint is another repository).
    """
    tag = ref.tag or ""
    existing = lookup(dst, tag)
    if existing is None:
        tags = existing_tags(dst)
        check_one_spelling(tags, tag, str(ref.repository_ref()))
        return tags
    if existing.digest == digest or force:
        return None
    holder = _platform_of(dst, existing)
    if platform is not None and holder is not None and holder != platform:
        raise GateError(
            "publish_tag_exists",
            f"{ref} already holds the platform {holder!r}, not {platform!r}",
            hint=f"each platform publishes to its own repository: "
            f"--registry {_sibling(ref, platform)} (or artifacts.registry in the manifest)",
        )
    raise GateError(
        "publish_tag_exists",
        f"{ref} already exists with a different digest ({existing.digest})",
        hint="versions are immutable: publish a new version, or pass --force to move the tag",
    )


def _platform_of(dst: Target, desc: Descriptor) -> str | None:
    """The platform name (title annotation) of a published manifest; None if unreadable."""
    from floe.artifact.pack import read_manifest

    try:
        title = (read_manifest(dst, desc).get("annotations") or {}).get(ANNOTATION_TITLE)
    except FloeError:
        return None
    return title if isinstance(title, str) else None


def _sibling(ref: Reference, name: str) -> str:
    """The repository `name` beside ref's (same host, or same parent folder)."""
    if ref.is_layout:
        return f"oci-layout://{PurePosixPath(ref.path).parent / name}"
    parent = ref.repository.rpartition("/")[0]
    return f"oci://{ref.host}/{parent + '/' if parent else ''}{name}"


def existing_tags(dst: Target) -> list[str]:
    """dst's tags; [] where it does not exist yet (a new layout or repository).

    Called only after a lookup found nothing, so a registry that refuses access has
    already raised on that lookup.
    """
    try:
        return dst.tags()
    except FloeError:
        return []


def copy_artifact(request: CopyRequest, events: Events = NULL_EVENTS) -> CopyResult:
    """Copy SRC's graph to DST (tagged as DST's tag, else SRC's); nothing lands on a refusal."""
    source, src_ref = open_target(request.src, request.options)
    desc = resolve(source, src_ref)
    if request.trust.given:
        verify_download(source, src_ref, desc, request.trust, events)
    dst_ref = parse_reference(request.dst, default_repository=DEFAULT_REPOSITORY)
    tag = dst_ref.tag or src_ref.tag
    dst_ref = dst_ref.with_tag(tag) if tag else dst_ref.with_digest(desc.digest)
    check_versions_agree(source, desc, tag)
    target = target_for(dst_ref, request.dst_options or request.options)
    if tag:
        platform = _platform_of(source, desc)  # another platform's tag gets its own hint
        check_tag_free(target, dst_ref, desc.digest, request.force, platform)
    events.step(f"Copying {src_ref} -> {dst_ref}")
    concurrency = request.options.concurrency if request.options else 8
    stats = copy_with_events(
        source, target, desc, tag, concurrency=concurrency,
        with_referrers=request.with_referrers, events=events,
    )  # fmt: skip
    return CopyResult(src_ref, dst_ref, desc.digest, stats)
