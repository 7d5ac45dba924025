"""Publish's semver check: the new tree against the previous release in the target.

The previous release is the highest semver tag below the new version (prereleases
are not releases to compare against). Its tree is fetched with every byte checked
against its digest and validated as a platform tree (a comparison, not a trust
decision: nothing of it is installed). A previous tag that is not a readable floe
release is a warning (no comparison), and with `--check-semver` its own error.

The rule-by-rule diff says the smallest bump the change needs (floe.platform.diff); a
version below that is a warning, or with `--check-semver` the refusal
`publish_semver_too_small` before anything is pushed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.artifact.versions import parse_version
from floe.errors import FloeError, GateError
from floe.events import Events
from floe.oci.reference import Reference
from floe.oci.target import Target
from floe.platform.diff import Bump, Change, bump_between, bump_for, bump_is_enough, diff_trees
from floe.tree.model import PlatformTree


@dataclass(frozen=True)
class SemverOutcome:
    """What the check found: `previous` None means a first release (nothing to compare)."""

    previous: str | None = None
    needed: Bump = "none"
    made: Bump = "none"
    changes: list[Change] = field(default_factory=list)
    skipped: str | None = None  # why no comparison was made although a release exists

    @property
    def enough(self) -> bool:
        return bump_is_enough(self.needed, self.made)

    def as_json(self) -> dict[str, Any]:
        return {
            "previous": self.previous,
            "needed": self.needed,
            "made": self.made,
            "enough": self.enough,
            "changes": len(self.changes),
            "skipped": self.skipped,
        }


def previous_release(tags: list[str], version: str) -> str | None:
    """The highest release tag (no prerelease) strictly below `version`."""
    new = parse_version(version)
    if new is None:
        return None
    below = []
    for tag in tags:
        parsed = parse_version(tag)
        if parsed is not None and not parsed.prerelease and parsed < new:
            below.append((parsed, tag))
    return max(below)[1] if below else None


def next_version(previous: str, needed: Bump) -> str:
    """The smallest version after `previous` that makes the `needed` bump."""
    parsed = parse_version(previous)
    assert parsed is not None  # previous_release only returns semver tags
    bumped = {
        "major": parsed.bump_major,
        "minor": parsed.bump_minor,
        "patch": parsed.bump_patch,
        "none": parsed.bump_patch,
    }[needed]()
    return f"v{bumped}" if previous.startswith("v") else str(bumped)


@dataclass
class SemverCheck:
    """Called by floe.artifact.publish with the target and its tags once the new
    version's tag is known to be free (a republish of the same build skips it)."""

    tree: PlatformTree
    version: str
    strict: bool  # --check-semver: refuse instead of warning
    events: Events
    outcome: SemverOutcome | None = None

    def __call__(self, dst: Target, ref: Reference, tags: list[str]) -> None:
        where = ref.repository_ref()
        previous = previous_release(tags, self.version)
        if previous is None:
            self.outcome = SemverOutcome()
            self.events.step(f"  ✓ Semver: first release in {where} (nothing to compare)")
            return
        try:
            old = _fetch_tree(dst, previous)
        except FloeError as exc:
            if self.strict:
                raise  # --check-semver fails closed: a release it cannot compare with
            self.outcome = SemverOutcome(previous, skipped=f"{previous}: {exc.slug}")
            self.events.warn(f"! Semver: cannot compare with {where}:{previous}: {exc.message}")
            return
        name, old_name = self.tree.manifest.metadata.name, old.manifest.metadata.name
        if old_name != name:
            self.outcome = SemverOutcome(previous, skipped=f"{previous} is platform {old_name}")
            self.events.warn(
                f"! {where}:{previous} is the platform {old_name!r}, not {name!r}: no semver "
                f"comparison; each platform should have its own repository"
            )
            return
        changes = diff_trees(old, self.tree)
        outcome = SemverOutcome(
            previous, bump_for(changes), bump_between(previous, self.version), changes
        )
        self.outcome = outcome
        summary = (
            f"{len(changes)} rule change(s) since {previous} need a {outcome.needed} bump; "
            f"{self.version} is a {outcome.made} bump"
            if changes
            else f"no rule change since {previous}"
        )
        if outcome.enough:
            self.events.step(f"  ✓ Semver: {summary}")
            return
        suggested = next_version(previous, outcome.needed)
        if self.strict:
            raise GateError(
                "publish_semver_too_small",
                f"semver: {summary}; nothing was pushed",
                hint=f"publish {suggested} (recompile with metadata.version "
                f"{suggested.removeprefix('v')}); `floe platform diff {previous} "
                f".floe/artifacts` lists the changes",
                details=outcome.as_json(),
            )
        self.events.warn(f"! Semver: {summary}; publish {suggested} or later instead")


def _fetch_tree(dst: Target, tag: str) -> PlatformTree:
    """The release at `tag`, digest-checked and validated, via a private temp folder."""
    from floe.artifact.pack import unpack_artifact
    from floe.tree.model import load_tree

    desc = dst.resolve(tag)
    with tempfile.TemporaryDirectory(prefix="floe-previous-") as tmp:
        out = Path(tmp) / "tree"
        unpack_artifact(dst, desc, out, require_floe=True)
        return load_tree(out)
