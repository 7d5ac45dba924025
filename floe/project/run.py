"""`floe run`: dbt parses in-process, floe enforces on that parse, dbt builds exactly it.

The gate cannot be bypassed by anything dbt resolves at parse time (`var()`, `--vars`,
`env_var()`, a custom `generate_schema_name`, versions, snapshots, packages): dbt's own
programmatic runner parses the project with the user's arguments and floe's profile,
floe reads the parsed manifest object (resolved schema, rendered config), and the same
object is handed to `dbtRunner(manifest=...)` for the build, so dbt does not parse again.
`target/floe/run.json` records the digest of the manifest that was checked and of the
one that was built (computed from the object dbt built from, after the build).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from floe.errors import GateError, UsageError
from floe.project.profiles import TARGET_NAME

RUN_FILE = "run.json"
RUN_RESULTS = "run_results.json"
DBT_HINT = "pip install 'floe[dbt]'"
# Options of the user's dbt arguments that also shape the parse (the rest go to build only).
_PARSE_OPTIONS = frozenset({"--vars", "--target", "-t", "--profile"})
_PARSE_FLAGS = frozenset({"--no-partial-parse", "--partial-parse"})
# Keys that dbt fills in while it compiles and runs (not part of what was parsed).
_VOLATILE = frozenset(
    {
        "compiled_code",
        "compiled",
        "compiled_path",
        "build_path",
        "extra_ctes",
        "extra_ctes_injected",
    }
)
# dbt statuses counted in the record (run_results.json `results[].status`).
STATUSES = ("success", "pass", "fail", "error", "warn", "skipped", "no-op")


@dataclass(frozen=True)
class DbtRun:
    command: tuple[str, ...]  # as the user would type it: ("dbt", "build", ...)
    exit_code: int
    results: dict[str, Any] | None


def require_dbt() -> None:
    """dbt-core with the duckdb adapter must be installed in this environment.

    Looks for the files instead of importing them: importing dbt costs seconds.
    """
    spec = importlib.util.find_spec("dbt")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for module in ("cli/main.py", "adapters/duckdb/__init__.py"):
        if not any((root / module).is_file() for root in roots):
            name = "dbt." + module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
            raise UsageError(
                "dbt_not_installed",
                f"dbt is not installed in this Python environment ({name} not found)",
                hint=DBT_HINT,
            )


def dbt_args(
    command: str, profiles_dir: Path, project_dir: Path, extra: Sequence[str]
) -> list[str]:
    return [
        command,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(profiles_dir),
        "--target",
        TARGET_NAME,
        "--no-send-anonymous-usage-stats",
        *extra,
    ]


def parse_args(extra: Sequence[str]) -> list[str]:
    """The user's arguments that `dbt parse` takes too (vars, target, profile)."""
    out: list[str] = []
    items = list(extra)
    i = 0
    while i < len(items):
        arg = items[i]
        option = arg.split("=", 1)[0]
        if arg in _PARSE_FLAGS or (option in _PARSE_OPTIONS and "=" in arg):
            out.append(arg)
        elif option in _PARSE_OPTIONS and i + 1 < len(items):
            out.extend(items[i : i + 2])
            i += 1
        i += 1
    return out


def target_path(project_dir: Path) -> Path:
    """dbt's target folder (dbt_project.yml `target-path`, default `target`)."""
    try:
        data = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    configured = data.get("target-path") if isinstance(data, dict) else None
    env = os.environ.get("DBT_TARGET_PATH")
    return project_dir / str(env or configured or "target")


def summarize_run_results(path: Path) -> dict[str, Any] | None:
    """Counts per status from dbt's run_results.json, or None when dbt wrote none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        return None
    counts = dict.fromkeys(STATUSES, 0)
    for entry in results:
        status = str(entry.get("status", "unknown")).lower() if isinstance(entry, dict) else ""
        counts[status] = counts.get(status, 0) + 1
    metadata = data.get("metadata") or {}
    return {
        "counts": counts,
        "total": len(results),
        "elapsed_seconds": data.get("elapsed_time"),
        "invocation_id": metadata.get("invocation_id"),
        "dbt_version": metadata.get("dbt_version"),
    }


@dataclass(frozen=True)
class ParsedManifest:
    """dbt's parse of the project: the live object (built later) and its document."""

    manifest: Any  # dbt.contracts.graph.manifest.Manifest
    document: dict[str, Any]
    digest: str


def manifest_digest(document: dict[str, Any]) -> str:
    """sha256 of what dbt parsed: every node, source, macro, ... without run-time fields."""
    body = {key: value for key, value in document.items() if key != "metadata"}
    text = json.dumps(_stable(body), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
        depends = out.get("depends_on")
        if isinstance(depends, dict):  # generic tests gain macro dependencies as they compile
            out["depends_on"] = {k: v for k, v in depends.items() if k != "macros"}
        return out
    if isinstance(value, list | tuple):
        return [_stable(item) for item in value]
    return value


def _dbt_failure(what: str, result: Any) -> UsageError:
    exc = getattr(result, "exception", None)
    why = " ".join(str(exc).split())[:400] if exc else "see dbt's output above"
    return UsageError(
        "dbt_parse_failed",
        f"dbt {what} failed: {why}",
        hint="fix the project so that `dbt parse` succeeds, then run floe again",
    )


def _release_adapters() -> None:
    """Close dbt's in-process connections (DuckDB keeps its database file open otherwise)."""
    factory: Any = importlib.import_module("dbt.adapters.factory")
    try:
        duckdb: Any = importlib.import_module("dbt.adapters.duckdb.connections")
    except ImportError:  # another adapter: dbt's own cleanup is enough
        duckdb = None
    if duckdb is not None:
        manager = duckdb.DuckDBConnectionManager
        if manager._ENV is not None:
            manager._ENV.close()
        manager.close_all_connections()
    factory.reset_adapters()


@contextlib.contextmanager
def _in_project(project_dir: Path) -> Any:
    """dbt resolves relative paths (the DuckDB file) from the working directory."""
    old = os.environ.get("DBT_SEND_ANONYMOUS_USAGE_STATS")
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    try:
        with contextlib.chdir(project_dir):
            yield
    finally:
        _release_adapters()
        if old is None:
            os.environ.pop("DBT_SEND_ANONYMOUS_USAGE_STATS", None)
        else:
            os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = old


def parse_project(project_dir: Path, profiles_dir: Path, extra: Sequence[str]) -> ParsedManifest:
    """`dbt parse` in-process with the user's vars/target and floe's profile."""
    require_dbt()
    from dbt.cli.main import dbtRunner

    args = dbt_args("parse", profiles_dir.resolve(), project_dir.resolve(), parse_args(extra))
    # dbt logs the parse on stdout; floe's stdout carries its own report (one JSON document
    # with --format json), so the parse's log lines go to stderr.
    with _in_project(project_dir), contextlib.redirect_stdout(sys.stderr):
        result = dbtRunner().invoke(args)
    manifest: Any = result.result
    if not result.success or not hasattr(manifest, "writable_manifest"):
        raise _dbt_failure("parse", result)
    document = manifest.writable_manifest().to_dict()
    return ParsedManifest(manifest, document, manifest_digest(document))


def build_parsed(
    project_dir: Path, profiles_dir: Path, extra: Sequence[str], parsed: ParsedManifest
) -> tuple[DbtRun, str]:
    """`dbt build` from the parsed manifest object; returns the run and the built digest."""
    from dbt.cli.main import dbtRunner

    args = dbt_args("build", profiles_dir.resolve(), project_dir.resolve(), extra)
    results_path = target_path(project_dir) / RUN_RESULTS
    # A run_results.json from an earlier run must not be mistaken for this run's.
    results_path.unlink(missing_ok=True)
    runner = dbtRunner(manifest=parsed.manifest)
    with _in_project(project_dir):
        result = runner.invoke(args)
    if runner.manifest is not parsed.manifest:  # dbt keeps the object it was given
        raise GateError("run_manifest_mismatch", "dbt built from another manifest object")
    manifest: Any = parsed.manifest
    built = manifest_digest(manifest.writable_manifest().to_dict())
    exit_code = 0 if result.success else (2 if result.exception is not None else 1)
    run = DbtRun(("dbt", *args), exit_code, summarize_run_results(results_path))
    return run, built


def run_record(
    platform: dict[str, Any],
    project: str,
    run: DbtRun,
    profiles_dir: str,
    digests: tuple[str, str],
) -> dict[str, Any]:
    return {
        "manifest": {"checked_digest": digests[0], "built_digest": digests[1]},
        "platform": platform,
        "project": project,
        "profiles_dir": profiles_dir,
        "dbt": {
            "command": list(run.command),
            "exit_code": run.exit_code,
            "results": run.results,
        },
        "status": "success" if run.exit_code == 0 else "failed",
    }
