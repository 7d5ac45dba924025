"""`floe compile --platform VERSION`: what a candidate release would do to this project.

The candidate is resolved in floe.yaml's repository, verified and cached exactly as
`floe init` would (floe.lifecycle.fetch_candidate: floe.yaml's anchors and the lock's
signers; a candidate signed by another key is refused like a pull), but never locked:
artifacts.lock, floe.yaml and `.floe/platform/` stay as they are. Then the same gate
`floe compile` runs (read the project with each platform's layers, every rule family,
the waivers) runs twice, on the locked tree and on the candidate's, and the findings
are compared. With `--parse`, dbt parses once, with the locked platform's profile (what
`floe compile --parse` runs), and both gates read that parse.

A preview is not a build: it writes none of the outputs `floe compile` writes and
`floe run` or Dagster rely on (compiled.json, findings.json, junit.xml, findings.sarif,
the lineage cache, profiles.yml, the Dagster code location). Its only document is the
one the CLI prints, `kind: UpgradePreview`.

Two findings are the same finding when their rule id, model, file and message agree
(the line is left out, as for `--baseline`). A message that quotes a platform value
(a coverage minimum, a prefix) changes with that value, so the old finding is listed
as removed and the new one as added. The same finding with another severity or
waiver state is listed as changed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.project.events import QUIET, Events

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.project.lifecycle import Candidate, LoadedPlatform
    from floe.project.profiles import Profile
    from floe.project.run import ParsedManifest
    from floe.rules.engine import EnforcementResult
    from floe.rules.model import Finding, Project
    from floe.tree.model import PlatformTree

KIND = "UpgradePreview"
Key = tuple[str, str | None, str | None, str]


def finding_key(finding: Finding) -> Key:
    """What makes two findings the same finding across platform versions."""
    return (finding.rule_id, finding.model, finding.file, finding.message)


def _state(finding: Finding) -> str:
    return f"{finding.severity}{' (waived)' if finding.waived else ''}"


@dataclass(frozen=True)
class Changed:
    """The same finding under both versions, with another severity or waiver state."""

    before: Finding
    after: Finding

    def to_json(self) -> dict[str, Any]:
        return {**self.after.to_json(), "was": _state(self.before), "now": _state(self.after)}


@dataclass(frozen=True)
class FindingsDiff:
    added: list[Finding]
    removed: list[Finding]
    changed: list[Changed]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_findings(before: Sequence[Finding], after: Sequence[Finding]) -> FindingsDiff:
    """Findings the candidate adds, removes, or keeps with another severity/waiver."""
    left: dict[Key, list[Finding]] = {}
    for finding in before:
        left.setdefault(finding_key(finding), []).append(finding)
    added: list[Finding] = []
    changed: list[Changed] = []
    for finding in after:
        same = left.get(finding_key(finding))
        if not same:
            added.append(finding)
            continue
        match = next((f for f in same if _state(f) == _state(finding)), same[0])
        same.remove(match)
        if _state(match) != _state(finding):
            changed.append(Changed(match, finding))
    removed = sorted((f for rest in left.values() for f in rest), key=lambda f: f.sort_key())
    return FindingsDiff(added, removed, changed)


@dataclass(frozen=True)
class Gate:
    """One platform's verdict on the project (what `floe compile` would decide)."""

    tree: PlatformTree
    project: Project
    result: EnforcementResult

    @property
    def blocked(self) -> bool:
        return self.result.blocking

    def to_json(self) -> dict[str, Any]:
        gates = self.tree.quality_gates
        return {
            "status": "blocked" if self.blocked else "passed",
            "errors": self.result.errors,
            "warnings": self.result.warnings,
            "findings": len(self.result.findings),
            "coverage": self.result.coverage.to_json(),
            "minimum_test_coverage": gates.minimum_test_coverage,
            "read_from": self.project.read_from or {"kind": self.project.origin},
        }


@dataclass(frozen=True)
class Preview:
    current: LoadedPlatform
    candidate: Candidate
    before: Gate
    after: Gate
    diff: FindingsDiff

    @property
    def blocked(self) -> bool:
        """The candidate's gate fails: pinning it would block this project."""
        return self.after.blocked

    def to_json(self) -> dict[str, Any]:
        current, candidate = self.current, self.candidate
        newer = candidate.newer.to_json() if candidate.newer is not None else None
        return {
            "kind": KIND,
            "project": self.after.project.name,
            "locked": {
                "ref": current.ref,
                "version": current.version,
                "manifest_digest": current.manifest_digest,
                **self.before.to_json(),
            },
            "candidate": {
                "ref": candidate.ref,
                "version": candidate.version,
                "manifest_digest": candidate.manifest_digest,
                "content_digest": candidate.tree.manifest.metadata.digest,
                "signer": candidate.signer,
                "trust": candidate.trust,
                "newer": newer,
                **self.after.to_json(),
            },
            "added": [f.to_json() for f in self.diff.added],
            "removed": [f.to_json() for f in self.diff.removed],
            "changed": [c.to_json() for c in self.diff.changed],
            "status": "blocked" if self.blocked else "passed",
            "lock_written": False,
        }


def _gate(
    project_dir: Path, tree: PlatformTree, manifest: Path | None, parsed: ParsedManifest | None
) -> Gate:
    """floe compile's verdict with this tree: its layers, every rule family, the waivers."""
    from floe.project.waivers import apply_waivers, read_waivers
    from floe.rules.dbt_reader import read_project
    from floe.rules.engine import evaluate

    document = parsed.document if parsed is not None else None
    project = read_project(project_dir, layers=_layers(tree), manifest=manifest, document=document)
    if parsed is not None:
        from floe.project.profiles import profile_schema

        dbt_version = (parsed.document.get("metadata") or {}).get("dbt_version")
        read_from = {"kind": "dbt-parse", "digest": parsed.digest, "dbt_version": dbt_version}
        project = replace(project, read_from=read_from, target_schema=profile_schema(tree))
    result = evaluate(project, tree)
    governance = tree.quality_gates.governance
    policy = governance.waivers if governance is not None else None
    return Gate(tree, project, apply_waivers(result, read_waivers(project_dir, project), policy))


def _profile(tree: PlatformTree, project_dir: Path) -> Profile:
    from floe.project.profiles import build_profile, read_profile_name

    return build_profile(tree, read_profile_name(project_dir), project_dir)


def _parse(project_dir: Path, profile: Profile, dbt_args: Sequence[str]) -> ParsedManifest:
    """dbt's parse with this profile, staged in a temporary folder (no profile is kept)."""
    from floe.project.profiles import write_profile
    from floe.project.run import parse_project

    with tempfile.TemporaryDirectory(prefix="floe-preview-") as staging:
        write_profile(profile, Path(staging))
        return parse_project(project_dir, Path(staging), dbt_args)


def _parse_once(project_dir: Path, locked: PlatformTree, dbt_args: Sequence[str]) -> ParsedManifest:
    """One dbt parse with the locked platform's profile, what `floe compile --parse` runs
    (so dbt's own target/ holds what a build would parse); both gates read it, each with
    its platform's schema."""
    from floe.rules.dbt_reader import read_project

    # floe's own reader first, as in `floe compile --parse` (a file:line before dbt's words)
    read_project(project_dir, layers=_layers(locked))
    return _parse(project_dir, _profile(locked, project_dir), dbt_args)


def _layers(tree: PlatformTree) -> dict[str, str]:
    from floe.project.compile import platform_layers

    return platform_layers(tree)


def preview_upgrade(
    project_dir: Path,
    constraint: str,
    *,
    manifest: Path | None = None,
    parse: bool = False,
    dbt_args: Sequence[str] = (),
    options: RegistryOptions | None = None,
    events: Events = QUIET,
) -> Preview:
    """The locked platform's verdict, the candidate's, and the findings between them."""
    from floe.project.lifecycle import fetch_candidate, load_verified_platform
    from floe.project.plugins import resolve_for_compile
    from floe.release.constraints import parse_constraint

    wanted = parse_constraint(constraint)  # a bad constraint before any file is read
    root = Path(project_dir)
    current = load_verified_platform(root)
    candidate = fetch_candidate(root, wanted, options=options, events=events)
    resolve_for_compile(candidate.tree, need_adapter=parse)  # a plugin it needs, missing here
    parsed = _parse_once(root, current.tree, dbt_args) if parse else None
    before = _gate(root, current.tree, manifest, parsed)
    after = _gate(root, candidate.tree, manifest, parsed)
    return Preview(current, candidate, before, after, diff_findings(
        before.result.findings, after.result.findings
    ))  # fmt: skip
