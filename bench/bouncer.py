"""floe against dbt-bouncer on the same generated project's target/manifest.json.

    make bench-bouncer                         # builds bench/.venv-bouncer, then runs this
    .venv/bin/python bench/bouncer.py --models 10000
    .venv/bin/python bench/bouncer.py --floe-only --workdir /tmp/floe-10k  # floe alone

Both tools read the same `target/manifest.json`, written by a real `dbt parse` of the
project bench/enforce.py generates (gold models get an owner and a meta freshness, as
dbt_utils is not installed). dbt-bouncer runs the checks that match floe's families:
descriptions, naming per layer, contracts enforced (gold and public models), owner meta,
unique tests, permitted upstream layers, access, chained views, incremental unique keys,
exposures on public models, and the SQL checks (select *, hard-coded references,
cartesian joins; both tools parse SQL with sqlglot). floe runs its whole
`floe compile` (every family of the compiled ACME platform: naming, layer tests, quality
gates, classification, access, namespaces, schema, and the catalogue preset the ACME
manifest adopts), so floe does at least the same work. Each tool runs as its own
command, wall time best of --repeat; the ratio is floe / dbt-bouncer (target <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from enforce import generate  # noqa: E402

BOUNCER = REPO / "bench" / ".venv-bouncer" / "bin" / "dbt-bouncer"
BIN = Path(sys.executable).parent
ENV = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1")
RECENCY = (
    "    data_tests:\n      - dbt_utils.recency:\n"
    "          datepart: day\n          field: updated_at\n          interval: 1\n"
)
GOLD_META = (
    "      meta:\n        freshness: {warn_after: {count: 1}}\n        owner: bi@acme.example\n"
)

BOUNCER_CONFIG = """\
dbt_artifacts_dir: target
manifest_checks:
  - name: check_model_description_populated
  - name: check_model_names
    include: ^models/bronze
    model_name_pattern: ^bronze_
  - name: check_model_names
    include: ^models/silver
    model_name_pattern: ^silver_
  - name: check_model_names
    include: ^models/gold
    model_name_pattern: ^gold_
  - name: check_model_has_contracts_enforced
    include: ^models/gold
  - name: check_model_contract_enforced_for_public_model
  - name: check_model_has_meta_keys
    include: ^models/gold
    keys: [owner]
  - name: check_model_has_unique_test
  - name: check_lineage_permitted_upstream_models
    include: ^models/bronze
    upstream_path_pattern: $^
  - name: check_lineage_permitted_upstream_models
    include: ^models/silver
    upstream_path_pattern: ^models/bronze|^models/silver
  - name: check_lineage_permitted_upstream_models
    include: ^models/gold
    upstream_path_pattern: ^models/silver|^models/gold
  - name: check_model_access
    include: ^models/bronze
    access: private
  - name: check_model_max_chained_views
  - name: check_model_incremental_has_unique_key
  - name: check_exposure_based_on_non_public_models
  - name: check_model_does_not_use_select_star
    include: ^models/gold
  - name: check_model_hard_coded_references
  - name: check_model_does_not_use_cartesian_join
"""


def prepare(root: Path, models: int) -> None:
    """Generate the project, make it parseable without packages, and run `dbt parse`."""
    generate(root, models)
    with (root / "dbt_project.yml").open("a") as handle:
        handle.write("profile: bench\nconfig-version: 2\n")
    (root / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'bench.duckdb'}\n"
    )
    for schema in (root / "models" / "gold").rglob("schema.yml"):
        text = schema.read_text().replace(RECENCY, "")
        schema.write_text(
            text.replace("        select: [analyst]\n", "        select: [analyst]\n" + GOLD_META)
        )
    (root / "dbt-bouncer.yml").write_text(BOUNCER_CONFIG)
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "dbt"), "parse", "--project-dir", str(root), "--profiles-dir", str(root)],
        check=True, env=ENV, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"dbt parse of {models} models: {time.perf_counter() - started:.1f} s", flush=True)


def install_platform(root: Path, workdir: Path) -> None:
    """The compiled ACME platform, cached and locked in the project as `floe init` does."""
    from lifecycle_helpers import install_state

    from floe.platform.compile import compile_platform
    from floe.tree.model import read_tree_files

    out = workdir / "artifacts"
    compile_platform(REPO / "manifests" / "acme" / "manifest.yaml", out)
    install_state(root, read_tree_files(out))


def timed(command: list[str], cwd: Path, repeat: int) -> tuple[float, int, str]:
    best, code, out = float("inf"), 0, ""
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
        best = min(best, time.perf_counter() - started)
        code, out = done.returncode, done.stdout + done.stderr
    return best, code, out


def measured(command: list[str], cwd: Path) -> tuple[float, float, int, int]:
    """One run: (wall s, CPU s of the process, its peak RSS in MB, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, proc.returncode


def floe_only(root: Path, repeat: int) -> None:
    """`floe compile` with target/manifest.json, then on the files alone: a warm-up run,
    then `repeat` runs; median and min wall, median CPU, peak RSS."""
    floe_cmd = [str(BIN / "floe"), "compile", "--dir", str(root)]
    manifest = root / "target" / "manifest.json"
    aside = root / "manifest.json.aside"
    print(f"{'floe compile':<24} {'median s':>9} {'min s':>7} {'cpu s':>7} {'peak MB':>8}  exit")
    for label in ("with manifest.json", "files (no manifest)"):
        if label.startswith("files"):
            manifest.rename(aside)
        try:
            measured(floe_cmd, root)  # warm: lineage cache and OS file cache filled
            runs = [measured(floe_cmd, root) for _ in range(max(1, repeat))]
        finally:
            if aside.exists():
                aside.rename(manifest)
        walls = sorted(r[0] for r in runs)
        cpus = sorted(r[1] for r in runs)
        print(
            f"{label:<24} {walls[len(walls) // 2]:>9.2f} {walls[0]:>7.2f} "
            f"{cpus[len(cpus) // 2]:>7.2f} {max(r[2] for r in runs):>8}  {runs[-1][3]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workdir", type=Path, help="keep the parsed project here and reuse it next time"
    )
    parser.add_argument(
        "--floe-only",
        action="store_true",
        help="no dbt-bouncer: floe compile with and without the manifest (median of --repeat)",
    )
    args = parser.parse_args(argv)
    if not args.floe_only and not BOUNCER.is_file():
        print(f"dbt-bouncer not found at {BOUNCER}: run `make bench-bouncer`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="floe-bouncer-") as tmp:
        work = args.workdir or Path(tmp)
        root = work / f"project-{args.models}"
        if not (root / "target" / "manifest.json").is_file():
            shutil.rmtree(root, ignore_errors=True)
            prepare(root, args.models)
        shutil.rmtree(root / ".floe", ignore_errors=True)
        install_platform(root, work / "platform")
        if args.floe_only:
            floe_only(root, args.repeat)
            return 0
        floe_cmd = [str(BIN / "floe"), "compile", "--dir", str(root), "--format", "json"]
        bouncer_cmd = [str(BOUNCER), "--config-file", str(root / "dbt-bouncer.yml")]
        floe_s, floe_code, floe_out = timed(floe_cmd, root, args.repeat)
        source = json.loads(floe_out) if floe_out.startswith("{") else {}
        findings = len(source.get("findings", []))
        bouncer_s, bouncer_code, bouncer_out = timed(bouncer_cmd, root, args.repeat)
        if bouncer_code not in (0, 1):
            print(bouncer_out[-2000:], file=sys.stderr)
            return 2
    print(f"{'tool':<12} {'models':>7} {'wall s':>8}  exit  findings")
    print(f"{'floe':<12} {args.models:>7} {floe_s:>8.2f}  {floe_code:>4}  {findings}")
    print(f"{'dbt-bouncer':<12} {args.models:>7} {bouncer_s:>8.2f}  {bouncer_code:>4}  -")
    print(f"ratio floe / dbt-bouncer: {floe_s / bouncer_s:.2f} (target <= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
