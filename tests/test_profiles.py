"""profiles.yml for the platform's compute plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from compile_helpers import acme_tree

from floe.errors import UsageError
from floe.project.profiles import (
    HEADER,
    build_profile,
    read_profile_name,
    write_profile,
)


def _output(text: str, profile: str = "shop") -> dict[str, object]:
    data = yaml.safe_load(text)
    assert data[profile]["target"] == "floe"
    output = data[profile]["outputs"]["floe"]
    assert isinstance(output, dict)
    return output


def test_duckdb_profile_has_path_threads_extensions_settings(tmp_path: Path) -> None:
    config = {
        "path": "warehouse/acme.duckdb",
        "threads": 8,
        "extensions": ["httpfs", "parquet", "json"],
        "settings": {"memory_limit": "2GB", "s3_access_key_id": "${env:AWS_ACCESS_KEY_ID}"},
    }
    profile = build_profile(acme_tree(config), "shop", tmp_path)
    assert profile.text.startswith(HEADER)
    output = _output(profile.text)
    assert output["type"] == "duckdb"
    assert output["path"] == (tmp_path.resolve() / "warehouse/acme.duckdb").as_posix()
    assert output["threads"] == 8
    # parquet and json are built into duckdb: dbt-duckdb would try to download them.
    assert output["extensions"] == ["httpfs"]
    assert output["settings"] == {
        "memory_limit": "2GB",
        "s3_access_key_id": "{{ env_var('AWS_ACCESS_KEY_ID') }}",
    }
    assert profile.notes == ()


def test_env_path_and_absolute_path_are_kept(tmp_path: Path) -> None:
    env_profile = build_profile(acme_tree({"path": "${env:WAREHOUSE}"}), "shop", tmp_path)
    assert _output(env_profile.text)["path"] == "{{ env_var('WAREHOUSE') }}"
    absolute = build_profile(acme_tree({"path": "/data/w.duckdb"}), "shop", tmp_path)
    assert _output(absolute.text)["path"] == "/data/w.duckdb"
    memory = build_profile(acme_tree({"path": ":memory:"}), "shop", tmp_path)
    assert _output(memory.text)["path"] == ":memory:"


def test_default_path_and_threads(tmp_path: Path) -> None:
    output = _output(build_profile(acme_tree({}), "shop", tmp_path).text)
    assert output["path"] == (tmp_path.resolve() / "target/floe.duckdb").as_posix()
    assert output["threads"] == 4


def test_literal_secret_is_never_written(tmp_path: Path) -> None:
    config = {"settings": {"motherduck_token": "sk-live-12345"}}
    profile = build_profile(acme_tree(config), "shop", tmp_path)
    assert "sk-live-12345" not in profile.text
    settings = _output(profile.text)["settings"]
    assert settings == {"motherduck_token": "{{ env_var('MOTHERDUCK_TOKEN') }}"}
    assert any("MOTHERDUCK_TOKEN" in note for note in profile.notes)


def test_profile_is_deterministic(tmp_path: Path) -> None:
    config = {"settings": {"b": "2", "a": "1"}, "threads": 3, "extensions": ["spatial"]}
    first = build_profile(acme_tree(config), "shop", tmp_path).text
    second = build_profile(acme_tree(dict(reversed(list(config.items())))), "shop", tmp_path)
    assert first == second.text
    assert first.index("a: '1'") < first.index("b: '2'")


def test_unsupported_compute_names_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        build_profile(acme_tree({}, compute="snowflake"), "shop", tmp_path)
    assert err.value.slug == "compute_unsupported"
    assert "duckdb" in (err.value.hint or "")


def test_bad_threads_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        build_profile(acme_tree({"threads": 0}), "shop", tmp_path)
    assert err.value.slug == "profile_invalid"


def test_write_is_atomic_and_refuses_foreign_files(tmp_path: Path) -> None:
    profile = build_profile(acme_tree(), "shop", tmp_path)
    path = write_profile(profile, tmp_path)
    assert path.read_text() == profile.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles.yml"]
    write_profile(profile, tmp_path)  # regenerating our own file is fine
    path.write_text("shop:\n  target: dev\n")
    with pytest.raises(UsageError) as err:
        write_profile(profile, tmp_path)
    assert err.value.slug == "profiles_not_generated"
    assert path.read_text() == "shop:\n  target: dev\n"


def test_profile_name_from_dbt_project(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop_profile\n")
    assert read_profile_name(tmp_path) == "shop_profile"
    (tmp_path / "dbt_project.yml").write_text("name: shop\n")
    assert read_profile_name(tmp_path) == "shop"
    (tmp_path / "dbt_project.yml").unlink()
    with pytest.raises(UsageError) as err:
        read_profile_name(tmp_path)
    assert err.value.slug == "project_invalid"


def test_only_builtin_extensions_leaves_no_extensions_key(tmp_path: Path) -> None:
    output = _output(build_profile(acme_tree({"extensions": ["parquet"]}), "shop", tmp_path).text)
    assert "extensions" not in output
