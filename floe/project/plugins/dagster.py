"""The Dagster orchestrator plugin: a code location over the dbt manifest floe checked.

With `orchestrator: dagster`, floe writes `target/floe/dagster/`:

- `manifest.json`: a copy of the dbt manifest floe checked (dbt may rewrite target/ later);
- `floe_gate.json`: that manifest's digest, the platform, floe's findings per model, and
  the models the platform's freshness rules cover;
- `definitions.py`: built on dagster-dbt: one asset per dbt node, floe's findings as a
  blocking `floe_gate` asset check per model, the platform's freshness rules as
  last-update freshness checks. It refuses to load when the manifest is not the one floe
  checked, and a blocking finding stops the dbt build before dbt starts.

floe never imports Dagster: the code location is text, validated by Dagster's own loader
(`dagster definitions validate -f definitions.py`). Output is deterministic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.files import atomic_write

DAGSTER_DIR = "dagster"
DEFINITIONS_FILE = "definitions.py"
GATE_FILE = "floe_gate.json"
MANIFEST_COPY = "manifest.json"
FRESHNESS_HOURS = 24  # the demo's freshness test default; the tree has no age of its own


@dataclass(frozen=True)
class GateFinding:
    rule_id: str
    severity: str  # error | warning | info
    model: str | None
    message: str
    location: str  # file:line


@dataclass(frozen=True)
class CodeLocation:
    folder: Path
    definitions: Path
    manifest_digest: str
    models: int


def write_code_location(
    out_dir: Path,
    project_dir: Path,
    profiles_dir: Path,
    manifest_bytes: bytes | Path,
    findings: Iterable[GateFinding],
    platform: Mapping[str, Any],
    freshness_models: Iterable[str] = (),
    model_names: Iterable[str] | None = None,
) -> CodeLocation:
    """Write target/floe/dagster/ (three files, each temp-then-rename); `model_names`
    when the reader already listed the manifest's models (no second parse); a manifest
    file given as a Path is copied in chunks, never held in memory whole."""
    folder = out_dir / DAGSTER_DIR
    if isinstance(manifest_bytes, Path):
        digest = _copy(manifest_bytes, folder / MANIFEST_COPY)
    else:
        digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        atomic_write(folder / MANIFEST_COPY, manifest_bytes, fsync=False)
    if model_names is None:
        models = _model_names(
            json.loads(
                manifest_bytes.read_bytes() if isinstance(manifest_bytes, Path) else manifest_bytes
            )
        )
    else:
        models = sorted(set(model_names))
    ordered = findings_list(findings)
    gate = {
        "blocked": any(f.severity == "error" for f in ordered),
        "findings": [_finding_json(f) for f in ordered],
        "freshness_hours": FRESHNESS_HOURS,
        "freshness_models": sorted(set(freshness_models) & set(models)),
        "manifest_digest": digest,
        "models": models,
        "platform": dict(platform),
        "profiles_dir": _relative(profiles_dir, folder),
        "project_dir": _relative(project_dir, folder),
    }
    gate_text = json.dumps(gate, sort_keys=True, indent=2) + "\n"
    atomic_write(folder / GATE_FILE, gate_text.encode("utf-8"), fsync=False)
    atomic_write(folder / DEFINITIONS_FILE, DEFINITIONS.encode("utf-8"), fsync=False)
    return CodeLocation(folder, folder / DEFINITIONS_FILE, digest, len(models))


def code_location_for(compiled: Any, project_dir: Path, profiles_dir: Path) -> CodeLocation | None:
    """After `floe compile`: the code location when the platform orchestrates with Dagster
    and a dbt manifest was checked (floe run, --parse, --manifest); else None."""
    tree, project = compiled.platform.tree, compiled.project
    if tree.manifest.plugins.get("orchestrator") != "dagster":
        return None
    manifest_bytes = _checked_manifest(compiled)
    if manifest_bytes is None:
        return None
    layers = tree.layer_constraints.layers
    fresh = [
        m.name
        for m in project.models.values()
        if m.layer in layers and "freshness" in layers[m.layer].required_tests
    ]
    findings = [
        GateFinding(f.rule_id, f.severity, f.model, f.message, f"{f.file or ''}:{f.line or 1}")
        for f in compiled.result.findings
        if not f.waived
    ]
    meta = tree.manifest.metadata
    platform = {"name": meta.name, "version": meta.version, "digest": meta.digest}
    return write_code_location(
        compiled.out_dir,
        project_dir,
        profiles_dir,
        manifest_bytes,
        findings,
        platform,
        fresh,
        project.built_models,
    )


def _copy(source: Path, target: Path) -> str:
    """Copy `source` to `target` (temp then rename), returning the copy's sha256 digest."""
    from floe.files import atomic_write_chunks

    sha = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        with open(source, "rb") as src:
            while chunk := src.read(1 << 20):
                sha.update(chunk)
                yield chunk

    atomic_write_chunks(target, chunks(), fsync=False)  # a read error is file_write_failed too
    return "sha256:" + sha.hexdigest()


def _checked_manifest(compiled: Any) -> bytes | Path | None:
    if compiled.parsed is not None:
        document = compiled.parsed.document
        return (json.dumps(document, sort_keys=True) + "\n").encode("utf-8")
    read_from = compiled.project.read_from or {}
    if read_from.get("kind") == "manifest" and read_from.get("path"):
        path = Path(str(read_from["path"]))
        if not path.is_absolute():
            path = Path(compiled.project.root) / path
        return path if path.is_file() else None
    return None


def findings_list(findings: Iterable[GateFinding]) -> list[GateFinding]:
    return sorted(findings, key=lambda f: (f.model or "", f.rule_id, f.location, f.message))


def _finding_json(finding: GateFinding) -> dict[str, Any]:
    return {
        "location": finding.location,
        "message": finding.message,
        "model": finding.model,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
    }


def _model_names(manifest: dict[str, Any]) -> list[str]:
    nodes = manifest.get("nodes") if isinstance(manifest, dict) else None
    names = {
        str(node.get("name"))
        for node in (nodes or {}).values()
        if isinstance(node, dict)
        and node.get("resource_type") == "model"
        and (node.get("config") or {}).get("materialized") != "ephemeral"
    }
    return sorted(names)


def _relative(path: Path, start: Path) -> str:
    """A POSIX path from the code location folder, so the project can move as a whole."""
    import os

    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


DEFINITIONS = '''\
"""Dagster code location generated by `floe compile`; do not edit (re-run floe compile).

Built on dagster-dbt over the dbt manifest floe checked (its digest is in floe_gate.json):
these definitions refuse to load when manifest.json is not that manifest. floe's findings
are one blocking `floe_gate` asset check per model; a blocking finding stops the dbt build
before dbt starts; the platform's freshness rules are last-update freshness checks.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at runtime.
import hashlib
import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Definitions,
    Failure,
    asset_check,
    build_last_update_freshness_checks,
)
from dagster_dbt import DbtCliResource, dbt_assets, get_asset_key_for_model

HERE = Path(__file__).resolve().parent
GATE = json.loads((HERE / "floe_gate.json").read_text(encoding="utf-8"))
MANIFEST = HERE / "manifest.json"
_DIGEST = "sha256:" + hashlib.sha256(MANIFEST.read_bytes()).hexdigest()
if _DIGEST != GATE["manifest_digest"]:
    raise RuntimeError(
        f"{MANIFEST} is not the manifest floe checked ({GATE['manifest_digest']}); "
        "run `floe compile` again"
    )
BLOCKING = [f for f in GATE["findings"] if f["severity"] == "error"]
# The dbt of the environment Dagster runs in (next to its interpreter), else the one on PATH.
_BESIDE = Path(sys.executable).with_name("dbt")
DBT = str(_BESIDE) if _BESIDE.is_file() else (shutil.which("dbt") or "dbt")


@dbt_assets(manifest=MANIFEST, name="floe_dbt_assets")
def floe_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    if BLOCKING:
        raise Failure(
            description=f"floe gate: {len(BLOCKING)} blocking finding(s); dbt was not started",
            metadata={"findings": [f"{f['rule_id']}: {f['message']}" for f in BLOCKING]},
        )
    yield from dbt.cli(["build"], context=context).stream()


def _gate_check(model: str):
    findings = [f for f in GATE["findings"] if f["model"] == model]

    @asset_check(
        asset=get_asset_key_for_model([floe_dbt_assets], model),
        name="floe_gate",
        blocking=True,
        description="floe's platform rules for this model",
    )
    def _check() -> AssetCheckResult:
        errors = [f for f in findings if f["severity"] == "error"]
        return AssetCheckResult(
            passed=not errors,
            severity=AssetCheckSeverity.ERROR if errors else AssetCheckSeverity.WARN,
            metadata={
                "findings": [f"{f['location']}: {f['rule_id']}: {f['message']}" for f in findings],
                "platform": f"{GATE['platform'].get('name')} {GATE['platform'].get('version')}",
            },
        )

    return _check


GATE_CHECKS = [_gate_check(model) for model in GATE["models"]]
FRESHNESS_CHECKS = (
    build_last_update_freshness_checks(
        assets=[get_asset_key_for_model([floe_dbt_assets], m) for m in GATE["freshness_models"]],
        lower_bound_delta=timedelta(hours=GATE["freshness_hours"]),
    )
    if GATE["freshness_models"]
    else []
)

defs = Definitions(
    assets=[floe_dbt_assets],
    asset_checks=[*GATE_CHECKS, *FRESHNESS_CHECKS],
    resources={
        "dbt": DbtCliResource(
            project_dir=str((HERE / GATE["project_dir"]).resolve()),
            profiles_dir=str((HERE / GATE["profiles_dir"]).resolve()),
            target="floe",
            dbt_executable=DBT,
        )
    },
)
'''
