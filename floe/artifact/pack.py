"""The compiled tree <-> the OCI artifact of DESIGN.md, and a safe unpack.

Packing is deterministic: layers sorted by path, canonical manifest JSON, the
`created` annotation taken from the tree's manifest.json (never the clock), so
one tree gives one manifest digest on every machine. Each file is a layer with
its relative path as `org.opencontainers.image.title`, which is what `oras pull`
needs to rebuild the tree. A top-level folder with more files than the
threshold goes as one reproducible tar+gzip layer (ORAS directory convention:
entries `<folder>/...`, `io.deis.oras.content.unpack: "true"`).

Unpacking is `copy_graph(target -> floe.oci.filestore.FileStore)`: every title
and tar member is hostile (relative POSIX paths only, regular files only, size,
depth and tar caps), digests verified, everything written to a temp folder next
to the destination and renamed into place only after the floe tree checked.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, cast

from floe.errors import FloeError, GateError, UsageError
from floe.oci.copy import copy_graph
from floe.oci.filestore import ORAS_DIR, FileStore, check_path
from floe.oci.manifest import INDEX_MEDIA_TYPES, Manifest, parse_document, parse_manifest
from floe.oci.target import (
    ANNOTATION_CONTENT_DIGEST,
    ANNOTATION_CREATED,
    ANNOTATION_ORAS_DIGEST,
    ANNOTATION_ORAS_UNPACK,
    ANNOTATION_TITLE,
    ANNOTATION_VERSION,
    FLOE_ARCHITECTURE,
    FLOE_ARTIFACT_TYPE,
    FLOE_CATALOG,
    FLOE_CONFIG,
    FLOE_POLICY,
    MAX_MANIFEST_BYTES,
    OCI_EMPTY,
    OCI_MANIFEST,
    Descriptor,
    Target,
    canonical_json,
    parse_json_object,
)
from floe.tree.files import MANIFEST_FILE, content_digest, read_tree_files

TAR_THRESHOLD = 512  # files in one top-level folder before it goes as one tar layer
DEFAULT_MAX_BLOB = 256 * 1024 * 1024
ORAS_FILE = "application/vnd.oci.image.layer.v1.tar"
CHUNK = 1 << 20

FOLDER_MEDIA_TYPES = {
    "policies": FLOE_POLICY,
    "catalog": FLOE_CATALOG,
    "architecture": FLOE_ARCHITECTURE,
}


class Blob(NamedTuple):
    desc: Descriptor
    data: bytes | Path  # a Path is streamed from disk (big files never sit in memory)


class Packed(NamedTuple):
    manifest: bytes
    config: bytes
    layers: list[Blob]

    @property
    def descriptor(self) -> Descriptor:
        return Descriptor.for_bytes(OCI_MANIFEST, self.manifest, artifact_type=self.artifact_type)

    @property
    def artifact_type(self) -> str | None:
        return parse_manifest(self.manifest, "packed manifest").artifact_type

    def blobs(self) -> dict[str, bytes | Path]:
        """Every blob by digest, the manifest included (for an in-memory source Target)."""
        out: dict[str, bytes | Path] = {b.desc.digest: b.data for b in self.layers}
        config = parse_manifest(self.manifest, "packed manifest").config
        out[config.digest] = self.config
        out[self.descriptor.digest] = self.manifest
        return out


def normalize_version(version: str) -> str:
    """`v1.2.3` -> `1.2.3`, refusing anything that is not semver."""
    import semver

    bare = version[1:] if version.startswith("v") else version
    if not semver.Version.is_valid(bare):
        raise UsageError(
            "version_invalid",
            f"{version!r} is not a semantic version",
            hint="versions look like v1.2.3 or v1.2.3-rc.1",
        )
    return bare


def read_tree_dir(root: Path) -> dict[str, bytes]:
    """The compiled tree at root (every regular file by POSIX path); symlinks are refused."""
    if not (root / MANIFEST_FILE).is_file():
        raise UsageError(
            "artifacts_missing",
            f"no compiled platform at {root}",
            hint="run `floe platform compile` first, or pass --artifacts DIR",
        )
    return read_tree_files(root)


def tree_metadata(files: dict[str, bytes], origin: str) -> dict[str, Any]:
    """manifest.json's metadata, after checking the tree still matches its content digest.

    The compiler validated the schema; publishing re-checks integrity (cheap, no pydantic),
    and every pull re-validates everything (floe.tree.download: the verdict of parse_tree).
    """
    try:
        manifest = json.loads(files[MANIFEST_FILE])
        metadata = manifest["metadata"]
        fields = {key: str(metadata[key]) for key in ("name", "version", "created", "digest")}
    except (KeyError, TypeError, ValueError) as exc:
        raise GateError("tree_invalid", f"{origin}/{MANIFEST_FILE} is malformed: {exc}") from None
    actual = content_digest(files)
    if fields["digest"] != actual:
        raise GateError(
            "tree_digest_mismatch",
            f"{origin}: content digest {actual} does not match manifest.json ({fields['digest']})",
            hint="the tree was edited after compile; recompile it",
        )
    registry = (manifest.get("artifacts") or {}).get("registry")
    return {**fields, "registry": str(registry) if registry else None}


def pack_tree(
    files: dict[str, bytes],
    version: str,
    *,
    tar_threshold: int = TAR_THRESHOLD,
    metadata: dict[str, Any] | None = None,
) -> Packed:
    """Pack a compiled platform tree into a floe artifact (checks integrity and version).

    `metadata` is `tree_metadata(files, ...)` when the caller already has it, so the
    content digest of the tree is computed once.
    """
    if metadata is None:
        metadata = tree_metadata(files, "platform tree")
    bare = normalize_version(version)
    if bare != metadata["version"]:
        raise UsageError(
            "publish_version_mismatch",
            f"version {version} does not match the compiled tree's version {metadata['version']}",
            hint="set metadata.version in the platform manifest and recompile, "
            f"or publish v{metadata['version']}",
        )
    annotations = {
        ANNOTATION_VERSION: bare,
        ANNOTATION_CREATED: str(metadata["created"]),
        ANNOTATION_TITLE: str(metadata["name"]),
        ANNOTATION_CONTENT_DIGEST: str(metadata["digest"]),  # checked by tree_metadata
    }
    return pack_files(
        files,
        artifact_type=FLOE_ARTIFACT_TYPE,
        config=Blob(Descriptor.for_bytes(FLOE_CONFIG, files[MANIFEST_FILE]), files[MANIFEST_FILE]),
        annotations=annotations,
        tar_threshold=tar_threshold,
    )


def pack_files(
    files: dict[str, bytes] | dict[str, bytes | Path],
    *,
    artifact_type: str,
    config: Blob | None = None,
    annotations: dict[str, str] | None = None,
    tar_threshold: int = TAR_THRESHOLD,
) -> Packed:
    """Any set of files -> an OCI artifact manifest with titled layers (ORAS-compatible)."""
    for path in files:
        check_title(path)
    if config is None:
        config = Blob(Descriptor.for_bytes(OCI_EMPTY, b"{}"), b"{}")
    layers = _layers(dict(files), tar_threshold, config)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config.desc.to_json(),
        "layers": [b.desc.to_json() for b in layers],
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    return Packed(canonical_json(manifest), _as_bytes(config.data), layers)


def _layers(files: dict[str, bytes | Path], tar_threshold: int, config: Blob) -> list[Blob]:
    by_folder: dict[str, list[str]] = {}
    for path in files:
        top = path.split("/", 1)[0] if "/" in path else ""
        by_folder.setdefault(top, []).append(path)
    layers: list[tuple[str, Blob]] = []
    for folder, paths in by_folder.items():
        if folder and len(paths) > tar_threshold:
            layers.append((folder, _tar_layer(folder, {p: _as_bytes(files[p]) for p in paths})))
            continue
        for path in paths:
            data = files[path]
            media_type = _file_media_type(path, data, config)
            digest, size = _digest_of(data)
            desc = Descriptor(media_type, digest, size, {ANNOTATION_TITLE: path})
            layers.append((path, Blob(desc, data)))
    return [blob for _, blob in sorted(layers, key=lambda item: item[0])]


def _as_bytes(data: bytes | Path) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else data


def _digest_of(data: bytes | Path) -> tuple[str, int]:
    if isinstance(data, bytes):
        return "sha256:" + hashlib.sha256(data).hexdigest(), len(data)
    digest = hashlib.sha256()
    with data.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest(), data.stat().st_size


def _file_media_type(path: str, data: bytes | Path, config: Blob) -> str:
    if "/" in path:
        return FOLDER_MEDIA_TYPES.get(path.split("/", 1)[0], ORAS_FILE)
    if config.desc.media_type == FLOE_CONFIG and data == config.data:
        return FLOE_CONFIG  # manifest.json is both config and a layer: one blob, uploaded once
    return ORAS_FILE


def _tar_layer(folder: str, files: dict[str, bytes]) -> Blob:
    """A reproducible tar+gzip of one folder: sorted entries, zero times and owners."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(p) for path in files for p in PurePosixPath(path).parents} - {"."})
        for name in dirs:
            tar.addfile(_tar_info(name, tarfile.DIRTYPE, 0, 0o755))
        for path in sorted(files):
            data = files[path]
            tar.addfile(_tar_info(path, tarfile.REGTYPE, len(data), 0o644), io.BytesIO(data))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as zipped:
        zipped.write(tar_bytes)
    annotations = {
        ANNOTATION_TITLE: folder,
        ANNOTATION_ORAS_DIGEST: "sha256:" + hashlib.sha256(tar_bytes).hexdigest(),
        ANNOTATION_ORAS_UNPACK: "true",
    }
    # ORAS's directory media type: oras-py unpacks by media type, oras-go by annotation.
    return Blob(Descriptor.for_bytes(ORAS_DIR, gz.getvalue(), annotations), gz.getvalue())


def _tar_info(name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


# ---- unpack ------------------------------------------------------------------------


def check_title(title: str) -> PurePosixPath:
    """A title must be a plain relative POSIX path inside the destination (with caps)."""
    return check_path(title)


@dataclass
class Unpacked:
    """What an unpack wrote and what it is."""

    manifest_digest: str
    artifact_type: str | None
    is_floe: bool
    files: dict[str, Descriptor] = field(default_factory=dict)  # relative path -> layer
    annotations: dict[str, str] = field(default_factory=dict)
    content_digest: str | None = None


def read_image_manifest(target: Target, desc: Descriptor) -> Manifest:
    """The typed image manifest behind desc (an index is `artifact_manifest_invalid`)."""
    if desc.size > MAX_MANIFEST_BYTES:
        raise GateError(
            "pull_too_large", f"manifest {desc.digest} is {desc.size} bytes (limit 4 MiB)"
        )
    doc = parse_document(target.fetch_bytes(desc, MAX_MANIFEST_BYTES), desc)
    if not isinstance(doc, Manifest):
        raise GateError(
            "artifact_manifest_invalid",
            f"{desc.digest} is not an image manifest with layers",
            hint="floe pulls artifacts pushed by floe publish, oras push or skopeo copy",
        )
    return doc


def read_manifest(target: Target, desc: Descriptor) -> dict[str, Any]:
    """The manifest as JSON, after the typed parse accepted it (for callers not yet typed)."""
    read_image_manifest(target, desc)
    return parse_json_object(target.fetch_bytes(desc, MAX_MANIFEST_BYTES), desc.digest)


def is_floe_manifest(manifest: Manifest) -> bool:
    return manifest.kind == FLOE_ARTIFACT_TYPE or manifest.config.media_type == FLOE_CONFIG


def unpack_artifact(
    target: Target,
    manifest_desc: Descriptor,
    out_dir: Path,
    *,
    max_blob_size: int = DEFAULT_MAX_BLOB,
    require_floe: bool = True,
    force: bool = False,
    concurrency: int = 8,
    on_progress: Callable[[str, Descriptor, int], None] | None = None,
) -> Unpacked:
    """Copy an artifact's titled files to out_dir (`copy_graph` into a FileStore); all or
    nothing: titles, sizes, tar members, digests and a floe tree are checked first."""
    if manifest_desc.media_type in INDEX_MEDIA_TYPES:
        raise GateError(
            "artifact_manifest_invalid",
            f"{manifest_desc.digest} is an index, not an image manifest with layers",
            hint="floe pulls artifacts pushed by floe publish, oras push or skopeo copy",
        )

    accept = _acceptor(out_dir, require_floe=require_floe, force=force)
    with FileStore(out_dir, max_blob_size=max_blob_size, accept=accept) as store:
        copy_graph(
            target,
            store,
            manifest_desc,
            tag=None,
            concurrency=concurrency,
            on_progress=on_progress,
        )
        manifest = cast(Manifest, store.manifest)
        is_floe = is_floe_manifest(manifest)
        result = Unpacked(manifest_desc.digest, manifest.kind, is_floe, dict(store.files))
        result.annotations = dict(manifest.annotations)
        if is_floe:
            result.content_digest = _verify_floe_tree(
                target, manifest.config, store.staging, result
            )
        else:
            result.content_digest = _tree_digest_if_valid(store.staging)
        check_destination(out_dir, force)
        store.commit()
    return result


def _acceptor(
    out_dir: Path, *, require_floe: bool, force: bool
) -> Callable[[Descriptor, Manifest], None]:
    """The file store's admission check: a floe artifact (if required), a usable --out."""

    def accept(desc: Descriptor, manifest: Manifest) -> None:
        if require_floe and not is_floe_manifest(manifest):
            raise UsageError(
                "artifact_not_floe",
                f"{desc.digest} is not a floe platform (artifactType {manifest.kind[:80]})",
                hint="point at an artifact published with `floe platform publish`",
            )
        check_destination(out_dir, force)

    return accept


def check_destination(out_dir: Path, force: bool) -> None:
    """`--out` must be (or can become) a folder, empty unless `force`: checked before any
    download, and again just before writing."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise UsageError("pull_out_invalid", f"{out_dir} exists and is not a folder")
    _refuse_escaping_parents(out_dir)
    blocker = next((p for p in out_dir.absolute().parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(
            "pull_out_invalid",
            f"cannot create {out_dir}: {blocker} is a file, not a folder",
            hint="pass a folder path for --out",
        )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(
            "pull_out_exists",
            f"{out_dir} already exists and is not empty",
            hint="pass --force to replace it",
        )


def _refuse_escaping_parents(out_dir: Path) -> None:
    """A `--out` inside the working folder may not go through a symlink that leads out of it
    (a planted `out -> /etc` would make floe write, and swap folders, elsewhere)."""
    import os

    here = Path.cwd().resolve()
    lexical = Path(os.path.abspath(out_dir))
    if lexical != here and here not in lexical.parents:
        return  # an --out outside the working folder is the user's explicit choice
    for parent in [*reversed(lexical.parents), lexical]:
        if parent == here or here not in parent.parents or not parent.is_symlink():
            continue
        target = parent.resolve()
        if target != here and here not in target.parents:
            raise UsageError(
                "path_symlinked",
                f"{parent} is a symlink to {target}, outside {here}; floe writes --out "
                "only where the path says",
                hint="pass the real folder as --out, or remove the link",
            )


def _verify_floe_tree(target: Target, config: Descriptor, staging: Path, result: Unpacked) -> str:
    from floe.tree.download import check_download

    files = read_tree_files(staging)
    digest = check_download(files, origin=f"artifact {result.manifest_digest}")
    layer = result.files.get(MANIFEST_FILE)
    same_blob = layer is not None and layer.digest == config.digest
    # The manifest.json layer was verified against the same digest: no second download.
    config_bytes = files[MANIFEST_FILE] if same_blob else target.fetch_bytes(config)
    if config_bytes != files[MANIFEST_FILE]:
        raise GateError(
            "pull_digest_mismatch",
            "the artifact's config does not match its manifest.json layer",
            hint="the artifact is corrupt or tampered with; nothing was written",
        )
    annotated = result.annotations.get(ANNOTATION_CONTENT_DIGEST)
    if annotated and annotated != digest:
        raise GateError(
            "pull_digest_mismatch",
            f"content digest {digest} does not match the "
            f"{ANNOTATION_CONTENT_DIGEST} annotation ({annotated})",
            hint="the artifact is corrupt or tampered with; nothing was written",
        )
    return digest


def _tree_digest_if_valid(staging: Path) -> str | None:
    """A non-floe artifact (e.g. pushed by oras) may still hold a valid platform tree."""
    if not (staging / MANIFEST_FILE).is_file():
        return None  # not even shaped like a tree: skip loading the tree models
    from floe.tree.download import check_download

    try:
        return check_download(read_tree_files(staging))
    except FloeError:
        return None
