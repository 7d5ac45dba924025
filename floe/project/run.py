"""`floe run`: dbt build with floe's profile, after the compile gate passed.

dbt runs in a child process (the dbt from this Python environment, `floe[dbt]`) in
the project directory, with anonymous usage statistics off. Its output is streamed
line by line as it comes; its exit code becomes floe's. The run is recorded in
`target/floe/run.json`: the platform it ran under, the dbt command, the exit code
and the counts from dbt's `run_results.json`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from floe.errors import UsageError
from floe.project.profiles import TARGET_NAME

RUN_FILE = "run.json"
RUN_RESULTS = "run_results.json"
DBT_HINT = "pip install 'floe[dbt]'"
# The dbt console script, started from this interpreter (no PATH lookup, no stale dbt).
_DBT_BOOTSTRAP = "import sys; from dbt.cli.main import cli; sys.argv[0] = 'dbt'; sys.exit(cli())"
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
                "dbt_missing",
                f"dbt is not installed in this Python environment ({name} not found)",
                hint=DBT_HINT,
            )


def dbt_args(profiles_dir: Path, extra: Sequence[str]) -> list[str]:
    return ["build", "--profiles-dir", str(profiles_dir), "--target", TARGET_NAME, *extra]


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


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.setdefault("DO_NOT_TRACK", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_dbt(
    project_dir: Path,
    profiles_dir: Path,
    extra: Sequence[str],
    echo: Callable[[str], None],
) -> DbtRun:
    """Run `dbt build` in the project, streaming its output through echo."""
    require_dbt()
    args = dbt_args(profiles_dir.resolve(), extra)
    results_path = target_path(project_dir) / RUN_RESULTS
    # A run_results.json from an earlier run must not be mistaken for this run's.
    results_path.unlink(missing_ok=True)
    argv = [sys.executable, "-c", _DBT_BOOTSTRAP, *args]
    with subprocess.Popen(
        argv,
        cwd=project_dir,
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            echo(line.rstrip("\n"))
        exit_code = child.wait()
    return DbtRun(("dbt", *args), exit_code, summarize_run_results(results_path))


def run_record(
    platform: dict[str, Any], project: str, run: DbtRun, profiles_dir: str
) -> dict[str, Any]:
    return {
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
