"""`floe compile`: verify the cached platform, enforce its rules, write reports and profile.

The steps (the CLI renders them from the returned `CompileOutcome`; nothing prints here):
load the platform (the cache re-checked against the lock, no network), read the project
(dbt's own parse with `parse=True`, a given `--manifest`, a fresh target/manifest.json,
or the files), enforce every rule family, then write profiles.yml only if not blocked.

The report files are written whatever the verdict, so CI can always upload them:
compiled.json, findings.json, junit.xml and findings.sarif under --out. profiles.yml
is (re)generated only when the gate passed, so a profile always reflects a project
that passed against the platform it names. An error before validation (a corrupt
cache, an unreadable project, a failed dbt parse) rewrites every report with that error,
so no report from an earlier compile is left claiming "passed".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe import __version__
from floe.errors import FloeError
from floe.project import report

if TYPE_CHECKING:
    from floe.project.lifecycle import LoadedPlatform
    from floe.project.plugins import ResolvedPlugin
    from floe.project.profiles import Profile
    from floe.project.report_formats import Baseline
    from floe.project.run import ParsedManifest
    from floe.rules.engine import EnforcementResult
    from floe.rules.lineage import LineageCache
    from floe.rules.model import Project
    from floe.tree.model import PlatformTree

DEFAULT_OUT = Path("target/floe")
LINEAGE_CACHE = "lineage-cache.json"  # under --out: column lineage by SQL + upstream digest
MANIFEST_CACHE = "manifest-cache.json"  # under --out: manifest.json's slim form by its sha256
PARSE_PROFILE_DIR = ".parse-profile"  # under --out: floe's profile for dbt's parse


@dataclass(frozen=True)
class CompileOutcome:
    platform: LoadedPlatform
    project: Project
    result: EnforcementResult
    profile: Profile | None
    profile_path: Path | None
    out_dir: Path
    compiled: dict[str, Any]
    parsed: ParsedManifest | None = None  # dbt's parse (floe run, --parse)
    plugins: list[ResolvedPlugin] = field(default_factory=list)  # resolved in this env

    @property
    def blocked(self) -> bool:
        return self.result.blocking

    @property
    def errors(self) -> int:
        return self.result.errors  # waived findings do not count


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
    """compiled.json: platform identity, project, what was read, verdict; sorted keys."""
    document = report.findings_document(result)
    document.update(
        {
            "floe_version": __version__,
            "platform": platform_record(loaded, project_dir),
            "project": project.name,
            "models": len(project.models),
            "read_from": project.read_from or {"kind": project.origin},
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


def write_error_reports(out_dir: Path, exc: FloeError) -> None:
    """Every report says the compile failed with this error (nothing stale survives)."""
    document = report.error_document(exc)
    report.write_text(out_dir / report.COMPILED_FILE, report.dumps_json(document))
    report.write_text(out_dir / report.FINDINGS_FILE, report.dumps_json(document))
    report.write_text(out_dir / report.JUNIT_FILE, report.error_junit(exc))
    report.write_text(out_dir / report.SARIF_FILE, report.dumps_json(report.error_sarif(exc)))


def coverage_line(result: EnforcementResult, minimum: float, blocking: bool = True) -> str:
    """`  ✓ Coverage: 96.9% of columns tested (95/98), 8/8 models tested (minimum 80%)`."""
    c = result.coverage
    mark = "✓" if c.percent >= minimum else ("✗" if blocking else "!")
    return (
        f"  {mark} Coverage: {c.percent:g}% of columns tested ({c.columns_tested}/"
        f"{c.columns_total}), {c.models_tested}/{c.models_total} models tested "
        f"(minimum {minimum:g}%)"
    )


def _load_lineage_cache(out_dir: Path) -> LineageCache:
    """The lineage of the last compile; anything unreadable starts a fresh cache."""
    from floe.project.sealed import read_sealed
    from floe.rules.lineage import LineageCache
    from floe.rules.model import paused_gc

    body = read_sealed(out_dir / LINEAGE_CACHE)  # None: missing, damaged or forged
    try:
        with paused_gc():  # ~100k small objects for 10k models: no collection passes
            data = json.loads(body) if body is not None else None
    except ValueError:
        data = None
    return LineageCache(data)


class _SealedCache:
    """A sealed file under --out as floe.rules.manifest_stream.SlimCache (forgeries unread)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self) -> bytes | None:
        from floe.project.sealed import read_sealed

        return read_sealed(self.path)

    def put(self, body: bytes) -> None:
        from floe.project.sealed import write_sealed

        write_sealed(self.path, body)


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
    *,
    manifest: Path | None = None,
    parse: bool = False,
    dbt_args: Sequence[str] = (),
    baseline: Baseline | None = None,
) -> CompileOutcome:
    """The whole compile; on an error before the verdict every report carries the error.

    With a `baseline` (FINDINGS.json of an earlier compile) only new errors block.
    """
    try:
        return _compile(project_dir, out_dir, profiles_dir, manifest, parse, dbt_args, baseline)
    except FloeError as exc:
        write_error_reports(out_dir, exc)
        raise


def _compile(
    project_dir: Path,
    out_dir: Path,
    profiles_dir: Path | None,
    manifest: Path | None,
    parse: bool,
    dbt_args: Sequence[str],
    baseline: Baseline | None = None,
) -> CompileOutcome:
    from floe.project.lifecycle import load_verified_platform
    from floe.project.plugins import plugin_json, resolve_for_compile
    from floe.project.plugins.dagster import code_location_for
    from floe.project.profiles import build_profile, read_profile_name, write_profile
    from floe.project.report_formats import with_baseline
    from floe.project.sealed import write_sealed
    from floe.project.waivers import apply_waivers, read_waivers
    from floe.rules.engine import evaluate

    loaded = load_verified_platform(project_dir, checked_dir=out_dir)
    resolved = resolve_for_compile(loaded.tree, need_adapter=parse)
    profile = build_profile(loaded.tree, read_profile_name(project_dir), project_dir)
    project, parsed = _read(project_dir, out_dir, loaded, profile, manifest, parse, dbt_args)
    cache = _load_lineage_cache(out_dir)
    result = evaluate(project, loaded.tree, cache)
    governance = loaded.tree.quality_gates.governance
    policy = governance.waivers if governance is not None else None
    result = apply_waivers(result, read_waivers(project_dir, project), policy)
    result = with_baseline(result, baseline)  # known findings do not block
    compact = json.dumps(cache.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
    write_sealed(out_dir / LINEAGE_CACHE, compact.encode())
    written = None
    profile_path = None
    if not result.blocking:
        written = profile
        profile_path = write_profile(profile, profiles_dir or project_dir)
    compiled = compiled_document(loaded, project, result, written, project_dir)
    compiled["plugins"] = [plugin_json(p) for p in resolved]
    outcome = CompileOutcome(
        loaded, project, result, written, profile_path, out_dir, compiled, parsed, resolved
    )
    location = code_location_for(outcome, project_dir, profiles_dir or project_dir)
    if location is not None:
        compiled["orchestrator"] = {
            "dagster": str(location.definitions.relative_to(project_dir)),
            "manifest_digest": location.manifest_digest,
        }
    write_reports(out_dir, result, compiled)  # once, with everything compiled.json says
    return outcome


def _read(
    project_dir: Path,
    out_dir: Path,
    loaded: LoadedPlatform,
    profile: Profile,
    manifest: Path | None,
    parse: bool,
    dbt_args: Sequence[str],
) -> tuple[Project, ParsedManifest | None]:
    from floe.project.profiles import profile_schema, write_profile
    from floe.rules.dbt_reader import read_project

    layers = platform_layers(loaded.tree)
    if not parse:
        kept = _SealedCache(out_dir / MANIFEST_CACHE)
        return read_project(
            project_dir, layers=layers, manifest=manifest, manifest_cache=kept
        ), None
    from floe.project.run import parse_project

    # floe's own reader first: a malformed file is `project_invalid` with its file:line
    # (as in files mode), before dbt's parse reports it in dbt's words.
    read_project(project_dir, layers=layers)
    staging = out_dir / PARSE_PROFILE_DIR
    write_profile(profile, staging)
    parsed = parse_project(project_dir, staging, dbt_args)
    project = read_project(project_dir, layers=layers, document=parsed.document)
    dbt_version = (parsed.document.get("metadata") or {}).get("dbt_version")
    read_from = {"kind": "dbt-parse", "digest": parsed.digest, "dbt_version": dbt_version}
    schema = profile_schema(loaded.tree)
    return replace(project, read_from=read_from, target_schema=schema), parsed
