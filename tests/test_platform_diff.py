"""`floe platform diff`: tightening/loosening/neutral per rule, and the semver bump needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import run_floe
from manifest_helpers import MINIMAL, compile_in, write_manifest

from floe.platform.diff import bump_between, diff_folders

EXTRA = """\
  classification:
    levels: [public, internal, pii]
    rules:
      pii:
        forbidden_layers: [gold]
  access_control:
    roles: [analyst, engineer]
    permissions:
      analyst: [select]
catalog:
  namespaces: [bronze, silver, gold]
"""


def _compile(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    write_manifest(folder, text)
    result = compile_in(folder, "--out", "out")
    assert result.exit_code == 0, result.output
    return folder / "out"


def _base(version: str = "1.2.3") -> str:
    return MINIMAL.replace('version: "1.2.3"', f'version: "{version}"') + EXTRA


def test_a_tightening_is_a_minor_bump(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    tighter = _base("1.3.0").replace("minimum_test_coverage: 80", "minimum_test_coverage: 90")
    tighter = tighter.replace("forbidden_layers: [gold]", "forbidden_layers: [gold, silver]")
    new = _compile(tmp_path, "b", tighter)
    report = diff_folders(old, new)
    found = {(c.rule, c.kind) for c in report.changes}
    assert found == {
        ("quality_gates.minimum_test_coverage", "tightening"),
        ("classification.rules.pii.forbidden_layers", "tightening"),
    }
    assert report.needed == "minor"
    assert report.made == "minor"
    assert report.enough


def test_a_loosening_pair_is_the_reverse(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    looser = _base("1.2.4").replace("minimum_test_coverage: 80", "minimum_test_coverage: 50")
    looser = looser.replace("analyst: [select]", "analyst: [select, insert]")
    report = diff_folders(old, _compile(tmp_path, "b", looser))
    assert {(c.rule, c.kind) for c in report.changes} == {
        ("quality_gates.minimum_test_coverage", "loosening"),
        ("access_control.permissions.analyst", "loosening"),
    }
    assert report.needed == "patch"
    assert report.enough


def test_removing_a_namespace_level_or_role_needs_a_major_bump(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    for old_text, new_text, rule in (
        ("namespaces: [bronze, silver, gold]", "namespaces: [bronze, gold]", "catalog.namespaces"),
        ("roles: [analyst, engineer]", "roles: [analyst]", "access_control.roles"),
        ("levels: [public, internal, pii]", "levels: [public, pii]", "classification.levels"),
    ):
        new = _compile(tmp_path, rule, _base("1.3.0").replace(old_text, new_text))
        report = diff_folders(old, new)
        assert [c.rule for c in report.changes if c.breaking] == [rule]
        assert report.needed == "major"
        assert not report.enough


def test_identical_trees_need_no_bump_and_cli_renders_text_and_json(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    same = _compile(tmp_path, "b", _base())
    assert diff_folders(old, same).changes == []
    assert diff_folders(old, same).needed == "none"
    tighter = _compile(
        tmp_path, "c", _base("1.2.4").replace("enforcement: strict", "enforcement: warn")
    )
    text = run_floe("platform", "diff", str(old), str(tighter), "--semver")
    assert text.exit_code == 0, text.output
    assert "loosening   naming.enforcement: 2 -> 1" in text.stdout
    assert "semver: needs patch" in text.stdout
    as_json = run_floe("platform", "diff", str(tighter), str(old), "--format", "json")
    data = json.loads(as_json.stdout)
    assert data["changes"] == [
        {"rule": "naming.enforcement", "kind": "tightening", "detail": "1 -> 2", "breaking": False}
    ]
    assert data["semver"] == {"needed": "minor", "made": "none", "enough": False}


def test_a_tampered_tree_is_refused(tmp_path: Path) -> None:
    old = _compile(tmp_path, "a", _base())
    new = _compile(tmp_path, "b", _base())
    gates = new / "policies" / "quality-gates.json"
    gates.write_text(gates.read_text().replace("80", "10"))
    result = run_floe("platform", "diff", str(old), str(new))
    assert result.exit_code != 0
    assert "error[" in result.stderr


def test_version_bumps() -> None:
    assert bump_between("1.2.3", "2.0.0") == "major"
    assert bump_between("1.2.3", "1.3.0") == "minor"
    assert bump_between("1.2.3", "1.2.4") == "patch"
    assert bump_between("1.2.3", "1.2.3") == "none"


# ---- against a real registry: publish's semver check, diff of references ------------------


def _release(tmp_path: Path, name: str, text: str, *args: str, fmt: str = "json") -> Any:
    """Compile `text` in its own folder (.floe/artifacts) and publish its version there."""
    folder = tmp_path / name
    write_manifest(folder, text)
    assert compile_in(folder).exit_code == 0
    version = "v" + text.split('version: "', 1)[1].split('"', 1)[0]
    return run_floe("platform", "publish", version, *args, "--format", fmt, cwd=folder)


def _writes(registry: Any, repo: str, before: int) -> list[str]:
    return [
        line
        for line in registry.request_log()[before:]
        if f"/v2/{repo}/" in line and line.split()[0] in ("PUT", "POST", "PATCH")
    ]


def test_publish_compares_with_the_previous_release_and_check_semver_refuses(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    first = _release(tmp_path, "a", _base(), "--registry", ref)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["semver"]["previous"] is None  # nothing to compare
    tighter = _base("1.2.4").replace("minimum_test_coverage: 80", "minimum_test_coverage: 90")
    warned = _release(tmp_path, "b", tighter, "--registry", ref)
    assert warned.exit_code == 0, warned.output
    assert (
        "! Semver: 1 rule change(s) since v1.2.3 need a minor bump; v1.2.4 is a patch bump; "
        "publish v1.3.0 or later instead"
    ) in warned.stderr
    assert json.loads(warned.stdout)["semver"] == {
        "previous": "v1.2.3", "needed": "minor", "made": "patch", "enough": False,
        "changes": 1, "skipped": None,
    }  # fmt: skip
    before = len(registry.request_log())
    stricter = tighter.replace('version: "1.2.4"', 'version: "1.2.5"').replace(
        "minimum_test_coverage: 90", "minimum_test_coverage: 95"
    )
    refused = _release(tmp_path, "c", stricter, "--registry", ref, "--check-semver")
    assert refused.exit_code == 1
    event = json.loads(refused.stdout)
    assert event["event"] == "publish_semver_too_small"
    assert "since v1.2.4 need a minor bump; v1.2.5 is a patch bump" in event["message"]
    assert event["hint"].startswith("publish v1.3.0 (recompile with metadata.version 1.3.0)")
    assert _writes(registry, repo_name, before) == []  # nothing was pushed
    listing = json.loads(run_floe("platform", "list", ref, "--format", "json").stdout)
    assert [v["tag"] for v in listing["versions"]] == ["v1.2.4", "v1.2.3"]
    minor = stricter.replace('version: "1.2.5"', 'version: "1.3.0"')
    accepted = _release(tmp_path, "d", minor, "--registry", ref, "--check-semver", fmt="text")
    assert accepted.exit_code == 0, accepted.output
    assert (
        "  ✓ Semver: 1 rule change(s) since v1.2.4 need a minor bump; v1.3.0 is a minor bump\n"
    ) in accepted.stdout
    again = run_floe("platform", "publish", "v1.3.0", "--registry", ref, cwd=tmp_path / "d")
    assert again.exit_code == 0, again.output
    assert "Semver" not in again.output  # the same build again: nothing to compare
    same = minor.replace('version: "1.3.0"', 'version: "1.3.1"')
    patch = _release(tmp_path, "f", same, "--registry", ref, "--check-semver", fmt="text")
    assert patch.exit_code == 0, patch.output
    assert "  ✓ Semver: no rule change since v1.3.0\n" in patch.stdout
    major = _release(tmp_path, "e", _base("2.0.0"), "--registry", ref)
    assert major.exit_code == 0, major.output  # loosening back to 80 under a major: enough
    assert "! Semver" not in major.stderr
    semver = json.loads(major.stdout)["semver"]
    assert (semver["previous"], semver["needed"], semver["made"]) == ("v1.3.1", "patch", "major")


def test_diff_of_references_and_bare_versions_in_a_platform_folder(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    with_registry = f"artifacts:\n  registry: {ref}\n"
    assert _release(tmp_path, "a", _base() + with_registry).exit_code == 0
    tighter = _base("1.3.0").replace("forbidden_layers: [gold]", "forbidden_layers: [gold, silver]")
    published = _release(tmp_path, "b", tighter + with_registry)
    assert published.exit_code == 0, published.output
    digest = json.loads(published.stdout)["digest"]

    by_ref = run_floe(
        "platform", "diff", f"{ref}:v1.2.3", f"{ref}:v1.3.0", "--semver", "--format", "json"
    )
    assert by_ref.exit_code == 0, by_ref.output
    data = json.loads(by_ref.stdout)
    assert data["changes"] == [
        {"rule": "classification.rules.pii.forbidden_layers", "kind": "tightening",
         "detail": "added 'silver'", "breaking": False}
    ]  # fmt: skip
    assert data["semver"] == {"needed": "minor", "made": "minor", "enough": True}
    assert data["sources"]["new"] == f"{ref}:v1.3.0@{digest}"

    # in the platform folder a bare version is looked up in its artifacts.registry
    backwards = run_floe("platform", "diff", "v1.3.0", "v1.2.3", "--semver", cwd=tmp_path / "b")
    assert backwards.exit_code == 1  # a loosening under an older version: too small
    assert "loosening   classification.rules.pii.forbidden_layers: removed 'silver'" in (
        backwards.stdout
    )
    assert "semver: needs patch" in backwards.stdout and "(too small)" in backwards.stdout

    # a compiled folder against a release; trust flags apply to the pulled side
    folder = tmp_path / "b" / ".floe" / "artifacts"
    mixed = run_floe("platform", "diff", f"{ref}:v1.3.0", str(folder), "--format", "json")
    assert mixed.exit_code == 0, mixed.output
    assert json.loads(mixed.stdout)["changes"] == []
    unsigned = run_floe(
        "platform", "diff", f"{ref}:v1.2.3", str(folder), "--require-signed", "--format", "json"
    )
    assert unsigned.exit_code == 1
    assert json.loads(unsigned.stdout)["event"].startswith("signature_")
    bad = run_floe("platform", "diff", str(tmp_path / "nope"), "v1.2.3", "--format", "json")
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["event"] == "diff_operand_invalid"


def test_the_comparison_reads_the_previous_release_once(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ref = registry.ref(repo_name)
    assert _release(tmp_path, "a", _base(), "--registry", ref).exit_code == 0
    before = len(registry.request_log())
    tighter = _base("1.3.0").replace("minimum_test_coverage: 80", "minimum_test_coverage: 90")
    assert _release(tmp_path, "b", tighter, "--registry", ref).exit_code == 0
    log = [
        line.split("?", 1)[0]
        for line in registry.request_log()[before:]
        if f"/v2/{repo_name}/" in line
    ]
    gets = [line for line in log if line.startswith("GET")]
    # new tag free? tag list, previous manifest, each of its 8 blobs: every question once
    assert len(gets) == len(set(gets)) == 11
    assert gets[:3] == [
        f"GET /v2/{repo_name}/manifests/v1.3.0",
        f"GET /v2/{repo_name}/tags/list",
        f"GET /v2/{repo_name}/manifests/v1.2.3",
    ]
    assert len([line for line in gets if "/blobs/" in line]) == 8


def test_a_previous_tag_that_is_not_a_floe_release_warns_or_with_check_semver_refuses(
    tmp_path: Path,
) -> None:
    import io

    from floe.oci.layout import LayoutTarget
    from floe.oci.target import EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
    from floe.oci.target import canonical_json as cj

    layout = LayoutTarget(tmp_path / "layout")  # an oras-style artifact tagged v1.2.0
    layer = Descriptor.for_bytes("text/plain", b"not a platform")
    layout.push(layer, io.BytesIO(b"not a platform"))
    layout.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    data = cj({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "text/plain",
               "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
               "layers": [layer.to_json()]})  # fmt: skip
    manifest = Descriptor.for_bytes(OCI_MANIFEST, data)
    layout.push(manifest, io.BytesIO(data))
    layout.tag(manifest, "v1.2.0")
    ref = f"oci-layout://{tmp_path / 'layout'}"
    strict = _release(tmp_path, "a", _base(), "--registry", ref, "--check-semver")
    assert strict.exit_code != 0
    assert json.loads(strict.stdout)["event"] == "artifact_not_floe"
    assert LayoutTarget(tmp_path / "layout").tags() == ["v1.2.0"]  # nothing was pushed
    warned = _release(tmp_path, "b", _base(), "--registry", ref)
    assert warned.exit_code == 0, warned.output
    assert f"! Semver: cannot compare with {ref}:v1.2.0: " in warned.stderr
    assert json.loads(warned.stdout)["semver"]["skipped"] == "v1.2.0: artifact_not_floe"
