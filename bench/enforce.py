"""Enforcement speed: read a generated dbt project and run every platform rule on it.

    .venv/bin/python bench/enforce.py                 # 1k, 5k, 10k models
    .venv/bin/python bench/enforce.py --sizes 20000   # any sizes
    .venv/bin/python bench/enforce.py --profile 10000 # cProfile top functions
    .venv/bin/python bench/enforce.py --repeat 5      # best of 5 (for a busy machine)

Each generated model has a .sql file with a ref() to the layer below, an entry in a
schema YAML (50 models per file) with a description, four columns (key with
not_null + unique, a pii email, two more), freshness or a recency test where its
layer needs one, and grants on gold. The project is built against the compiled ACME
platform (manifests/acme/manifest.yaml), so every rule family runs. Target: 10,000
models in under 2 s (read + evaluate), growing linearly.

Columns: wall seconds to read the project and to evaluate the rules, their total,
the CPU seconds of both (less sensitive to other processes on a shared machine),
and wall microseconds per model (flat when the work is linear). The rules include
column lineage (every model's SQL parsed with sqlglot): `rules s` is a cold run (empty
lineage cache), `warm s` the same rules with the cache the cold run filled (what a
second `floe compile` does), `lineage s` their difference (the parsing cost). Targets
for lineage on 10,000 models: cold <= 10 s, warm <= 2 s (total, read included).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from floe.platform.compile import compile_platform  # noqa: E402
from floe.rules.dbt_reader import read_project  # noqa: E402
from floe.rules.engine import evaluate  # noqa: E402
from floe.rules.lineage import LineageCache  # noqa: E402
from floe.tree.model import PlatformTree, load_tree  # noqa: E402

LAYERS = ("bronze", "silver", "gold")
PER_FILE = 50


def generate(root: Path, count: int) -> None:
    """A dbt project of `count` models spread over the three layers."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nmodels:\n  bench:\n"
        + "".join(f"    {layer}:\n      +schema: {layer}\n" for layer in LAYERS)
    )
    per_layer = [count // 3 + (1 if i < count % 3 else 0) for i in range(3)]
    for index, layer in enumerate(LAYERS):
        for start in range(0, per_layer[index], PER_FILE):
            folder = root / "models" / layer / f"part_{start // PER_FILE:04d}"
            folder.mkdir(parents=True)
            entries = []
            for number in range(start, min(start + PER_FILE, per_layer[index])):
                name = f"{layer}_entity{number}"
                upstream = f"{LAYERS[index - 1]}_entity{number}" if index else None
                source = f"{{{{ ref('{upstream}') }}}}" if upstream else "raw_table"
                (folder / f"{name}.sql").write_text(
                    f"select entity{number}_id, email, amount, updated_at from {source}\n"
                )
                entries.append(_entry(name, number, layer))
            (folder / "schema.yml").write_text("version: 2\nmodels:\n" + "".join(entries))


def _entry(name: str, number: int, layer: str) -> str:
    extra = ""
    if layer == "silver":
        extra = "    config:\n      meta:\n        freshness: {warn_after: {count: 1}}\n"
    if layer == "gold":
        extra = (
            "    config:\n      grants:\n        select: [analyst]\n"
            "    data_tests:\n      - dbt_utils.recency:\n"
            "          datepart: day\n          field: updated_at\n          interval: 1\n"
        )
    return (
        f"  - name: {name}\n"
        f"    description: Entity {number} in {layer}.\n"
        f"{extra}"
        "    columns:\n"
        f"      - name: entity{number}_id\n"
        "        description: Key.\n"
        "        data_tests: [not_null, unique]\n"
        "      - name: email\n"
        "        description: Contact email.\n"
        "        meta:\n"
        "          classification: pii\n"
        "        data_tests:\n"
        "          - not_null\n"
        "      - name: amount\n"
        "        description: Amount in EUR.\n"
        "        data_tests: [not_null]\n"
        "      - name: updated_at\n"
        "        description: Last change.\n"
        + ("        data_tests: [not_null]\n" if layer != "bronze" else "")
    )


def acme_platform(workdir: Path) -> PlatformTree:
    out = workdir / "artifacts"
    compile_platform(REPO / "manifests" / "acme" / "manifest.yaml", out)
    return load_tree(out)


def measure(
    root: Path, platform: PlatformTree, cache: LineageCache | None = None
) -> tuple[float, float, float, int, bool]:
    """(read seconds, rules seconds, CPU seconds of both, findings, blocking)."""
    cpu = time.process_time()
    started = time.perf_counter()
    project = read_project(root)
    read_done = time.perf_counter()
    result = evaluate(project, platform, cache if cache is not None else LineageCache())
    done = time.perf_counter()
    cpu = time.process_time() - cpu
    return read_done - started, done - read_done, cpu, len(result.findings), result.blocking


def warm_rules(root: Path, platform: PlatformTree) -> float:
    """Rules seconds with a lineage cache filled by a cold run (nothing to parse)."""
    cold = LineageCache()
    measure(root, platform, cold)
    return measure(root, platform, LineageCache(cold.to_json()))[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--profile", type=int, metavar="N", help="profile one run of N models")
    parser.add_argument("--repeat", type=int, default=1, metavar="N", help="best of N runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        workdir = Path(tmp)
        platform = acme_platform(workdir)
        if args.profile:
            root = workdir / f"p{args.profile}"
            generate(root, args.profile)
            profiler = cProfile.Profile()
            profiler.runcall(measure, root, platform)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
            return 0
        header = f"{'models':>8} {'read s':>8} {'rules s':>8} {'total s':>8} {'cpu s':>7}"
        print(header + f" {'µs/model':>9} {'warm s':>7} {'lineage s':>9}  findings")
        for size in args.sizes:
            root = workdir / f"p{size}"
            generate(root, size)
            measure(root, platform)  # warm the OS file cache; the timed run follows
            runs = [measure(root, platform) for _ in range(max(1, args.repeat))]
            read_s, rules_s, cpu_s, findings, blocking = min(runs, key=lambda r: r[0] + r[1])
            total = read_s + rules_s
            warm = min(warm_rules(root, platform) for _ in range(max(1, args.repeat)))
            print(
                f"{size:>8} {read_s:>8.3f} {rules_s:>8.3f} {total:>8.3f} {cpu_s:>7.3f} "
                f"{total / size * 1e6:>9.1f} {warm:>7.3f} {rules_s - warm:>9.3f}  "
                f"{findings}{' (blocking)' if blocking else ''}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
