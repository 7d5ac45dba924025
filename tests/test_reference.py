"""Reference parsing: oci:// and oci-layout://, tags vs ports vs paths, grammar errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import UsageError
from floe.oci.reference import Reference, parse_reference
from floe.oci.resolve import configured_registry, default_registry, expand_reference

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("oci://127.0.0.1:5000/floe-platform:v1.2.3",
         Reference("oci", host="127.0.0.1:5000", repository="floe-platform", tag="v1.2.3")),
        ("oci://registry.example.com/team/platform",
         Reference("oci", host="registry.example.com", repository="team/platform")),
        (f"oci://localhost:5000/a/b@{DIGEST}",
         Reference("oci", host="localhost:5000", repository="a/b", digest=DIGEST)),
        (f"oci://h/r:v1@{DIGEST}",
         Reference("oci", host="h", repository="r", tag="v1", digest=DIGEST)),
        ("oci-layout://demo/.registry:v1.2.3",
         Reference("oci-layout", path="demo/.registry", tag="v1.2.3")),
        ("oci-layout:///abs/with:colon/dir", Reference("oci-layout", path="/abs/with:colon/dir")),
        ("oci-layout:///abs/with:colon/dir:tag",
         Reference("oci-layout", path="/abs/with:colon/dir", tag="tag")),
        (f"oci-layout://rel@{DIGEST}", Reference("oci-layout", path="rel", digest=DIGEST)),
    ],
)  # fmt: skip
def test_parses(text: str, expected: Reference) -> None:
    ref = parse_reference(text)
    assert ref == expected
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("registry.example.com/repo:v1", "missing scheme"),
        ("http://host/repo", "unsupported scheme"),
        ("oci://host", "repository name is missing"),
        ("oci://host/Upper/Case", "repository 'Upper/Case' is not valid"),
        ("oci://host/repo--x_/y", "is not valid"),
        ("oci://host/repo:-bad", "tag '-bad' is not valid"),
        ("oci://host/repo:" + "a" * 129, "is not valid"),
        ("oci://host/repo@sha256:short", "is not a sha256"),
        ("oci://host/repo@md5:" + "a" * 32, "is not a sha256"),
        ("oci://ho st/repo", "host"),
        ("oci-layout://", "layout path is empty"),
        ("oci-layout://:v1", "layout path is empty"),
    ],
)
def test_rejects_with_reason(text: str, why: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_reference(text)
    assert info.value.slug == "reference_invalid"
    assert info.value.exit_code == 2
    assert why in info.value.message


def test_host_only_gets_default_repository() -> None:
    ref = parse_reference("oci://127.0.0.1:5000", default_repository="floe-platform")
    assert ref.repository == "floe-platform"
    assert ref.with_tag("v1.0.0").reference == "v1.0.0"
    assert str(ref.with_digest(DIGEST)) == f"oci://127.0.0.1:5000/floe-platform@{DIGEST}"


def test_registry_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path))
    monkeypatch.delenv("FLOE_REGISTRY", raising=False)
    # one layout per repository: `floe-platform` while the embedded registry is empty
    assert default_registry() == f"oci-layout://{tmp_path / 'registry' / 'floe-platform'}"
    assert default_registry("acme") == f"oci-layout://{tmp_path / 'registry' / 'acme'}"
    assert configured_registry(None, None) == default_registry()
    assert configured_registry(None, "oci://cfg/r") == "oci://cfg/r"
    monkeypatch.setenv("FLOE_REGISTRY", "oci://env/r")
    assert configured_registry(None, "oci://cfg/r") == "oci://env/r"
    assert configured_registry("oci://flag/r", "oci://cfg/r") == "oci://flag/r"


def test_bare_tag_expands_in_configured_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_REGISTRY", "oci://127.0.0.1:5000")
    assert str(expand_reference("v1.2.3")) == "oci://127.0.0.1:5000/floe-platform:v1.2.3"
    assert expand_reference(DIGEST).digest == DIGEST
    with pytest.raises(UsageError):
        expand_reference("not a tag")


@pytest.mark.parametrize(
    "text",
    [
        "oci://user:hunter2pw@host/x",
        "oci://user:hunter2pw@127.0.0.1:5000/a/b:v1",
        "oci://hunter2pw@h/x",
    ],
)
def test_reference_invalid_never_echoes_userinfo(text: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        parse_reference(text)
    error = excinfo.value
    assert error.slug == "reference_invalid"
    assert "hunter2pw" not in error.one_line() + str(error.to_json())
    assert "[redacted]@" in error.message


def test_an_embedded_repository_is_one_safe_path_component(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path))
    for hostile in ("../escape", "a/b", "UPPER", "", "."):
        with pytest.raises(UsageError) as caught:
            default_registry(hostile)
        assert caught.value.slug == "reference_invalid"
    assert not (tmp_path / "registry").exists()
