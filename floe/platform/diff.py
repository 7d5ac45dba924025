"""Rule-by-rule differences between two compiled platform trees, and the semver bump they need.

    changes = diff_trees(old, new)       # [Change(rule, kind, detail, breaking), ...]
    required_bump(old, new)              # "none" | "patch" | "minor" | "major"
    diff_platforms(DiffRequest(a, b))    # each side a folder, a reference or a bare version

Each change is classified from a data team's side:

- tightening: a project that passed may now fail (higher coverage, a new required test,
  strict naming, a new forbidden placement, a privilege or namespace taken away);
- loosening: a project that failed may now pass, or gets more access;
- neutral: nothing a gate checks changes (a new level or role, trust keys, plugins).

Semver guidance: tightening needs at least a minor bump; removing a namespace, a
classification level or a role breaks projects that name it, so it needs a major one;
loosening and neutral changes need a patch. Two identical rule sets need none.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from floe.errors import UsageError
from floe.events import NULL_EVENTS, Events
from floe.tree.model import PlatformTree, load_tree

if TYPE_CHECKING:
    from floe.artifact.verify import DownloadTrust
    from floe.oci.options import RegistryOptions

Kind = Literal["tightening", "loosening", "neutral"]
Bump = Literal["none", "patch", "minor", "major"]
_ENFORCEMENT = {"off": 0, "warn": 1, "strict": 2}
_BUMPS: tuple[Bump, ...] = ("none", "patch", "minor", "major")


@dataclass(frozen=True)
class Change:
    rule: str  # e.g. quality_gates.minimum_test_coverage
    kind: Kind
    detail: str  # what changed, old -> new
    breaking: bool = False  # removes something projects may name (a major bump)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "detail": self.detail,
            "breaking": self.breaking,
        }


class _Differ:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, rule: str, kind: Kind, detail: str, *, breaking: bool = False) -> None:
        self.changes.append(Change(rule, kind, detail, breaking))

    def number(self, rule: str, old: float, new: float) -> None:
        """Higher is stricter."""
        if old != new:
            self.add(rule, "tightening" if new > old else "loosening", f"{old} -> {new}")

    def flag(self, rule: str, old: bool, new: bool) -> None:
        """True is stricter."""
        if old != new:
            self.add(rule, "tightening" if new else "loosening", f"{old} -> {new}")

    def required(self, rule: str, old: list[str], new: list[str]) -> None:
        """Each item is a requirement: adding tightens, removing loosens."""
        for item in sorted(set(new) - set(old)):
            self.add(rule, "tightening", f"added {item!r}")
        for item in sorted(set(old) - set(new)):
            self.add(rule, "loosening", f"removed {item!r}")

    def granted(self, rule: str, old: list[str], new: list[str], *, breaking: bool = False) -> None:
        """Each item is an allowance: adding loosens, removing tightens (maybe breaking)."""
        for item in sorted(set(new) - set(old)):
            self.add(rule, "loosening", f"added {item!r}")
        for item in sorted(set(old) - set(new)):
            self.add(rule, "tightening", f"removed {item!r}", breaking=breaking)

    def named(self, rule: str, old: list[str], new: list[str]) -> None:
        """Names projects refer to: adding is neutral, removing breaks them."""
        for item in sorted(set(new) - set(old)):
            self.add(rule, "neutral", f"added {item!r}")
        for item in sorted(set(old) - set(new)):
            self.add(rule, "tightening", f"removed {item!r}", breaking=True)

    def pattern(self, rule: str, old: str | None, new: str | None) -> None:
        """A regex or prefix: a new or changed one may fail names that passed."""
        if old != new:
            kind: Kind = "loosening" if new is None else "tightening"
            self.add(rule, kind, f"{old!r} -> {new!r}")

    def neutral(self, rule: str, old: Any, new: Any) -> None:
        if old != new:
            self.add(rule, "neutral", f"{old!r} -> {new!r}")


def _quality_and_naming(d: _Differ, old: PlatformTree, new: PlatformTree) -> None:
    q_old, q_new = old.quality_gates, new.quality_gates
    d.number(
        "quality_gates.minimum_test_coverage",
        q_old.minimum_test_coverage,
        q_new.minimum_test_coverage,
    )
    d.required("quality_gates.required_tests", q_old.required_tests, q_new.required_tests)
    d.flag("quality_gates.block_on_failure", q_old.block_on_failure, q_new.block_on_failure)
    n_old, n_new = old.naming_rules, new.naming_rules
    d.number("naming.enforcement", _ENFORCEMENT[n_old.enforcement], _ENFORCEMENT[n_new.enforcement])
    if n_old.pattern != n_new.pattern:
        d.add("naming.pattern", "tightening", f"{n_old.pattern} -> {n_new.pattern}")
    for layer in sorted(set(n_old.prefixes) | set(n_new.prefixes)):
        d.pattern(f"naming.prefixes.{layer}", n_old.prefixes.get(layer), n_new.prefixes.get(layer))
    d.pattern("naming.custom_regex", n_old.custom_regex, n_new.custom_regex)
    l_old, l_new = old.layer_constraints.layers, new.layer_constraints.layers
    for layer in sorted(set(l_old) | set(l_new)):
        before = l_old[layer].required_tests if layer in l_old else []
        after = l_new[layer].required_tests if layer in l_new else []
        d.required(f"layers.{layer}.required_tests", before, after)


def _classification(d: _Differ, old: PlatformTree, new: PlatformTree) -> None:
    c_old, c_new = old.classification, new.classification
    d.named("classification.levels", c_old.levels, c_new.levels)
    d.neutral("classification.default_level", c_old.default_level, c_new.default_level)
    d.flag("classification.propagate", c_old.propagate, c_new.propagate)
    for level in sorted(set(c_old.rules) | set(c_new.rules)):
        before, after = c_old.rules.get(level), c_new.rules.get(level)
        rule = f"classification.rules.{level}"
        d.required(
            f"{rule}.forbidden_layers",
            before.forbidden_layers if before else [],
            after.forbidden_layers if after else [],
        )
        d.required(
            f"{rule}.forbidden_namespaces",
            before.forbidden_namespaces if before else [],
            after.forbidden_namespaces if after else [],
        )
        d.flag(
            f"{rule}.requires_description",
            bool(before and before.requires_description),
            bool(after and after.requires_description),
        )


def _access_and_catalog(d: _Differ, old: PlatformTree, new: PlatformTree) -> None:
    a_old, a_new = old.access_control, new.access_control
    d.named("access_control.roles", a_old.roles, a_new.roles)
    for role in sorted(set(a_old.permissions) | set(a_new.permissions)):
        d.granted(
            f"access_control.permissions.{role}",
            a_old.permissions.get(role, []),
            a_new.permissions.get(role, []),
        )
    ns_old, ns_new = old.namespaces, new.namespaces
    d.granted("catalog.namespaces", ns_old.namespaces, ns_new.namespaces, breaking=True)
    for namespace in sorted(set(ns_old.grants) | set(ns_new.grants)):
        g_old, g_new = ns_old.grants.get(namespace, {}), ns_new.grants.get(namespace, {})
        for role in sorted(set(g_old) | set(g_new)):
            d.granted(
                f"catalog.grants.{namespace}.{role}", g_old.get(role, []), g_new.get(role, [])
            )
    s_old, s_new = old.schema_registry, new.schema_registry
    d.flag(
        "catalog.require_column_descriptions",
        s_old.require_column_descriptions,
        s_new.require_column_descriptions,
    )
    d.flag(
        "catalog.require_column_data_types",
        s_old.require_column_data_types,
        s_new.require_column_data_types,
    )
    d.pattern("catalog.column_name_pattern", s_old.column_name_pattern, s_new.column_name_pattern)


def _manifest(d: _Differ, old: PlatformTree, new: PlatformTree) -> None:
    m_old, m_new = old.manifest, new.manifest
    d.flag(
        "security.require_signed_artifacts",
        m_old.security.require_signed_artifacts,
        m_new.security.require_signed_artifacts,
    )
    d.neutral(
        "security.trusted_keys", len(m_old.security.trusted_keys), len(m_new.security.trusted_keys)
    )
    d.neutral("plugins", m_old.plugins, m_new.plugins)


def diff_trees(old: PlatformTree, new: PlatformTree) -> list[Change]:
    """Every rule that differs between `old` and `new`, in a stable order."""
    d = _Differ()
    for part in (_quality_and_naming, _classification, _access_and_catalog, _manifest):
        part(d, old, new)
    return d.changes


def bump_for(changes: list[Change]) -> Bump:
    if not changes:
        return "none"
    if any(change.breaking for change in changes):
        return "major"
    return "minor" if any(change.kind == "tightening" for change in changes) else "patch"


def required_bump(old_tree: PlatformTree, new_tree: PlatformTree) -> Bump:
    """The smallest semver bump from `old_tree` to `new_tree` (for publish's check)."""
    return bump_for(diff_trees(old_tree, new_tree))


def bump_between(old_version: str, new_version: str) -> Bump:
    """The bump two versions actually make ("none" when new is not greater)."""

    old, new = _core(old_version), _core(new_version)
    if new <= old:
        return "none"
    return "major" if new[0] > old[0] else "minor" if new[1] > old[1] else "patch"


def _core(version: str) -> tuple[int, int, int]:
    parts = version.removeprefix("v").split("-")[0].split("+")[0].split(".")
    numbers = [int(part) if part.isdigit() else 0 for part in parts[:3]]
    major, minor, patch = (*numbers, 0, 0, 0)[:3]
    return major, minor, patch


def bump_is_enough(needed: Bump, made: Bump) -> bool:
    return _BUMPS.index(made) >= _BUMPS.index(needed)


@dataclass(frozen=True)
class DiffReport:
    old: str  # name@version of each side
    new: str
    changes: list[Change]
    needed: Bump  # the smallest bump the changes need
    made: Bump  # the bump the two versions make
    sources: tuple[str, str] = ("", "")  # each side's folder, or reference@digest

    @property
    def enough(self) -> bool:
        return bump_is_enough(self.needed, self.made)

    def as_json(self) -> dict[str, Any]:
        return {
            "event": "platform_diff",
            "old": self.old,
            "new": self.new,
            "sources": {"old": self.sources[0], "new": self.sources[1]},
            "changes": [change.as_json() for change in self.changes],
            "semver": {"needed": self.needed, "made": self.made, "enough": self.enough},
        }


def diff_folders(old_root: Path, new_root: Path) -> DiffReport:
    """Diff two compiled tree folders (each verified against its own content digest)."""
    return _report(load_tree(old_root), load_tree(new_root), (str(old_root), str(new_root)))


def _report(old: PlatformTree, new: PlatformTree, sources: tuple[str, str]) -> DiffReport:
    changes = diff_trees(old, new)
    old_meta, new_meta = old.manifest.metadata, new.manifest.metadata
    return DiffReport(
        old=f"{old_meta.name}@{old_meta.version}",
        new=f"{new_meta.name}@{new_meta.version}",
        changes=changes,
        needed=bump_for(changes),
        made=bump_between(old_meta.version, new_meta.version),
        sources=sources,
    )


def _no_trust() -> DownloadTrust:
    from floe.artifact.verify import DownloadTrust

    return DownloadTrust()


@dataclass(frozen=True)
class DiffRequest:
    """`platform diff OLD NEW`: each side a compiled folder, `oci://...`/`oci-layout://...`,
    or a bare version (`v1.2.0`, `sha256:...`) in `registry` (else the registry this
    folder means, floe.platform.where). References are pulled verified with `trust`."""

    old: str
    new: str
    trust: DownloadTrust = field(default_factory=_no_trust)
    registry: str | None = None
    options: RegistryOptions | None = None


def diff_platforms(request: DiffRequest, events: Events = NULL_EVENTS) -> DiffReport:
    """Diff two platforms; pulled sides go through a private temp folder, removed after."""
    with tempfile.TemporaryDirectory(prefix="floe-diff-") as tmp:
        old, old_source = _side(request.old, Path(tmp) / "old", request, events)
        new, new_source = _side(request.new, Path(tmp) / "new", request, events)
    return _report(old, new, (old_source, new_source))


def _side(text: str, out: Path, request: DiffRequest, events: Events) -> tuple[PlatformTree, str]:
    """A folder (it wins over a tag of the same name), else a pulled, verified release."""
    from floe.artifact.pull import PullRequest, pull_to_dir
    from floe.artifact.versions import parse_version
    from floe.oci.reference import DIGEST_RE, is_reference
    from floe.oci.resolve import expand_reference
    from floe.platform.where import reference_here

    if Path(text).is_dir():
        return load_tree(Path(text)), text
    if not (is_reference(text) or parse_version(text) or DIGEST_RE.match(text)):
        raise UsageError(
            "diff_operand_invalid",
            f"{text!r} is neither a compiled platform folder, a reference nor a version",
            hint="pass a folder written by `floe platform compile`, oci://HOST/REPO:v1.2.0, "
            "oci-layout://PATH:v1.2.0, or v1.2.0 (in the configured registry)",
        )
    if request.registry is not None and not is_reference(text):
        ref = str(expand_reference(text, request.registry))
    else:
        ref = reference_here(text)
    pulled = pull_to_dir(
        PullRequest(ref, out, trust=request.trust, options=request.options), events
    )
    if not pulled.unpacked.is_floe:
        raise UsageError(
            "artifact_not_floe",
            f"{pulled.reference} ({pulled.digest}) is not a floe platform",
            hint="diff releases published with `floe platform publish`",
        )
    return load_tree(out), str(pulled.reference.with_digest(pulled.digest))
