"""Transfer benchmark: floe vs oras-py vs skopeo vs a bare `requests` baseline.

Starts its own docker-registry on 127.0.0.1 (the test suite's fixture class) and,
in one run, pushes and pulls three payloads with every tool:

  (a) the compiled demo platform (manifests/acme)
  (b) one 200 MB file            (--quick: 20 MB)
  (c) 1000 files of 2 KB         (--quick: 200 files)

Every measured step runs as its own child process, so wall time includes
interpreter start-up where a user would pay it, and peak RSS is the child's
(GNU time, the kernel's VmHWM). Children cache bytecode in the run's temp folder
(after one untimed warm-up pass), as an installed package has it, even when the
calling shell sets PYTHONDONTWRITEBYTECODE. For (a) the registry's log gives the
number of requests each step made. API workers get a 600 s network deadline (a
loaded machine makes a run slow, not failed). Run:
`.venv/bin/python bench/transfer.py [--quick] [--repeat N] [--only b]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLOE = str(Path(PYTHON).parent / "floe")
TAG = "v1.2.3"


@dataclass
class Row:
    scenario: str
    tool: str
    op: str
    seconds: float
    payload: int
    rss_mb: float
    work: float | None = None  # seconds inside the worker after its imports (API rows)
    requests: int | None = None  # requests in the registry's log during this step

    @property
    def mb_per_s(self) -> float:
        return self.payload / 1e6 / self.seconds if self.seconds else 0.0


CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPATH"] = str(ROOT)


def run_child(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Run one child; wall seconds, its own peak RSS in MB (GNU time), its stdout."""
    env = CHILD_ENV
    with tempfile.NamedTemporaryFile("r") as rss:
        # GNU time reports the child's own peak RSS; a child forked from this process
        # would inherit our high-water mark in its rusage.
        timed = ["/usr/bin/time", "-q", "-o", rss.name, "-f", "%M", *cmd]
        start = time.perf_counter()
        proc = subprocess.run(timed, cwd=cwd, env=env, capture_output=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode()[-3000:]}")
        return seconds, int(rss.read().split()[-1]) / 1024, proc.stdout.decode()


# ---- workers (run in child processes) ------------------------------------------------


_PRELOAD = {
    # What the API path imports (floe.tree.model, pydantic and cryptography are not: an
    # unpack with require_floe=False validates no tree), so wall time is not inflated.
    "floe": ("floe.oci.remote", "floe.oci.copy", "floe.artifact.pack"),
    "oras": ("oras.client",),
    "requests": ("requests",),
}


def worker(argv: list[str]) -> None:
    """Import what the tool needs, then time only the transfer (printed as WORK_SECONDS)."""
    import importlib

    kind, *args = argv
    for module in _PRELOAD[kind.split("-")[0]]:
        importlib.import_module(module)
    start = time.perf_counter()
    {
        "floe-push": _floe_push,
        "floe-pull": _floe_pull,
        "oras-push": _oras_push,
        "oras-pull": _oras_pull,
        "requests-push": _requests_push,
        "requests-pull": _requests_pull,
    }[kind](*args)
    print(f"WORK_SECONDS={time.perf_counter() - start:.4f}")


def _remote(ref: str) -> tuple[Any, str]:
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import parse_reference
    from floe.oci.remote import RemoteTarget

    parsed = parse_reference(ref)
    # A generous deadline: the machine may be loaded, and a slow run is a figure, not a failure.
    options = RegistryOptions(timeout=600)
    return RemoteTarget(parsed.host, parsed.repository, options), parsed.tag or TAG


def _floe_push(folder: str, ref: str, tar_threshold: str, layout: str = "nested") -> None:
    """Per-file layers, or (threshold below the file count) the folder as one tar layer."""
    from floe.artifact.pack import pack_files
    from floe.oci.copy import StaticTarget, copy_graph

    root = Path(folder)
    prefix = "" if layout == "flat" else f"{root.name}/"
    files = {
        f"{prefix}{p.relative_to(root).as_posix()}": p
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    packed = pack_files(
        files, artifact_type="application/vnd.example.bench", tar_threshold=int(tar_threshold)
    )
    target, tag = _remote(ref)
    stats = copy_graph(StaticTarget(packed.blobs()), target, packed.descriptor, tag=tag)
    print(json.dumps(stats.to_json()))


def _floe_pull(ref: str, out: str) -> None:
    from floe.artifact.pack import unpack_artifact

    target, tag = _remote(ref)
    desc = target.resolve(tag)
    unpack_artifact(target, desc, Path(out), require_floe=False, max_blob_size=1 << 40)


def _oras_client(ref: str) -> tuple[Any, str]:
    import logging

    import oras.client

    logging.disable(logging.INFO)
    target = ref.removeprefix("oci://")
    return oras.client.OrasClient(hostname=target.split("/", 1)[0], insecure=True), target


def _oras_push(folder: str, ref: str) -> None:
    client, target = _oras_client(ref)
    os.chdir(folder)
    client.push(target=target, files=sorted(os.listdir(".")), quiet=True)


def _oras_pull(ref: str, out: str) -> None:
    client, target = _oras_client(ref)
    client.pull(target=target, outdir=out)


def _requests_push(path: str, ref: str) -> None:
    """The physical limit: hash the file, then one streamed POST+PUT (what floe must match)."""
    import requests

    host, repo = ref.removeprefix("oci://").split("/", 1)
    repo = repo.split(":", 1)[0]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    session = requests.Session()
    resp = session.post(f"http://{host}/v2/{repo}/blobs/uploads/")
    location = resp.headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    sep = "&" if "?" in location else "?"
    with open(path, "rb") as handle:
        resp = session.put(
            f"{location}{sep}digest=sha256:{digest.hexdigest()}",
            data=handle,
            headers={"Content-Type": "application/octet-stream"},
        )
    resp.raise_for_status()
    Path(path + ".digest").write_text("sha256:" + digest.hexdigest())


def _requests_pull(digest: str, ref: str, out: str) -> None:
    import requests

    host, repo = ref.removeprefix("oci://").split("/", 1)
    repo = repo.split(":", 1)[0]
    check = hashlib.sha256()
    with requests.get(f"http://{host}/v2/{repo}/blobs/{digest}", stream=True) as resp:
        resp.raise_for_status()
        with open(out, "wb") as handle:
            for chunk in resp.iter_content(1 << 20):
                check.update(chunk)
                handle.write(chunk)
    assert "sha256:" + check.hexdigest() == digest


# ---- the benchmark ----------------------------------------------------------------


def prepare(work: Path, quick: bool) -> dict[str, Path]:
    demo = work / "a" / "tree"
    subprocess.run(
        [
            FLOE,
            "platform",
            "compile",
            str(ROOT / "manifests/acme/manifest.yaml"),
            "--out",
            str(demo),
        ],
        check=True,
        capture_output=True,
    )
    big = work / "b" / "data"
    big.mkdir(parents=True)
    size = (20 if quick else 200) * 1_000_000
    with (big / "big.bin").open("wb") as handle:
        for _ in range(size // 1_000_000):
            handle.write(os.urandom(1_000_000))
    small = work / "c" / "data"
    small.mkdir(parents=True)
    for i in range(200 if quick else 1000):
        (small / f"f{i:04d}.txt").write_bytes(os.urandom(1024).hex().encode())
    return {"a": demo, "b": big, "c": small}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def skopeo_layout(folder: Path, layout: Path, tar_threshold: int) -> None:
    """An OCI layout of the payload (untimed) for skopeo to copy from."""
    from floe.artifact.pack import pack_files
    from floe.oci.copy import StaticTarget, copy_graph
    from floe.oci.layout import LayoutTarget

    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
    packed = pack_files(
        files, artifact_type="application/vnd.example.bench", tar_threshold=tar_threshold
    )
    copy_graph(StaticTarget(packed.blobs()), LayoutTarget(layout), packed.descriptor, tag=TAG)


def bench_scenario(
    name: str, folder: Path, work: Path, registry: Any, rows: list[Row], run: int | str
) -> None:
    """One push and one pull per tool, each into a fresh repository of this run."""
    payload = folder_bytes(folder)
    me = [PYTHON, str(Path(__file__).resolve()), "--worker"]
    host = registry.host
    repo = f"oci://{host}/bench/r{run}/{name}"
    skopeo_repo = f"docker://{host}/bench/r{run}/{name}-skopeo:{TAG}"

    def record(tool: str, op: str, cmd: list[str], cwd: Path | None = None) -> str:
        before = len(registry.request_log()) if name == "a" else 0
        seconds, rss, out = run_child(cmd, cwd)
        work = [float(x.split("=")[1]) for x in out.splitlines() if x.startswith("WORK_SECONDS=")]
        count = len(registry.request_log()) - before if name == "a" else None
        rows.append(Row(name, tool, op, seconds, payload, rss, work[0] if work else None, count))
        return out

    if name == "a":  # the real CLI, as a platform engineer runs it
        out = str(work / "floe-out")
        # --allow-unsigned: the demo tree requires signatures; the transfer is compared here
        args = [
            "platform",
            "publish",
            TAG,
            "--artifacts",
            str(folder),
            "--quiet",
            "--allow-unsigned",
        ]
        record("floe", "push", [FLOE, *args, "--registry", f"{repo}-floe"])
        # Unsigned here: the transfer is compared (oras-py checks no signatures); pull
        # still looks for signatures, verifies every digest and validates the tree.
        pull = ["platform", "pull", f"{repo}-floe:{TAG}", "--out", out, "-q", "--no-require-signed"]
        record("floe", "pull", [FLOE, *pull])
        api = f"{repo}-api:{TAG}"  # the same transfer through the API, imports excluded
        record("floe-api", "push", [*me, "floe-push", str(folder), api, "512", "flat"])
        record("floe-api", "pull", [*me, "floe-pull", api, str(work / "api-out")])
    else:  # default packing: per-file layers, a folder of more than 512 files as one tar
        record("floe", "push", [*me, "floe-push", str(folder), f"{repo}-floe:{TAG}", "512"])
        record("floe", "pull", [*me, "floe-pull", f"{repo}-floe:{TAG}", str(work / "floe-out")])
    if name == "c":  # forced per-file layers, like oras-py
        per_file = str(10**9)
        target = f"{repo}-perfile:{TAG}"
        record("floe-perfile", "push", [*me, "floe-push", str(folder), target, per_file])
        record("floe-perfile", "pull", [*me, "floe-pull", target, str(work / "perfile-out")])
    record("oras-py", "push", [*me, "oras-push", str(folder), f"{repo}-oras:{TAG}"])
    record("oras-py", "pull", [*me, "oras-pull", f"{repo}-oras:{TAG}", str(work / "oras-out")])
    layout = work / "skopeo-src"
    skopeo_layout(folder, layout, 10**9)
    skopeo = ["skopeo", "copy", "--quiet"]
    record(
        "skopeo",
        "push",
        [
            *skopeo,
            f"oci:{layout}:{TAG}",
            skopeo_repo,
            "--dest-tls-verify=false",
        ],
    )
    record(
        "skopeo",
        "pull",
        [
            *skopeo,
            skopeo_repo,
            f"oci:{work / 'skopeo-out'}:{TAG}",
            "--src-tls-verify=false",
        ],
    )
    if name == "b":
        big = folder / "big.bin"
        record("requests", "push", [*me, "requests-push", str(big), f"{repo}-raw"])
        digest = Path(str(big) + ".digest").read_text()
        Path(str(big) + ".digest").unlink()
        record(
            "requests", "pull", [*me, "requests-pull", digest, f"{repo}-raw", str(work / "raw.bin")]
        )


def republish_check(folder: Path, host: str, registry: Any, run: int) -> tuple[int, int]:
    """Publishing the unchanged demo tree again: blobs uploaded, blob write requests."""
    before = len(registry.request_log())
    out = subprocess.run(
        [FLOE, "platform", "publish", TAG, "--artifacts", str(folder), "--registry",
         f"oci://{host}/bench/r{run}/a-floe", "--format", "json", "--allow-unsigned"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    writes = [
        line
        for line in registry.request_log()[before:]
        if line.split()[0] in ("POST", "PUT", "PATCH") and "/blobs/" in line
    ]
    return int(json.loads(out.stdout)["blobs_copied"]), len(writes)


def best_rows(rows: list[Row]) -> list[Row]:
    """Fastest run of each (scenario, tool, op), with the highest peak RSS seen."""
    best: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        key = (row.scenario, row.tool, row.op)
        seen = best.get(key)
        if seen is None:
            best[key] = row
            continue
        fastest = row if row.seconds < seen.seconds else seen
        works = [w for w in (row.work, seen.work) if w is not None]
        rss = max(row.rss_mb, seen.rss_mb)
        best[key] = Row(
            *key, fastest.seconds, row.payload, rss, min(works) if works else None, row.requests
        )
    return list(best.values())


def report(rows: list[Row]) -> str:
    head = f"{'scenario':<9}{'tool':<13}{'op':<6}{'wall s':>8}{'MB/s':>9}{'peak RSS MB':>13}"
    lines = [head + f"{'work s':>9}{'requests':>10}"]
    for r in rows:
        work = f"{r.work:>9.2f}" if r.work is not None else f"{'-':>9}"
        requests = f"{r.requests:>10}" if r.requests is not None else f"{'-':>10}"
        lines.append(
            f"{r.scenario:<9}{r.tool:<13}{r.op:<6}{r.seconds:>8.2f}{r.mb_per_s:>9.1f}"
            f"{r.rss_mb:>13.1f}{work}{requests}"
        )
    lines += [
        "",
        "wall s: the whole child process; work s: the transfer after imports;",
        "requests: as docker-registry logs them (it does not log 404s of routes it lacks,",
        "such as the referrers API).",
        "",
    ]
    lines.append("ratios (push+pull, floe / peer; below 1 means floe is faster):")
    wall: dict[tuple[str, str], float] = {}
    work_total: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r.scenario, r.tool)
        wall[key] = wall.get(key, 0.0) + r.seconds
        if r.work is not None:
            work_total[key] = work_total.get(key, 0.0) + r.work
    for (scenario, tool), seconds in sorted(wall.items()):
        floe = wall[(scenario, "floe")]
        if tool != "floe":
            lines.append(f"  ({scenario}) floe / {tool:<12} wall {floe / seconds:5.2f}")
        api = work_total.get((scenario, "floe-api" if scenario == "a" else "floe"))
        peer = work_total.get((scenario, tool))
        if api is not None and peer and not tool.startswith("floe"):
            lines.append(f"  ({scenario}) floe / {tool:<12} work {api / peer:5.2f}")
    return "\n".join(lines)


def warm_up(demo: Path, work: Path) -> None:
    """One untimed pass of (a) so every child finds its bytecode cached."""
    from registry_fixtures import Registry

    registry = Registry(work / "registry")
    registry.start()
    try:
        (work / "scratch").mkdir()
        bench_scenario("a", demo, work / "scratch", registry, [], "warm")
    finally:
        registry.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MB and 200 files")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the table shows the best")
    parser.add_argument("--only", default="abc", help="scenarios to run, e.g. `b` (default abc)")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        worker(opts.worker)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from registry_fixtures import Registry

    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        work = Path(tmp)
        CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        data = prepare(work / "data", opts.quick)
        warm_up(data["a"], work / "warm")
        rows: list[Row] = []
        for run in range(opts.repeat):
            # A fresh registry per run: no tool finds blobs (or cached locations) of a
            # previous run, so every push really uploads.
            registry = Registry(work / f"registry{run}")
            registry.start()
            try:
                for name, folder in data.items():
                    if name not in opts.only:
                        continue
                    scratch = work / f"run{run}-{name}"
                    scratch.mkdir()
                    bench_scenario(name, folder, scratch, registry, rows, run)
                if "a" in opts.only:
                    uploaded, writes = republish_check(data["a"], registry.host, registry, run)
            finally:
                registry.stop()
    print(f"best of {opts.repeat} run(s); load average at the end: {os.getloadavg()[0]:.1f}")
    print(report(best_rows(rows)))
    if "a" in opts.only:
        print(f"\nre-publish of the unchanged demo platform: {uploaded} blobs uploaded, "
              f"{writes} blob write requests")  # fmt: skip


if __name__ == "__main__":
    main()
