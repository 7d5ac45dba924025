"""One slug, one exit code, whichever store or path a failure comes from."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import run_floe
from oci_helpers import tree_files, write_tree

from floe.errors import FloeError
from floe.oci import http
from floe.oci.http import REFUSED_RETRIES, RegistrySession, RetryBudget
from floe.oci.layout import LayoutTarget
from floe.oci.options import RegistryOptions
from floe.oci.registry_errors import TransientError
from floe.oci.remote import RemoteTarget
from floe.oci.target import ANNOTATION_REF_NAME, OCI_MANIFEST, Descriptor, canonical_json

NOTHING_LISTENS = "127.0.0.1:1"  # port 1 on loopback: connections are refused at once


def _error(call: Any) -> FloeError:
    with pytest.raises(FloeError) as info:
        call()
    return info.value


def _json_error(result: Any) -> dict[str, Any]:
    return dict(json.loads(result.stdout))


# ---- task: blob_not_found / reference_not_found / artifact_manifest_invalid -------------


@pytest.mark.registry
def test_a_missing_blob_is_the_same_gate_error_in_a_registry_and_a_layout(
    registry: Any, repo_name: str, tmp_path: Path
) -> None:
    absent = Descriptor.for_bytes("application/octet-stream", b"never pushed")
    remote = _error(lambda: RemoteTarget(registry.host, repo_name).fetch_bytes(absent))
    layout = LayoutTarget(tmp_path / "reg")
    layout.push(Descriptor.for_bytes("text/plain", b"x"), io.BytesIO(b"x"))  # creates it
    local = _error(lambda: layout.fetch_bytes(absent))
    assert (remote.slug, remote.exit_code) == ("blob_not_found", 1)
    assert (local.slug, local.exit_code) == ("blob_not_found", 1)


@pytest.mark.registry
def test_a_missing_manifest_is_reference_not_found_in_a_registry_and_a_layout(
    registry: Any, repo_name: str, tmp_path: Path
) -> None:
    manifest = Descriptor.for_bytes(OCI_MANIFEST, canonical_json({"schemaVersion": 2}))
    remote = RemoteTarget(registry.host, repo_name)
    layout = LayoutTarget(tmp_path / "reg")
    layout.push(Descriptor.for_bytes("text/plain", b"x"), io.BytesIO(b"x"))
    errors = [
        _error(lambda: remote.resolve("v9.9.9")),
        _error(lambda: remote.resolve(manifest.digest)),
        _error(lambda: remote.fetch_bytes(manifest)),  # by descriptor: was manifest_not_found
        _error(lambda: layout.resolve("v9.9.9")),
        _error(lambda: layout.resolve(manifest.digest)),
    ]
    assert {(e.slug, e.exit_code) for e in errors} == {("reference_not_found", 2)}


def _layout_with_manifest(root: Path, data: bytes, tag: str = "v1.0.0") -> str:
    """An OCI layout whose tag names `data` as its manifest (written by hand: floe refuses)."""
    desc = Descriptor.for_bytes(OCI_MANIFEST, data)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (blobs / desc.hex).write_bytes(data)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = dict(desc.to_json(), annotations={ANNOTATION_REF_NAME: tag})
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return f"oci-layout://{root}:{tag}"


@pytest.mark.parametrize("data", [b"not json at all", b"[1, 2]", b'{"schemaVersion": 2}'])
def test_a_malformed_oci_manifest_is_artifact_manifest_invalid(tmp_path: Path, data: bytes) -> None:
    ref = _layout_with_manifest(tmp_path / "reg", data)
    result = run_floe("platform", "pull", ref, "--out", str(tmp_path / "out"), "--format", "json")
    assert _json_error(result)["event"] == "artifact_manifest_invalid"
    assert result.exit_code == 1
    assert not (tmp_path / "out").exists()


def test_a_bad_manifest_yaml_is_still_manifest_invalid_exit_2(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text("apiVersion: [unclosed\n")
    result = run_floe("platform", "compile", str(tmp_path / "manifest.yaml"), "--format", "json")
    assert _json_error(result)["event"] == "manifest_invalid"
    assert result.exit_code == 2


# ---- task: a refused connection fails fast --------------------------------------------


@pytest.fixture
def count_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each HTTP attempt a RegistrySession makes (its method and path)."""
    sent: list[str] = []
    real = RegistrySession._send

    def counting(self: RegistrySession, method: str, path: str, *args: Any) -> Any:
        sent.append(f"{method} {path}")
        return real(self, method, path, *args)

    monkeypatch.setattr(RegistrySession, "_send", counting)
    return sent


def test_a_refused_connection_is_retried_briefly_then_unreachable(count_sends: list[str]) -> None:
    session = RegistrySession(NOTHING_LISTENS, RegistryOptions(retry_budget_seconds=20))
    budget = RetryBudget(20)
    error = _error(lambda: session.request("GET", "/v2/", budget=budget))
    assert isinstance(error, TransientError) and error.refused
    assert (error.slug, error.exit_code) == ("registry_unreachable", 2)
    assert len(count_sends) == 1 + REFUSED_RETRIES == 3
    assert budget.remaining() > 15  # the budget for resets and timeouts was not spent


def test_floe_platform_list_on_a_closed_port(count_sends: list[str]) -> None:
    result = run_floe("platform", "list", f"oci://{NOTHING_LISTENS}/x", "--format", "json")
    assert _json_error(result)["event"] == "registry_unreachable"
    assert result.exit_code == 2
    assert len(count_sends) == 1 + REFUSED_RETRIES


def test_resets_and_timeouts_keep_the_whole_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(http.time, "sleep", slept.append)
    reset = TransientError("registry_unreachable", "connection reset")
    refused = TransientError("registry_unreachable", "refused", refused=True)
    budget = RetryBudget(20)
    assert [budget.wait_after(refused) for _ in range(3)] == [True, True, False]
    assert sum(slept) < 1.0
    assert all(budget.wait_after(reset) for _ in range(5))  # still retried after refusals


# ---- task: a missing layout is not an empty one ----------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file", "folder without oci-layout"])
def test_list_of_a_missing_layout_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "reg"
    if kind == "file":
        path.write_text("not a layout")
    elif kind != "missing":
        (path / "stuff").mkdir(parents=True)
    result = run_floe("platform", "list", f"oci-layout://{path}", "--format", "json")
    assert _json_error(result)["event"] == "layout_not_found"
    assert result.exit_code == 2
    text = run_floe("platform", "list", f"oci-layout://{path}")
    assert "none" not in text.stdout and "hint:" in text.stderr


def test_list_of_an_empty_layout_lists_nothing(tmp_path: Path) -> None:
    layout = LayoutTarget(tmp_path / "reg")
    layout.push(Descriptor.for_bytes("text/plain", b"x"), io.BytesIO(b"x"))  # no tags
    result = run_floe("platform", "list", f"oci-layout://{tmp_path / 'reg'}")
    assert result.exit_code == 0, result.output
    assert "none" in result.stdout


# ---- task: pull --out under a file ------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2])
def test_pull_out_under_a_file_fails_before_any_network(
    tmp_path: Path, count_sends: list[str], depth: int
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("in the way")
    out = blocker.joinpath(*["x"] * depth)
    ref = f"oci://{NOTHING_LISTENS}/x:v1.0.0"
    result = run_floe("platform", "pull", ref, "--out", str(out), "--format", "json")
    assert _json_error(result)["event"] == "pull_out_invalid"
    assert result.exit_code == 2
    assert count_sends == []  # refused before resolving REF
    assert blocker.read_text() == "in the way"


def test_pull_into_a_good_folder_still_works(tmp_path: Path) -> None:
    tree = write_tree(tmp_path / "artifacts", tree_files())
    layout = f"oci-layout://{tmp_path / 'reg'}"
    published = run_floe("platform", "publish", "v1.2.3", "--artifacts", str(tree),
                         "--registry", layout)  # fmt: skip
    assert published.exit_code == 0, published.output
    out = tmp_path / "new" / "deeper" / "out"
    pulled = run_floe("platform", "pull", f"{layout}:v1.2.3", "--out", str(out))
    assert pulled.exit_code == 0, pulled.output
    assert (out / "manifest.json").is_file()


# ---- task: one set of signer options -----------------------------------------------------


def test_publish_and_sign_share_the_signer_options() -> None:
    from floe.cli.main import cli

    platform = cli.commands["platform"]
    assert isinstance(platform, click.Group)

    def signer_params(name: str) -> list[tuple[Any, ...]]:
        command = platform.commands[name]
        return [
            (p.name, tuple(p.opts), type(p.type).__name__, getattr(p, "envvar", None))
            for p in command.params
            if p.name in ("key_path", "keyless", "identity_token")
        ]

    assert signer_params("publish") == signer_params("sign")
    assert [p[0] for p in signer_params("sign")] == ["key_path", "keyless", "identity_token"]
