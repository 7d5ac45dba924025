"""Provenance for `floe platform publish --attest`, made truthful.

A provenance statement names the source manifest and its input files. It is only
signed when that source, compiled again in memory right now, gives exactly the
tree being published; otherwise it would vouch for inputs that did not build it.
The inputs (materials) are every file the compiler reads: the manifest, the
`from:` policy files and the trusted public key files, keyed by POSIX path
relative to the working directory, so the statement is the same on every checkout.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.errors import UsageError
from floe.tree import model as tree

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


@dataclass(frozen=True)
class Source:
    """The source that compiles to the published tree, and the files it was built from."""

    manifest: str  # POSIX path relative to the working directory
    inputs: dict[str, bytes]  # every file the compiler read, by the same kind of path


def relative_posix(path: Path, cwd: Path | None = None) -> str:
    """`path` as a normalized POSIX path relative to `cwd` (no symlink resolution)."""
    base = cwd or Path.cwd()
    absolute = os.path.normpath(base / path)
    return Path(os.path.relpath(absolute, base)).as_posix()


def check_source(manifest_path: Path, published: dict[str, bytes]) -> Source:
    """Recompile `manifest_path` in memory; raise `attest_source_mismatch` unless it gives
    exactly the `published` tree. `created` is taken from the published tree when the
    source does not pin it (it came from SOURCE_DATE_EPOCH at compile time)."""
    from floe.platform.compile import build_tree

    built = build_tree(manifest_path, env=_created_env(published))
    if built.files != published:
        raise _mismatch(manifest_path, built.files, published)
    return Source(relative_posix(manifest_path), source_inputs(manifest_path))


def _created_env(published: dict[str, bytes]) -> dict[str, str]:
    from floe.platform.manifest import parse_rfc3339

    try:
        created = json.loads(published[tree.MANIFEST_FILE])["metadata"]["created"]
        moment = parse_rfc3339(str(created))
    except (KeyError, TypeError, ValueError, UsageError):
        return {}
    if moment.microsecond:
        return {}  # only a pinned `created` has a fraction; the source must pin it too
    return {SOURCE_DATE_EPOCH: str(int(moment.timestamp()))}


def _mismatch(
    manifest_path: Path, built: dict[str, bytes], published: dict[str, bytes]
) -> UsageError:
    ours, theirs = tree.content_digest(built), tree.content_digest(published)
    if ours != theirs:
        what = f"content digest {theirs}, but {manifest_path} compiles to {ours}"
    else:
        differing = sorted(
            p for p in set(built) | set(published) if built.get(p) != published.get(p)
        )
        what = f"{', '.join(differing)} differs from what {manifest_path} compiles to"
    return UsageError(
        "attest_source_mismatch",
        f"the tree being published is not built from {manifest_path} ({what})",
        hint=f"recompile: floe platform compile {manifest_path}, then publish again "
        "(or pass the manifest it was built from with --source)",
    )


def source_inputs(manifest_path: Path) -> dict[str, bytes]:
    """The manifest, its `from:` policy files and its trusted key files, with their bytes."""
    from floe.platform.manifest import FROM_SECTIONS
    from floe.yaml_loader import parse_yaml_with_positions

    raw = manifest_path.read_bytes()
    inputs = {relative_posix(manifest_path): raw}
    doc: Any = (
        parse_yaml_with_positions(
            raw.decode("utf-8"), relative_posix(manifest_path), require_mapping=False
        ).data
        or {}
    )
    base = manifest_path.parent
    for section in FROM_SECTIONS:
        ref = _lookup(doc, (*section, "from"))
        if isinstance(ref, str):
            inputs[relative_posix(base / ref)] = (base / ref).read_bytes()
    for entry in _lookup(doc, ("security", "trusted_keys")) or []:
        if isinstance(entry, str) and not entry.lstrip().startswith("-----BEGIN"):
            inputs[relative_posix(base / entry)] = (base / entry).read_bytes()
    return dict(sorted(inputs.items()))


def _lookup(doc: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if not isinstance(doc, dict) or part not in doc:
            return None
        doc = doc[part]
    return doc


def statement_for(
    subject_name: str, manifest_digest: str, source: Source, version: str, content_digest: str
) -> bytes:
    """The SLSA v1 provenance statement for one published artifact (no timestamps)."""
    from floe.signing.provenance import build_statement

    return build_statement(
        subject_name,
        manifest_digest,
        source_manifest=source.manifest,
        version=version,
        inputs=source.inputs,
        internal_parameters={"contentDigest": content_digest},
    )


def describe_statement(payload: bytes) -> dict[str, Any]:
    """What `inspect` shows of an in-toto statement: predicate type, builder, materials.

    Reads the claims only; whether the signature over them is trusted is `verify`'s job.
    """
    try:
        doc = json.loads(payload)
        predicate = doc.get("predicate") or {}
        definition = predicate.get("buildDefinition") or {}
        builder = ((predicate.get("runDetails") or {}).get("builder") or {}).get("id")
        materials = [
            {"uri": str(dep.get("uri")), "digest": dict(dep.get("digest") or {})}
            for dep in definition.get("resolvedDependencies") or []
        ]
        return {
            "predicate_type": doc.get("predicateType"),
            "subject": [
                f"{algo}:{value}"
                for item in doc.get("subject") or []
                for algo, value in dict(item.get("digest") or {}).items()
            ],
            "builder": builder,
            "build_type": definition.get("buildType"),
            "external_parameters": definition.get("externalParameters") or {},
            "materials": materials,
        }
    except (ValueError, TypeError, AttributeError) as exc:
        return {"error": f"unreadable statement ({exc})"}
