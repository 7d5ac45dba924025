"""Where people wait, measured as a user would: issue #15's table in one interleaved run.

    .venv/bin/python bench/cli.py                 # every row, 5 rounds
    .venv/bin/python bench/cli.py --quick         # 20 MB, 1,000 models, 3 rounds
    .venv/bin/python bench/cli.py --valgrind      # + instruction counts (slow)
    .venv/bin/python bench/cli.py --rows help,compile   # some rows only

Every measured step is a whole process (`floe ...`, `skopeo copy ...`, or a Python
child running oras-py / bare `requests`), started through a small launcher that forks
it and reads its own peak RSS from `os.wait4` (a child forked straight from this
process would inherit this process's high-water mark). Rows with a peer alternate who
goes first in each round, so drift on a shared machine hits both sides alike; the
ratios are what count, the seconds move with the machine's load. Children cache
bytecode in the run's temp folder after an untimed warm-up, as an installed package
has it. A local `docker-registry` on 127.0.0.1 (tests/registry_fixtures.py) is started
and stopped here; request counts come from a counting proxy in front of it (the
registry's own log omits routes it does not know, such as the referrers API), in a
separate untimed run so the proxy's cost is in no timing.

Rows (issue #15):
  compile   warm `floe compile` on Customer 360 (demo/customer-360, platform signed,
            cached and locked)
  help      `floe --help` (the interpreter's own start, `python -I -c pass`, beside it)
  demo      demo publish + pull, unsigned, per-file layers: floe CLI vs oras-py
            push + pull of the same files (per-file too) vs skopeo copy
  pull      the pull alone (and its instruction count under --valgrind)
  republish signed re-publish of the unchanged demo: writes and key decryption
  big       one 200 MB file push + pull, floe vs bare streamed requests with sha256
            (bench/transfer.py's workers)
  files     1,000 files of 2 KB, push + pull, like for like: floe's tar layer against
            oras-py's own directory tar, and per-file layers against oras-py per-file
  models    `floe compile` on 10,000 generated models (bench/enforce.py's generator,
            a real `dbt parse` for target/manifest.json), without / with manifest.json
  init      `floe init` cold (empty caches) from the embedded registry / a registry
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
FLOE = str(Path(PYTHON).parent / "floe")
TRANSFER = str(ROOT / "bench" / "transfer.py")
TAG = "v1.2.3"
PASSWORD = "bench-password"
ROWS = ("compile", "help", "demo", "pull", "republish", "big", "files", "models", "init")

# Forks the command, waits for it with wait4 and writes "wall maxrss_kb exit" to argv[1].
LAUNCHER = r"""
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as handle:
    handle.write(f"{wall} {usage.ru_maxrss} {code}")
"""


@dataclass
class Sample:
    seconds: float
    rss_mb: float


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def best(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def peak_mb(self) -> float:
        return max(s.rss_mb for s in self.samples)


@dataclass
class Line:
    """One row of the printed table."""

    what: str
    floe: str
    peer: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


class Bench:
    def __init__(self, work: Path, opts: argparse.Namespace) -> None:
        self.work = work
        self.opts = opts
        self.series: dict[str, Series] = {}
        self.lines: list[Line] = []
        self.notes: list[str] = []
        home = work / "home"
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env.update(
            PYTHONPATH=str(ROOT),
            PYTHONPYCACHEPREFIX=str(work / "pycache"),
            HOME=str(home),
            XDG_CACHE_HOME=str(home / ".cache"),
            DOCKER_CONFIG=str(home / ".docker"),
            FLOE_HOME=str(home / ".floe"),
            FLOE_SIGNING_PASSWORD=PASSWORD,
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DO_NOT_TRACK="1",
            FLOE_REGISTRY="",
        )

    # ---- running one process ----------------------------------------------------------

    def run(
        self,
        cmd: list[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        ok: tuple[int, ...] = (0,),
        stdin_null: bool = False,
    ) -> tuple[Sample, str, int]:
        """Run one child through the launcher: its wall time, its own peak RSS, stdout."""
        with tempfile.NamedTemporaryFile("r", dir=self.work, suffix=".rusage") as result:
            proc = subprocess.run(
                [PYTHON, "-I", "-S", "-c", LAUNCHER, result.name, *cmd],
                cwd=cwd,
                env=env or self.env,
                capture_output=True,
                stdin=subprocess.DEVNULL if stdin_null else None,
            )
            wall, rss_kb, code = result.read().split()
        if int(code) not in ok:
            tail = (proc.stdout + proc.stderr).decode(errors="replace")[-3000:]
            raise SystemExit(f"failed ({code}): {' '.join(cmd)}\n{tail}")
        return Sample(float(wall), int(rss_kb) / 1024), proc.stdout.decode(), int(code)

    def timed(self, key: str, cmd: list[str], **kwargs: Any) -> str:
        sample, out, _ = self.run(cmd, **kwargs)
        self.series.setdefault(key, Series()).samples.append(sample)
        return out

    def instructions(self, cmd: list[str], cwd: Path | None = None) -> int | None:
        """Instructions executed (valgrind cachegrind, main process), None without valgrind."""
        if not self.opts.valgrind or shutil.which("valgrind") is None:
            return None
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                "--cachegrind-out-file=/dev/null",
                *cmd,
            ],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
        )
        found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
        return int(found.group(1).replace(",", "")) if found else None

    def why(self, what: str, cmd: list[str], cwd: Path | None = None) -> None:
        """For a missed target, the profile of where start-up goes: the packages it
        imports, by cumulative import time (`python -X importtime`), one untimed run."""
        env = dict(self.env, PYTHONPROFILEIMPORTTIME="1")
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        total, packages = 0, []
        for line in proc.stderr.splitlines():
            parts = line.removeprefix("import time:").split("|")
            if len(parts) != 3 or not parts[1].strip().isdigit():
                continue
            name, cumulative = parts[2].strip(), int(parts[1])
            if not parts[2].startswith("  "):
                total += cumulative  # a top-level import: the sum is all import time
            if "." not in name and name not in ("encodings", "site", "floe"):
                packages.append((cumulative, name))
        top = ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in sorted(packages)[::-1][:8])
        self.notes.append(f"{what}: imports take {total / 1000:.0f} ms; packages: {top}")

    def rounds(self) -> range:
        return range(self.opts.rounds)

    # ---- setup (untimed) ----------------------------------------------------------------

    def setup(self) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from registry_fixtures import FaultProxy, Registry

        self.registry = Registry(self.work / "registry")
        self.registry.start()
        self.proxy = FaultProxy(self.registry)
        build = self.work / "build"
        shutil.copytree(ROOT / "manifests" / "acme", build / "manifests" / "acme")
        shutil.copytree(ROOT / "policies" / "acme", build / "policies" / "acme")
        # The demo's layout: its floe.yaml trusts ../keys/cosign.pub and pulls ../.registry
        self.demo = self.work / "demo"
        keys = self.demo / "keys"
        keys.mkdir(parents=True)
        self.key = keys / "cosign.key"
        self.run([FLOE, "platform", "keygen", "--output-key-prefix", str(keys / "cosign")])
        manifest = build / "manifests" / "acme" / "manifest.yaml"
        text = manifest.read_text()
        trusted = f'  trusted_keys: ["{keys / "cosign.pub"}"]'
        manifest.write_text(text.replace("  trusted_keys: []", trusted, 1))
        self.tree = self.work / "tree"
        self.run([FLOE, "platform", "compile", str(manifest), "--out", str(self.tree)])
        self.embedded = f"oci-layout://{self.demo / '.registry' / 'floe-platform'}"
        self.run(self.publish_cmd(self.embedded, signed=True), cwd=self.work)
        self.signed_repo = f"oci://{self.registry.host}/bench/signed"
        self.run(self.publish_cmd(self.signed_repo, signed=True), cwd=self.work)

    def publish_cmd(self, registry: str, *, signed: bool) -> list[str]:
        sign = ["--key", str(self.key)] if signed else ["--allow-unsigned"]
        args = ["platform", "publish", TAG, "--artifacts", str(self.tree), "--registry", registry]
        return [FLOE, *args, *sign, "--quiet"]

    def fresh_project(self, name: str) -> Path:
        project = self.demo / name
        shutil.copytree(ROOT / "demo" / "customer-360", project, ignore=_demo_state)
        return project

    # ---- rows ---------------------------------------------------------------------------

    def row_compile(self) -> None:
        project = self.fresh_project("customer-360")
        self.run([FLOE, "init", f"--platform={TAG}"], cwd=project)
        cmd = [FLOE, "compile"]
        self.run(cmd, cwd=project)  # warm: lineage cache and bytecode
        for _ in self.rounds():
            self.timed("compile", cmd, cwd=project)
        s = self.series["compile"]
        ins = self.instructions(cmd, project)
        if s.median > 0.30:
            self.why("warm `floe compile`", cmd, project)
        self.lines.append(
            Line(
                "warm `floe compile`, Customer 360",
                _fmt(s) + _ins(ins),
                target="<= 0.30 s, <= 50 MB",
                met=_met(s.median <= 0.30 and s.peak_mb <= 50),
            )
        )

    def row_help(self) -> None:
        cmd, floor = [FLOE, "--help"], [PYTHON, "-I", "-c", "pass"]
        self.run(cmd)
        for r in self.rounds():
            for key, command in _order(r, ("help", cmd), ("python", floor)):
                self.timed(key, command)
        s, p = self.series["help"], self.series["python"]
        ins = self.instructions(cmd)
        if s.median > 0.10:
            self.why("`floe --help`", cmd)
        self.lines.append(
            Line(
                "`floe --help`",
                _fmt(s) + _ins(ins),
                f"`python -I -c pass` {_fmt(p)}",
                f"{s.median / p.median:.2f}x",
                "<= 0.10 s",
                _met(s.median <= 0.10),
            )
        )

    def _demo_round(self, r: int | str, timed: bool = True) -> None:
        host = self.registry.host
        out = self.work / "out" / f"r{r}"
        out.mkdir(parents=True)
        me = [PYTHON, str(Path(__file__).resolve()), "--worker"]
        floe_repo, oras_repo = f"oci://{host}/bench/r{r}-floe", f"oci://{host}/bench/r{r}-oras"
        skopeo_ref = f"docker://{host}/bench/r{r}-skopeo:{TAG}"
        steps: dict[str, list[tuple[str, list[str]]]] = {
            "floe": [
                ("floe-push", self.publish_cmd(floe_repo, signed=False)),
                (
                    "floe-pull",
                    [
                        FLOE,
                        "platform",
                        "pull",
                        f"{floe_repo}:{TAG}",
                        "--out",
                        str(out / "floe"),
                        "-q",
                        "--no-require-signed",
                    ],
                ),
            ],
            "oras": [
                ("oras-push", [*me, "oras-push", str(self.tree), f"{oras_repo}:{TAG}"]),
                ("oras-pull", [*me, "oras-pull", f"{oras_repo}:{TAG}", str(out / "oras")]),
            ],
            "skopeo": [
                (
                    "skopeo-push",
                    [
                        "skopeo",
                        "copy",
                        "--quiet",
                        f"oci:{self.layout}:{TAG}",
                        skopeo_ref,
                        "--dest-tls-verify=false",
                    ],
                ),
                (
                    "skopeo-pull",
                    [
                        "skopeo",
                        "copy",
                        "--quiet",
                        skopeo_ref,
                        f"oci:{out / 'skopeo'}:{TAG}",
                        "--src-tls-verify=false",
                    ],
                ),
            ],
        }
        order = ["floe", "oras", "skopeo"]
        if isinstance(r, int) and r % 2:
            order.reverse()
        for tool in order:
            for key, cmd in steps[tool]:
                if timed:
                    self.timed(key, cmd, cwd=self.work)
                else:
                    self.run(cmd, cwd=self.work)
        self.pull_cmds = {"floe": steps["floe"][1][1], "oras": steps["oras"][1][1]}

    def row_demo(self) -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from transfer import skopeo_layout

        self.layout = self.work / "skopeo-src"
        skopeo_layout(self.tree, self.layout, 10**9)  # per-file layers, like floe's
        self._demo_round("warm", timed=False)
        for r in self.rounds():
            self._demo_round(r)
        both = {
            t: _sum(self.series[f"{t}-push"], self.series[f"{t}-pull"])
            for t in ("floe", "oras", "skopeo")
        }
        ratio = both["floe"] / both["oras"]
        self.lines.append(
            Line(
                "demo publish + pull (unsigned, per-file)",
                f"{both['floe']:.3f} s (push {_fmt(self.series['floe-push'])}; "
                f"pull {_fmt(self.series['floe-pull'])})",
                f"oras-py {both['oras']:.3f} s; skopeo {both['skopeo']:.3f} s",
                f"{ratio:.2f}x oras-py; {both['floe'] / both['skopeo']:.2f}x skopeo",
                "<= 0.8x oras-py",
                _met(ratio <= 0.8),
            )
        )

    def row_pull(self) -> None:
        if "floe-pull" not in self.series:
            self.row_demo()
        floe, oras = self.series["floe-pull"], self.series["oras-pull"]
        ratio = floe.median / oras.median
        text = f"{ratio:.2f}x wall"
        met = ""
        ins_floe = self.instructions(self.pull_cmds["floe"] + ["--force"], self.work)
        ins_oras = self.instructions(self.pull_cmds["oras"], self.work)
        if ratio > 0.8:
            self.why("`floe platform pull`", self.pull_cmds["floe"] + ["--force"], self.work)
        if ins_floe and ins_oras:
            text += f"; {ins_floe / ins_oras:.2f}x instructions"
            met = _met(ins_floe / ins_oras <= 0.8)
        else:
            met = "- (instructions: run with --valgrind)"
        self.lines.append(
            Line(
                "demo pull alone (unsigned)",
                _fmt(floe) + _ins(ins_floe),
                f"oras-py {_fmt(oras)}{_ins(ins_oras)}",
                text,
                "<= 0.8x instructions",
                met,
            )
        )

    def row_republish(self) -> None:
        cmd = self.publish_cmd(self.signed_repo, signed=True)
        for _ in self.rounds():
            self.timed("republish", cmd, cwd=self.work)
        self.proxy.clear()
        self.run(
            self.publish_cmd(f"oci://{self.proxy.host}/bench/signed", signed=True), cwd=self.work
        )
        writes = [r for r in self.proxy.requests if r.split()[0] in ("PUT", "POST", "PATCH")]
        no_password = {k: v for k, v in self.env.items() if k != "FLOE_SIGNING_PASSWORD"}
        _, _, code = self.run(cmd, cwd=self.work, env=no_password, ok=(0, 1, 2), stdin_null=True)
        asks = code != 0  # without a password and a terminal, decrypting the key fails
        s = self.series["republish"]
        self.lines.append(
            Line(
                "signed publish, re-run unchanged",
                f"{_fmt(s)}; {len(writes)} writes; key password "
                + ("asked (the key is decrypted)" if asks else "not needed"),
                target="0 writes, no key decryption",
                met=_met(not writes and not asks),
            )
        )
        if writes:
            self.notes.append("re-publish writes: " + ", ".join(_short(w) for w in writes))

    def row_big(self) -> None:
        size = (20 if self.opts.quick else 200) * 1_000_000
        folder = self.work / "big"
        folder.mkdir()
        big = folder / "big.bin"
        with big.open("wb") as handle:
            for _ in range(size // 1_000_000):
                handle.write(os.urandom(1_000_000))
        worker = [PYTHON, TRANSFER, "--worker"]
        host = self.registry.host

        def floe(r: int | str) -> None:
            ref, out = f"oci://{host}/bench/big{r}-floe:{TAG}", self.work / f"big{r}-floe"
            self.timed("big-floe-push", [*worker, "floe-push", str(folder), ref, "512"])
            self.timed("big-floe-pull", [*worker, "floe-pull", ref, str(out)])
            shutil.rmtree(out)

        def bare(r: int | str) -> None:
            ref, out = f"oci://{host}/bench/big{r}-raw", self.work / f"big{r}.raw"
            self.timed("big-raw-push", [*worker, "requests-push", str(big), ref])
            digest_file = Path(f"{big}.digest")
            digest = digest_file.read_text()
            digest_file.unlink()
            self.timed("big-raw-pull", [*worker, "requests-pull", digest, ref, str(out)])
            out.unlink()

        floe("warm")
        bare("warm")
        self.series = {k: v for k, v in self.series.items() if not k.startswith("big-")}
        for r in self.rounds():
            for step in _order(r, floe, bare):
                step(r)
        f = _sum(self.series["big-floe-push"], self.series["big-floe-pull"])
        b = _sum(self.series["big-raw-push"], self.series["big-raw-pull"])
        peak = max(self.series["big-floe-push"].peak_mb, self.series["big-floe-pull"].peak_mb)
        self.lines.append(
            Line(
                f"{size // 1_000_000} MB file, push + pull",
                f"{f:.2f} s, {peak:.0f} MB",
                f"bare requests + sha256 {b:.2f} s",
                f"{100 * b / f:.0f}% of the limit",
                ">= 90%",
                _met(b / f >= 0.9),
            )
        )

    def row_files(self) -> None:
        count = 200 if self.opts.quick else 1000
        folder = self.work / "files" / "data"
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f"f{i:04d}.txt").write_bytes(os.urandom(1024).hex().encode())
        me = [PYTHON, str(Path(__file__).resolve()), "--worker"]
        host = self.registry.host
        tools = {  # (push, pull) of each tool, given a reference and an output folder
            "floe-tar": ("floe-push", str(folder), "1", me),  # more than 1 file: a tar
            "oras-dir": ("oras-push-dir", str(folder), None, me),
            "floe-perfile": ("floe-push", str(folder), str(10**9), me),
            "oras-perfile": ("oras-push", str(folder), None, me),
        }

        def step(tool: str, r: int | str, timed: bool = True) -> None:
            push, source, threshold, runner = tools[tool]
            ref = f"oci://{host}/bench/files{r}-{tool}:{TAG}"
            out = self.work / "files" / f"out-{r}-{tool}"
            push_cmd = [*runner, push, source, ref] + ([threshold] if threshold else [])
            pull = "floe-pull" if tool.startswith("floe") else "oras-pull"
            pull_cmd = [*runner, pull, ref, str(out)]
            for key, cmd in ((f"{tool}-push", push_cmd), (f"{tool}-pull", pull_cmd)):
                if timed:
                    self.timed(f"files-{key}", cmd, cwd=self.work)
                else:
                    self.run(cmd, cwd=self.work)
            shutil.rmtree(out)

        for tool in tools:
            step(tool, "warm", timed=False)
        for r in range(min(self.opts.rounds, 3)):  # oras-py per-file takes ~30 s a round
            for pair in _order(r, ("floe-tar", "oras-dir"), ("floe-perfile", "oras-perfile")):
                for tool in _order(r, *pair):
                    step(tool, r)
        both = {
            t: _sum(self.series[f"files-{t}-push"], self.series[f"files-{t}-pull"]) for t in tools
        }
        tar, per = both["floe-tar"] / both["oras-dir"], both["floe-perfile"] / both["oras-perfile"]
        self.lines.append(
            Line(
                f"{count:,} files of 2 KB, push + pull: tar layer / per-file layers",
                f"{both['floe-tar']:.2f} s / {both['floe-perfile']:.2f} s",
                f"oras-py directory tar {both['oras-dir']:.2f} s / "
                f"per-file {both['oras-perfile']:.2f} s",
                f"{tar:.2f}x / {per:.2f}x",
            )
        )

    def row_models(self) -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from bouncer import install_platform, prepare

        models = 1000 if self.opts.quick else self.opts.models
        base = self.opts.models_dir or self.work
        root = base / f"models-{models}"
        if not (root / "target" / "manifest.json").is_file():
            shutil.rmtree(root, ignore_errors=True)
            started = time.perf_counter()
            prepare(root, models)  # generate + a real `dbt parse` (target/manifest.json)
            spent = time.perf_counter() - started
            self.notes.append(f"dbt parse of {models} models (setup): {spent:.0f} s")
        shutil.rmtree(root / ".floe", ignore_errors=True)
        shutil.rmtree(root / "target" / "floe", ignore_errors=True)
        install_platform(root, self.work / "models-platform")
        manifest = root / "target" / "manifest.json"
        aside = root / "manifest.json.aside"
        cmd = [FLOE, "compile", "--dir", str(root), "--format", "json"]
        self.run(cmd, ok=(0, 1))  # warm (lineage cache) with the manifest
        for r in self.rounds():
            for variant in _order(r, "with", "without"):
                if variant == "without":
                    manifest.rename(aside)
                self.timed(f"models-{variant}", cmd, ok=(0, 1))
                if variant == "without":
                    aside.rename(manifest)
        without, with_ = self.series["models-without"], self.series["models-with"]
        mb = manifest.stat().st_size / 1e6
        self.lines.append(
            Line(
                f"`floe compile` CLI on {models:,} models, no manifest.json / with ({mb:.0f} MB)",
                f"{_fmt(without)} / {_fmt(with_)}",
                target="<= 2.5 s both, <= 300 MB",
                met=_met(
                    max(without.median, with_.median) <= 2.5
                    and max(without.peak_mb, with_.peak_mb) <= 300
                ),
            )
        )

    def row_init(self) -> None:
        counter = 0

        def init(kind: str, timed: bool = True, registry: str | None = None) -> None:
            nonlocal counter
            counter += 1
            project = self.fresh_project(f"init-{counter}")
            env = dict(self.env, XDG_CACHE_HOME=str(self.work / f"cache-{counter}"))
            cmd = [FLOE, "init", f"--platform={TAG}", "--format", "json"]
            if kind == "registry":
                cmd += ["--registry", registry or self.signed_repo]
            if timed:
                self.timed(f"init-{kind}", cmd, cwd=project, env=env)
            else:
                self.run(cmd, cwd=project, env=env)
            shutil.rmtree(project)

        init("embedded", timed=False)
        init("registry", timed=False)
        for r in self.rounds():
            for kind in _order(r, "embedded", "registry"):
                init(kind)
        self.proxy.clear()
        init("registry", timed=False, registry=f"oci://{self.proxy.host}/bench/signed")
        requests = list(self.proxy.requests)
        repeated = sorted({r for r in requests if requests.count(r) > 1})
        e, g = self.series["init-embedded"], self.series["init-registry"]
        self.lines.append(
            Line(
                "`floe init` cold, embedded registry / a registry",
                f"{_fmt(e)} / {_fmt(g)}; {len(requests)} requests, {len(repeated)} repeated",
                target="<= 0.5 s / <= 0.7 s, no redundant request",
                met=_met(e.median <= 0.5 and g.median <= 0.7 and not repeated),
            )
        )
        if repeated:
            self.notes.append(
                "init requests sent more than once: " + ", ".join(_short(r) for r in repeated)
            )

    # ---- report -------------------------------------------------------------------------

    def report(self) -> str:
        head = "| what | floe: median (min), peak RSS | peer | ratio | target | met |"
        out = [head, "|---|---|---|---|---|---|"]
        for line in self.lines:
            out.append(
                f"| {line.what} | {line.floe} | {line.peer or '-'} | "
                f"{line.ratio or '-'} | {line.target or '-'} | {line.met or '-'} |"
            )
        return "\n".join(out)


# ---- helpers --------------------------------------------------------------------------


def _demo_state(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in (".floe", "target", "logs", "profiles.yml")}


def _order(r: int, *items: Any) -> list[Any]:
    """Who goes first alternates with the round."""
    return list(items) if r % 2 == 0 else list(reversed(items))


def _sum(a: Series, b: Series) -> float:
    """Median over rounds of push + pull (the two steps of one round summed)."""
    return statistics.median(
        x.seconds + y.seconds for x, y in zip(a.samples, b.samples, strict=True)
    )


def _fmt(s: Series) -> str:
    return f"{s.median:.3f} s ({s.best:.3f}), {s.peak_mb:.0f} MB"


def _ins(count: int | None) -> str:
    return f", {count / 1e9:.2f} G instr" if count else ""


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _short(request: str) -> str:
    method, path = request.split(" ", 1)
    return f"{method} {re.sub(r'[0-9a-f]{64}', lambda m: m.group(0)[:8], path.split('?')[0])}"


# ---- workers (child processes) ---------------------------------------------------------


def worker(argv: list[str]) -> None:
    """oras-py as a user's script would call it: push the tree's files one layer each
    (like floe's per-file layers), pull into a folder."""
    kind, *args = argv
    if kind.startswith("floe-"):
        _floe_worker(kind, args)
        return
    import logging

    import oras.client

    logging.disable(logging.INFO)
    target = (args[0] if kind == "oras-pull" else args[1]).removeprefix("oci://")
    client = oras.client.OrasClient(hostname=target.split("/", 1)[0], insecure=True)
    if kind in ("oras-push", "oras-push-dir"):
        folder = Path(args[0])
        os.chdir(folder.parent if kind == "oras-push-dir" else folder)
        if kind == "oras-push-dir":  # the folder itself: oras-py tars it into one layer
            files = [folder.name]
        else:
            files = sorted(p.as_posix() for p in Path(".").rglob("*") if p.is_file())
        client.push(target=target, files=files, quiet=True)
    else:
        client.pull(target=target, outdir=args[1])


def _floe_worker(kind: str, args: list[str]) -> None:
    """bench/transfer.py's floe workers with a deadline that fits 1,000 uploads on a
    loaded machine (the API's default is 20 s for all of a command's network work)."""
    from floe.artifact.pack import pack_files, unpack_artifact
    from floe.oci.copy import StaticTarget, copy_graph
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import parse_reference
    from floe.oci.remote import RemoteTarget

    ref = parse_reference(args[1] if kind == "floe-push" else args[0])
    target = RemoteTarget(ref.host, ref.repository, RegistryOptions(timeout=3600))
    if kind == "floe-push":
        root = Path(args[0])
        files = {
            f"{root.name}/{p.relative_to(root).as_posix()}": p
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        packed = pack_files(
            files, artifact_type="application/vnd.example.bench", tar_threshold=int(args[2])
        )
        copy_graph(StaticTarget(packed.blobs()), target, packed.descriptor, tag=ref.tag)
    else:
        desc = target.resolve(ref.tag or TAG)
        unpack_artifact(target, desc, Path(args[1]), require_floe=False, max_blob_size=1 << 40)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPUs "
        f"(nproc), {cpu}; Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 MB, 1,000 models, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per row (default 5)")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument(
        "--models-dir", type=Path, help="keep the generated, dbt-parsed project here for next time"
    )
    parser.add_argument("--rows", default=",".join(ROWS), help=f"some of {','.join(ROWS)}")
    parser.add_argument("--valgrind", action="store_true", help="also count instructions")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # this tree's floe, also in this process (as PYTHONPATH)
    if opts.worker:
        worker(opts.worker)
        return 0
    opts.rounds = opts.rounds or (3 if opts.quick else 5)
    rows = [r.strip() for r in opts.rows.split(",") if r.strip()]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows: {', '.join(unknown)}")
    if opts.valgrind and shutil.which("valgrind") is None:
        print("valgrind not found: no instruction counts", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="floe-bench-cli-") as tmp:
        bench = Bench(Path(tmp), opts)
        bench.setup()
        try:
            for name in ROWS:
                if name in rows:
                    started = time.perf_counter()
                    try:
                        getattr(bench, f"row_{name}")()
                    except (SystemExit, Exception) as exc:  # the row says so, the run goes on
                        first = (str(exc).splitlines() or [type(exc).__name__])[0]
                        bench.lines.append(Line(name, f"**failed**: {first}"))
                        print(repr(exc), file=sys.stderr)
                    if bench.lines:
                        print(f"  {bench.lines[-1]}", file=sys.stderr)
                    print(f"  {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        finally:
            bench.proxy.close()
            bench.registry.stop()
    print(f"bench/cli.py, {opts.rounds} rounds per row; {machine()}")
    print()
    print(bench.report())
    for note in bench.notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
