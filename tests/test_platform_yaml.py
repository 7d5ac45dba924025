"""floe.yaml_loader's limits and tags, and a seeded mutation fuzz of manifest.yaml."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from manifest_helpers import MINIMAL, write_manifest

from floe.errors import UsageError
from floe.platform.compile import build_tree
from floe.rules.yaml_lines import load_yaml
from floe.yaml_loader import parse_yaml_with_positions

LETTERS = "abcdefghi"
# Nine anchors, each a list of nine aliases of the one before: 9**9 nodes when expanded.
BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{LETTERS[i + 1]}: &{LETTERS[i + 1]} [" + ",".join([f"*{LETTERS[i]}"] * 9) + "]\n"
    for i in range(8)
)

HOSTILE = {
    "alias bomb": (BOMB, "yaml_limit_exceeded", "aliases expanded"),
    "5,000-deep flow list": ("a: " + "[" * 5000 + "]" * 5000, "yaml_limit_exceeded", "64 levels"),
    "5,000-deep flow map": ("a: " + "{a: " * 5000 + "}" * 5000, "yaml_limit_exceeded", "64"),
    "5,000-deep block list": ("a:\n" + "- " * 5000 + "x\n", "yaml_limit_exceeded", "64"),
    "recursive alias": ("a: &a [*a]\n", "yaml_limit_exceeded", "recursive YAML alias"),
    "too large": ("a: " + "x" * (5 * 1024 * 1024), "yaml_limit_exceeded", "larger than"),
    "!!timestamp": ("a: !!timestamp 2024-01-01\n", "manifest_invalid", "!!timestamp"),
    "!!binary": ("a: !!binary aGVsbG8=\n", "manifest_invalid", "!!binary"),
    "!!set": ("a: !!set {x: null}\n", "manifest_invalid", "!!set"),
    "!!python": ("a: !!python/object/apply:os.system [id]\n", "manifest_invalid", "python"),
    "5,000-digit integer": ("a: " + "1" * 5000 + "\n", "manifest_invalid", "out of range"),
    "duplicate key": ("a: 1\na: 2\n", "manifest_invalid", "duplicate key"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_yaml_is_one_usage_error(name: str) -> None:
    text, slug, says = HOSTILE[name]
    with pytest.raises(UsageError) as info:
        parse_yaml_with_positions(text, "m.yaml")
    assert info.value.slug == slug
    assert info.value.exit_code == 2
    assert says in info.value.message
    assert info.value.message.startswith("m.yaml")


@pytest.mark.parametrize("name", ["alias bomb", "5,000-deep flow list", "recursive alias"])
def test_the_dbt_schema_reader_obeys_the_same_limits(name: str) -> None:
    text, _slug, _says = HOSTILE[name]
    with pytest.raises(UsageError) as info:
        load_yaml(text, "schema.yml")
    assert info.value.slug == "yaml_limit_exceeded"


def test_deep_block_mapping_in_a_schema_file_is_refused_not_a_recursion_error() -> None:
    text = "".join(" " * i + "k:\n" for i in range(1500))
    with pytest.raises(UsageError) as info:
        load_yaml(text, "schema.yml")
    assert info.value.slug == "yaml_limit_exceeded"
    assert "schema.yml:65:" in info.value.message


def test_timestamps_stay_text_and_merge_keys_still_work() -> None:
    doc = parse_yaml_with_positions(
        "t: 2024-01-15T10:30:00Z\nb: &b {x: 1}\nc: {<<: *b, y: 2}\n", "f"
    )
    assert doc.data == {"t": "2024-01-15T10:30:00Z", "b": {"x": 1}, "c": {"x": 1, "y": 2}}


def test_an_alias_bomb_in_a_manifest_fails_fast_through_the_cli(tmp_path: Path) -> None:
    write_manifest(
        tmp_path, MINIMAL + "x-bomb:\n" + "".join("  " + line + "\n" for line in BOMB.splitlines())
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from floe.cli.main import run; sys.exit(run(sys.argv[1:]))",
            "platform",
            "compile",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "error[yaml_limit_exceeded]" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


SNIPPETS = (
    "!!timestamp ",
    "!!binary ",
    "&a ",
    "*a",
    "*zz",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\t",
    "'",
    '"',
    "\\",
    "#",
    "|",
    "> ",
    "<<: *a\n",
    "~",
    "null",
    "1e999",
    "9" * 5000,
    "é",
    "\x00",
    "\u202e",
    "---\n",
    "...\n",
    "? ",
    "!",
    "%YAML 1.1\n",
    "[" * 300,
    "{a: " * 80,
    "\n  ",
)


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(text) + 1)
        if op == 0:
            text = text[:pos] + rng.choice(SNIPPETS) + text[pos:]
        elif op == 1:
            text = text[:pos] + text[pos + rng.randint(1, 20) :]
        elif op == 2 and lines:
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
        elif op == 3 and lines:
            text = "".join(lines[: rng.randrange(len(lines))])
        elif op == 4 and lines:
            i = rng.randrange(len(lines))
            text = "".join(lines[: i + 1] + lines[i:])
        else:
            text = text[:pos] + chr(rng.randrange(32, 0x3000)) + text[pos + 1 :]
        lines = text.splitlines(keepends=True)
    return text


def test_mutated_manifests_are_accepted_or_one_usage_error(tmp_path: Path) -> None:
    """2,000 seeded mutations through compile's library path: success or exit 2, nothing else."""
    rng = random.Random(20261201)
    path = tmp_path / "manifest.yaml"
    outcomes = {"ok": 0, "usage": 0}
    for case in range(2000):
        text = _mutate(MINIMAL, rng)
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            build_tree(path)
            outcomes["ok"] += 1
        except UsageError as exc:
            assert exc.exit_code == 2, (case, exc.slug)
            assert "\n" not in exc.message.strip() or exc.slug == "manifest_invalid", case
            outcomes["usage"] += 1
    assert outcomes["usage"] > 500 and outcomes["ok"] > 50, outcomes


FLOE_YAML = """\
apiVersion: floe.dev/v1
name: customer-360
platform:
  ref: oci://127.0.0.1:5000/floe-platform:v1.2.3
  version: "^1.2"
security:
  require_signed_artifacts: true
  trusted_keys: [cosign.pub]
  trusted_identities:
    - issuer: https://token.actions.githubusercontent.com
      subject: repo:acme/platform
"""


def test_mutated_floe_yaml_is_accepted_or_one_usage_error() -> None:
    """2,000 seeded mutations of floe.yaml through its parser (floe.yaml_loader underneath)."""
    from floe.project.floe_yaml import parse_floe_yaml

    rng = random.Random(20261202)
    outcomes = {"ok": 0, "usage": 0}
    for case in range(2000):
        try:
            parse_floe_yaml(_mutate(FLOE_YAML, rng), Path("floe.yaml"))
            outcomes["ok"] += 1
        except UsageError as exc:
            assert exc.exit_code == 2, (case, exc.slug)
            outcomes["usage"] += 1
    assert outcomes["usage"] > 500 and outcomes["ok"] > 50, outcomes
