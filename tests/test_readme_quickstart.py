"""The README's quick start, run literally (bash, from the repository root, embedded
registry in a temp folder): it must end in a signed release, a verified init and a green
`floe compile`, and leave the repository's own sources untouched."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from conftest import REPO_ROOT


def quickstart_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match is not None, "README.md: the quick start has no ```bash block"
    return match.group(1)


def test_readme_quickstart_runs_end_to_end(tmp_path: Path) -> None:
    manifest = REPO_ROOT / "manifests" / "acme" / "manifest.yaml"
    before = manifest.read_bytes()
    env = {
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO_ROOT),  # this checkout's floe, as `PYTHONPATH=$PWD` runs it
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quickstart_block()],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Published: oci-layout://" in result.stdout
    assert "Verified: sha256:" in result.stdout
    assert "Compilation successful" in result.stdout
    assert "trust_policy_conflict" not in output
    assert manifest.read_bytes() == before
    copies = [p for p in tmp_path.iterdir() if (p / "customer-360" / "floe.yaml").is_file()]
    assert len(copies) == 1
    lock = copies[0] / "customer-360" / ".floe" / "cache" / "artifacts.lock"
    assert 'version = "v1.2.3"' in lock.read_text()
