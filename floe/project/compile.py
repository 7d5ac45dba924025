"""`floe compile`: verify the cached platform, enforce its rules, write reports and profile.

    [1/4] Loading platform artifacts    the cache re-checked against the lock (no network)
    [2/4] Validating against platform   every rule family over the dbt project
    [3/4] Generating dbt profile        profiles.yml for the compute plugin (only if not blocked)
    [4/4] Compilation successful        or `Compilation blocked: N errors` (exit 1)

The report files are written whatever the verdict, so CI can always upload them:
compiled.json, findings.json, junit.xml and findings.sarif under --out. profiles.yml
is (re)generated only when the gate passed, so a profile always reflects a project
that passed against the platform it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe import __version__
from floe.project import report

if TYPE_CHECKING:
    from floe.project.lifecycle import LoadedPlatform
    from floe.project.profiles import Profile
    from floe.project.report_formats import Baseline
    from floe.rules.engine import EnforcementResult
    from floe.rules.model import Project
    from floe.tree.model import PlatformTree, QualityGates

DEFAULT_OUT = Path("target/floe")
Echo = Callable[[str], None]


@dataclass(frozen=True)
class CompileOutcome:
    platform: LoadedPlatform
    project: Project
    result: EnforcementResult
    profile: Profile | None
    profile_path: Path | None
    out_dir: Path
    compiled: dict[str, Any]

    @property
    def blocked(self) -> bool:
        return self.result.blocking

    @property
    def errors(self) -> int:
        return sum(1 for f in self.result.findings if f.severity == "error")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def platform_record(loaded: LoadedPlatform, project_dir: Path) -> dict[str, Any]:
    """Which platform a project was checked against (compiled.json, run.json)."""
    meta = loaded.tree.manifest.metadata
    return {
        "name": meta.name,
        "version": loaded.version,
        "ref": loaded.ref,
        "manifest_digest": loaded.manifest_digest,
        "content_digest": loaded.content_digest,
        "signer": loaded.signer,
        "tree_dir": _relative(loaded.tree_dir, project_dir),
    }


def compiled_document(
    loaded: LoadedPlatform,
    project: Project,
    result: EnforcementResult,
    profile: Profile | None,
    project_dir: Path,
) -> dict[str, Any]:
    """compiled.json: platform identity, project, verdict; no clock, sorted keys."""
    document = report.findings_document(result)
    document.update(
        {
            "floe_version": __version__,
            "platform": platform_record(loaded, project_dir),
            "project": project.name,
            "models": len(project.models),
            "status": "blocked" if result.blocking else "passed",
            "profile": None
            if profile is None
            else {"name": profile.profile_name, "target": "floe", "compute": profile.compute},
        }
    )
    return document


def write_reports(out_dir: Path, result: EnforcementResult, compiled: dict[str, Any]) -> None:
    report.write_text(out_dir / report.COMPILED_FILE, report.dumps_json(compiled))
    report.write_text(
        out_dir / report.FINDINGS_FILE, report.dumps_json(report.findings_document(result))
    )
    report.write_text(out_dir / report.JUNIT_FILE, report.junit_document(result))
    report.write_text(out_dir / report.SARIF_FILE, report.dumps_json(report.sarif_document(result)))


def coverage_line(result: EnforcementResult, minimum: float, blocking: bool = True) -> str:
    """`  ✓ Coverage: 96.9% of columns tested (95/98), 8/8 models tested (minimum 80%)`."""
    c = result.coverage
    mark = "✓" if c.percent >= minimum else ("✗" if blocking else "!")
    return (
        f"  {mark} Coverage: {c.percent:g}% of columns tested ({c.columns_tested}/"
        f"{c.columns_total}), {c.models_tested}/{c.models_total} models tested "
        f"(minimum {minimum:g}%)"
    )


def _print_validation(
    result: EnforcementResult, gates: QualityGates, echo: Echo, console: Any
) -> None:
    for check in result.checks:
        echo(report.check_line(check))
    if result.findings and console is not None:
        report.print_findings(console, result.findings)
    echo(coverage_line(result, gates.minimum_test_coverage, gates.block_on_failure))


def platform_layers(tree: PlatformTree) -> dict[str, str]:
    """The platform's layers and their name prefixes, so the reader infers layers its way."""
    from floe.rules.context import DEFAULT_PREFIXES

    rules = tree.naming_rules
    layers = dict(rules.prefixes) or dict(DEFAULT_PREFIXES[rules.pattern])
    for layer in tree.layer_constraints.layers:
        layers.setdefault(layer, "")
    return layers


def compile_project(
    project_dir: Path,
    out_dir: Path,
    profiles_dir: Path | None = None,
    echo: Echo | None = None,
    console: Any = None,
    baseline: Baseline | None = None,
) -> CompileOutcome:
    """Run the whole compile; echo (and console for the table) only in text mode."""
    from floe.project.lifecycle import load_verified_platform
    from floe.project.profiles import build_profile, read_profile_name, write_profile
    from floe.project.report_formats import with_baseline
    from floe.rules.dbt_reader import read_project
    from floe.rules.engine import evaluate

    say: Echo = echo or (lambda _text: None)
    say("[1/4] Loading platform artifacts")
    loaded = load_verified_platform(project_dir)
    meta = loaded.tree.manifest.metadata
    say(f"  ✓ Platform: {meta.name} {loaded.version}")
    say(f"  ✓ Cached at: {_relative(loaded.tree_dir, project_dir)}/")

    say("[2/4] Validating against platform")
    project = read_project(project_dir, layers=platform_layers(loaded.tree))
    result = with_baseline(evaluate(project, loaded.tree), baseline)  # known findings pass
    _print_validation(result, loaded.tree.quality_gates, say, console if echo else None)

    profile = None
    profile_path = None
    say("[3/4] Generating dbt profile")
    if result.blocking:
        say("  - skipped: profiles.yml is written only when validation passes")
    else:
        profile = build_profile(loaded.tree, read_profile_name(project_dir), project_dir)
        profile_path = write_profile(profile, profiles_dir or project_dir)
        shown = _relative(profile_path, project_dir)
        say(f"  ✓ {shown} (target: {profile.compute})")
        for note in profile.notes:
            say(f"  ! {note}")

    compiled = compiled_document(loaded, project, result, profile, project_dir)
    write_reports(out_dir, result, compiled)
    return CompileOutcome(loaded, project, result, profile, profile_path, out_dir, compiled)
