"""Helpers for the platform manifest and compile tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import FloeResult, run_floe

# The seed transcript's short manifest; line numbers below are asserted by tests.
MINIMAL = """\
apiVersion: floe.dev/v1
kind: Manifest
metadata:
  name: acme-data-platform
  version: "1.2.3"
  scope: enterprise

plugins:
  compute:
    type: duckdb
  orchestrator:
    type: dagster
  catalog:
    type: polaris

data_architecture:
  pattern: medallion
  naming:
    enforcement: strict

governance:
  quality_gates:
    minimum_test_coverage: 80
    block_on_failure: true
"""


def write_manifest(directory: Path, text: str = MINIMAL, name: str = "manifest.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def compile_in(directory: Path, *args: str, env: dict[str, str] | None = None) -> FloeResult:
    return run_floe("platform", "compile", *args, cwd=directory, env=env)


def compile_json(directory: Path, *args: str) -> dict[str, Any]:
    result = compile_in(directory, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def error_json(result: FloeResult) -> dict[str, Any]:
    """The {"event": slug, ...} document of a failed --format json run."""
    data: dict[str, Any] = json.loads(result.stdout)
    return data
