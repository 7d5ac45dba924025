"""The embedded registry holds one OCI layout per repository: two platforms' v1.0.0 side
by side, each pulled and initialised correctly; the pre-namespace flat layout is still
read, publishing into it is refused with the migration; `list`/`inspect` in a platform
folder use its registry; a tag held by another platform is not answered with --force."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import run_floe
from manifest_helpers import MINIMAL, compile_in, error_json, tree_bytes, write_manifest

ALPHA, BETA = "alpha-platform", "beta-platform"


def _platform(tmp_path: Path, name: str, coverage: int, extra: str = "") -> Path:
    """A platform folder `name` (manifest + compiled .floe/artifacts) at version 1.0.0."""
    folder = tmp_path / name
    text = MINIMAL.replace("name: acme-data-platform", f"name: {name}")
    text = text.replace('version: "1.2.3"', 'version: "1.0.0"')
    text = text.replace("minimum_test_coverage: 80", f"minimum_test_coverage: {coverage}")
    write_manifest(folder, text + extra)
    result = compile_in(folder)
    assert result.exit_code == 0, result.output
    return folder


def _publish(folder: Path, *args: str) -> Any:
    result = run_floe("platform", "publish", "v1.0.0", *args, "--format", "json", cwd=folder)
    return result


def _init(project: Path, *args: str) -> Any:
    project.mkdir(exist_ok=True)
    return run_floe("init", "--platform=v1.0.0", *args, "--format", "json", cwd=project)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path / "floe-home"))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    return tmp_path / "floe-home"


def test_two_platforms_side_by_side_each_pulled_and_initialised(tmp_path: Path, home: Path) -> None:
    alpha, beta = _platform(tmp_path, ALPHA, 70), _platform(tmp_path, BETA, 90)
    published = {}
    for folder in (alpha, beta):
        result = _publish(folder)
        assert result.exit_code == 0, result.output
        published[folder.name] = json.loads(result.stdout)
    for name in (ALPHA, BETA):  # each in its own layout, named after the platform
        assert published[name]["reference"] == f"oci-layout://{home / 'registry' / name}:v1.0.0"
        assert (home / "registry" / name / "oci-layout").is_file()
    assert published[ALPHA]["digest"] != published[BETA]["digest"]
    assert sorted(p.name for p in (home / "registry").iterdir()) == [ALPHA, BETA]

    # `list` and `inspect` in a platform folder see that platform's repository only
    for folder in (alpha, beta):
        listing = run_floe("platform", "list", "--format", "json", cwd=folder)
        assert listing.exit_code == 0, listing.output
        data = json.loads(listing.stdout)
        assert data["registry"] == f"oci-layout://{home / 'registry' / folder.name}"
        assert [(v["tag"], v["digest"]) for v in data["versions"]] == [
            ("v1.0.0", published[folder.name]["digest"])
        ]
        shown = run_floe("platform", "inspect", "v1.0.0", "--format", "json", cwd=folder)
        assert shown.exit_code == 0, shown.output
        info = json.loads(shown.stdout)
        assert info["annotations"]["org.opencontainers.image.title"] == folder.name
        assert info["digest"] == published[folder.name]["digest"]

    # a data team that names no registry is told to pick; nothing is written
    project = tmp_path / "project"
    refused = _init(project)
    assert refused.exit_code == 2
    event = error_json(refused)
    assert event["event"] == "registry_ambiguous"
    assert ALPHA in event["message"] and BETA in event["message"]
    assert f"--registry oci-layout://{home / 'registry' / ALPHA}" in event["hint"]
    assert sorted(p.name for p in project.iterdir()) == []

    # each project inits on its own platform and pulls exactly that release
    for name, coverage in ((ALPHA, 70), (BETA, 90)):
        where = tmp_path / f"project-{name}"
        result = _init(where, "--registry", f"oci-layout://{home / 'registry' / name}")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["manifest_digest"] == published[name]["digest"]
        assert data["platform"]["name"] == name
        lock = (where / ".floe" / "cache" / "artifacts.lock").read_text()
        assert published[name]["digest"] in lock
        gates = where / ".floe" / "platform" / "v1.0.0" / "policies" / "quality-gates.json"
        assert json.loads(gates.read_text())["minimum_test_coverage"] == coverage
        out = tmp_path / f"pulled-{name}"
        pulled = run_floe(
            "platform", "pull", f"oci-layout://{home / 'registry' / name}:v1.0.0",
            "--out", str(out), "--format", "json",
        )  # fmt: skip
        assert pulled.exit_code == 0, pulled.output
        assert tree_bytes(out) == tree_bytes(
            (alpha if name == ALPHA else beta) / ".floe" / "artifacts"
        )


def test_one_platform_in_the_embedded_registry_needs_no_name(tmp_path: Path, home: Path) -> None:
    alpha = _platform(tmp_path, ALPHA, 70)
    assert _publish(alpha).exit_code == 0
    result = _init(tmp_path / "project")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ref"].startswith(f"oci-layout://{home / 'registry' / ALPHA}:")


def test_a_flat_embedded_registry_is_read_and_publishing_into_it_is_refused(
    tmp_path: Path, home: Path
) -> None:
    alpha, beta = _platform(tmp_path, ALPHA, 70), _platform(tmp_path, BETA, 90)
    flat = home / "registry"
    old = _publish(alpha, "--registry", f"oci-layout://{flat}")  # as floe wrote it before
    assert old.exit_code == 0, old.output
    before = tree_bytes(flat)
    refused = _publish(beta)
    assert refused.exit_code == 2
    event = error_json(refused)
    assert event["event"] == "registry_flat_layout"
    assert f"mv {flat} {flat}-flat && floe platform copy" in event["hint"]
    assert f"oci-layout://{flat / BETA}:VERSION" in event["hint"]
    assert tree_bytes(flat) == before  # nothing was written
    project = tmp_path / "project"
    kept = _init(project)  # a reader still finds the old releases
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.stdout)["manifest_digest"] == json.loads(old.stdout)["digest"]


def test_list_and_inspect_in_a_platform_folder_use_its_artifacts_registry(
    tmp_path: Path, home: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    alpha = _platform(tmp_path, ALPHA, 70, f"artifacts:\n  registry: {ref}\n")
    published = _publish(alpha)
    assert published.exit_code == 0, published.output
    assert json.loads(published.stdout)["reference"] == f"{ref}:v1.0.0"
    assert not (home / "registry").exists()  # the embedded registry was not touched
    listing = run_floe("platform", "list", "--format", "json", cwd=alpha)
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.stdout)["registry"] == ref
    assert [v["tag"] for v in json.loads(listing.stdout)["versions"]] == ["v1.0.0"]
    shown = run_floe("platform", "inspect", "v1.0.0", "--format", "json", cwd=alpha)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["reference"] == f"{ref}:v1.0.0"
    outside = run_floe("platform", "list", "--format", "json", cwd=tmp_path)
    assert outside.exit_code == 2  # elsewhere: the (empty) embedded registry
    assert error_json(outside)["event"] == "layout_not_found"


def test_a_tag_held_by_another_platform_names_the_repository_not_force(
    tmp_path: Path, home: Path, registry: Any, repo_name: str
) -> None:
    shared = registry.ref(repo_name)
    alpha, beta = _platform(tmp_path, ALPHA, 70), _platform(tmp_path, BETA, 90)
    assert _publish(alpha, "--registry", shared).exit_code == 0
    refused = _publish(beta, "--registry", shared)
    assert refused.exit_code == 1
    event = error_json(refused)
    assert event["event"] == "publish_tag_exists"
    assert f"holds the platform {ALPHA!r}, not {BETA!r}" in event["message"]
    parent = repo_name.rpartition("/")[0]  # the repository beside the shared one
    assert f"--registry oci://{registry.host}/{parent}/{BETA} " in event["hint"]
    assert "--force" not in event["hint"]
    # `platform copy` onto the other platform's tag hears the same
    own = registry.ref(f"{repo_name}-beta")
    assert _publish(beta, "--registry", own).exit_code == 0
    copied = run_floe("platform", "copy", f"{own}:v1.0.0", f"{shared}:v1.0.0", "--format", "json")
    assert copied.exit_code == 1, copied.output
    assert f"holds the platform {ALPHA!r}, not {BETA!r}" in error_json(copied)["message"]
    assert "--force" not in error_json(copied)["hint"]
    # another version of the other platform in the shared repository: no semver comparison
    newer = _platform(tmp_path / "newer", BETA, 90)
    text = (newer / "manifest.yaml").read_text().replace('"1.0.0"', '"1.1.0"')
    (newer / "manifest.yaml").write_text(text)
    assert compile_in(newer).exit_code == 0
    mixed = run_floe(
        "platform", "publish", "v1.1.0", "--registry", shared, "--format", "json",
        cwd=newer,
    )  # fmt: skip
    assert mixed.exit_code == 0, mixed.output
    assert f"{shared}:v1.0.0 is the platform {ALPHA!r}, not {BETA!r}" in mixed.stderr
    assert json.loads(mixed.stdout)["semver"]["skipped"] == f"v1.0.0 is platform {ALPHA}"
    # the same platform rebuilt differently still hears about --force
    changed = _platform(tmp_path / "again", ALPHA, 75)
    again = _publish(changed, "--registry", shared)
    assert again.exit_code == 1
    assert "--force" in error_json(again)["hint"]


def test_flag_and_floe_registry_win_over_the_platform_folder(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = _platform(tmp_path, ALPHA, 70, "artifacts:\n  registry: oci-layout://configured\n")
    other = f"oci-layout://{tmp_path / 'other'}"
    assert _publish(alpha, "--registry", other).exit_code == 0
    monkeypatch.setenv("FLOE_REGISTRY", other)
    listing = run_floe("platform", "list", "--format", "json", cwd=alpha)
    assert json.loads(listing.stdout)["registry"] == other
    monkeypatch.delenv("FLOE_REGISTRY")
    (alpha / ".floe" / "artifacts" / "manifest.json").write_text("{not json")
    broken = run_floe("platform", "list", "--format", "json", cwd=alpha)
    assert broken.exit_code == 1 and error_json(broken)["event"] == "tree_invalid"
    flagged = run_floe("platform", "list", other, "--format", "json", cwd=alpha)
    assert flagged.exit_code == 0, flagged.output  # a named registry never reads the folder
    assert [v["tag"] for v in json.loads(flagged.stdout)["versions"]] == ["v1.0.0"]


def test_sign_and_verify_a_bare_version_in_a_platform_folder(tmp_path: Path, home: Path) -> None:
    alpha, beta = _platform(tmp_path, ALPHA, 70), _platform(tmp_path, BETA, 90)
    assert _publish(alpha).exit_code == 0 and _publish(beta).exit_code == 0
    env = {"FLOE_SIGNING_PASSWORD": "pw"}
    assert run_floe("platform", "keygen", cwd=beta, env=env).exit_code == 0
    signed = run_floe("platform", "sign", "v1.0.0", "--key", "cosign.key", cwd=beta, env=env)
    assert signed.exit_code == 0, signed.output
    assert f"Signed oci-layout://{home / 'registry' / BETA}@sha256:" in signed.stdout
    verified = run_floe(
        "platform", "verify", "v1.0.0", "--key", "cosign.pub", "--format", "json", cwd=beta
    )
    assert verified.exit_code == 0, verified.output
    assert (
        json.loads(verified.stdout)["reference"]
        == f"oci-layout://{home / 'registry' / BETA}:v1.0.0"
    )
    other = run_floe("platform", "verify", "v1.0.0", "--key", str(beta / "cosign.pub"), cwd=alpha)
    assert other.exit_code == 1  # alpha's v1.0.0 is not signed by beta's key


def test_an_uncompiled_platform_folder_takes_the_registry_from_its_manifest(
    tmp_path: Path, home: Path
) -> None:
    import shutil

    alpha, beta = _platform(tmp_path, ALPHA, 70), _platform(tmp_path, BETA, 90)
    assert _publish(alpha).exit_code == 0 and _publish(beta).exit_code == 0
    shutil.rmtree(beta / ".floe")  # only manifest.yaml is left
    listing = run_floe("platform", "list", "--format", "json", cwd=beta)
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.stdout)["registry"] == f"oci-layout://{home / 'registry' / BETA}"
