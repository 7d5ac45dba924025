"""One registry-precedence rule everywhere (flag > FLOE_REGISTRY > configuration >
embedded), here as `floe doctor` reports where its registry came from."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_floe


def _source(cwd: Path, *args: str, env: dict[str, str]) -> str:
    result = run_floe("doctor", "--format", "json", *args, cwd=cwd, env=env)
    # exit 1 is the doctor's verdict on the (uninitialised) project, not on precedence
    assert result.exit_code in (0, 1), result.output
    registry = json.loads(result.stdout)["registry"]
    assert isinstance(registry, dict)
    return str(registry["source"])


def test_flag_then_environment_then_floe_yaml(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").write_text(
        f"platform:\n  ref: oci-layout://{tmp_path / 'from-yaml'}:v1.2.3\n  version: v1.2.3\n"
    )
    env = {"FLOE_REGISTRY": f"oci-layout://{tmp_path / 'from-env'}"}
    flag = f"oci-layout://{tmp_path / 'from-flag'}"
    assert _source(tmp_path, "--registry", flag, env=env) == "--registry"
    assert _source(tmp_path, env=env) == "FLOE_REGISTRY"
    assert _source(tmp_path, env={"FLOE_REGISTRY": ""}) == "floe.yaml platform.ref"
