"""Each command imports only what its path needs (issue #15): the guard of start-up speed.

Every case runs the real CLI in a fresh interpreter (imports are per process) and reads
back `sys.modules` after the command returned. No timing is asserted: a forbidden module
is the regression (an import moved back to module level, a probe that opens a database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compile_helpers import acme_files, write_tiny_project
from lifecycle_helpers import publish
from oci_helpers import write_tree

from floe.errors import GateError
from floe.project import profiles
from floe.tree import model as t

REPO_ROOT = Path(__file__).resolve().parent.parent

# Runs one floe command like the console script, then records what it imported.
_WRAPPER = """
import json, sys
from floe.cli.main import run
code = run(sys.argv[2:])
tree = sys.modules.get("floe.tree.model")
built = tree is not None and tree.PlatformTree.__pydantic_complete__  # a schema was built
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"code": code, "modules": sorted(sys.modules), "tree_schema": built}, out)
"""

NETWORK = ("requests", "urllib3")
CRYPTO = ("cryptography", "nacl", "sigstore", "floe.signing.keys", "floe.signing.algorithms")
HEAVY = ("rich", "duckdb", "dbt", "sqlglot", "jsonschema")
# `floe --help` and `floe version` load click and the command table, nothing else heavy.
LIGHT_FORBIDDEN = (
    *NETWORK,
    *CRYPTO,
    *HEAVY,
    "pydantic",
    "yaml",
    "floe.signing",
    "floe.tree.model",
    "floe.project",
    "floe.platform",
    "floe.artifact",
    "floe.rules",
)


def _floe_imports(
    args: list[str], tmp_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, set[str]]:
    record = tmp_path / f"imports-{len(list(tmp_path.glob('imports-*')))}.json"
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(record), *args],
        cwd=cwd or tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert record.exists(), done.stderr
    data: dict[str, Any] = json.loads(record.read_text(encoding="utf-8"))
    assert data["code"] == 0, done.stdout + done.stderr
    schema = {"floe.tree.model:schema-built"} if data["tree_schema"] else set()
    return int(data["code"]), set(data["modules"]) | schema


def _loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    """The forbidden packages present (a package counts when any of its modules is)."""
    return sorted(
        name for name in forbidden if any(m == name or m.startswith(name + ".") for m in modules)
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"FLOE_HOME": str(tmp_path / "floe-home"), "FLOE_SIGNING_PASSWORD": ""}


@pytest.fixture
def tree_dir(tmp_path: Path) -> Path:
    """An unsigned compiled tree whose compute config lists duckdb extensions."""
    config = {"path": "target/warehouse.duckdb", "threads": 2, "extensions": ["parquet", "httpfs"]}
    return write_tree(tmp_path / "artifacts", acme_files(config))


@pytest.fixture
def layout_ref(tmp_path: Path, tree_dir: Path) -> str:
    """The tree published unsigned to an embedded OCI layout registry."""
    from oci_helpers import read_dir

    ref = f"oci-layout://{tmp_path / 'registry'}/floe-platform"
    publish(ref, read_dir(tree_dir))
    return ref


@pytest.mark.parametrize("args", [["--help"], ["platform", "--help"], ["version"]])
def test_help_and_version_import_no_library(args: list[str], tmp_path: Path) -> None:
    _, modules = _floe_imports(args, tmp_path)
    assert "click" in modules  # the wrapper really ran the CLI
    assert _loaded(modules, LIGHT_FORBIDDEN) == []


def test_compile_help_imports_no_library(tmp_path: Path) -> None:
    _, modules = _floe_imports(["compile", "--help"], tmp_path)
    assert _loaded(modules, LIGHT_FORBIDDEN) == []


def test_init_cold_then_warm_compile(tmp_path: Path, layout_ref: str, home: dict[str, str]) -> None:
    project = write_tiny_project(tmp_path / "tiny")
    # cold init: resolve, verify (nothing signed, nothing pinned) and install
    _, modules = _floe_imports(
        ["init", "--platform=v1.2.3", "--registry", layout_ref], tmp_path, cwd=project, env=home
    )
    assert (project / "floe.yaml").is_file()
    assert _loaded(modules, (*NETWORK, *CRYPTO, "rich", "duckdb", "dbt")) == []
    # first compile writes profiles.yml (the extension list is data: no duckdb)
    _, modules = _floe_imports(["compile"], tmp_path, cwd=project, env=home)
    text = (project / "profiles.yml").read_text(encoding="utf-8")
    assert "httpfs" in text and "parquet" not in text  # parquet is built into duckdb
    assert _loaded(modules, ("duckdb",)) == []
    # the warm compile: platform cached and locked, nothing to report
    _, modules = _floe_imports(["compile"], tmp_path, cwd=project, env=home)
    assert "floe.rules.engine" in modules  # it really enforced the rules
    assert _loaded(modules, (*NETWORK, *CRYPTO, "rich", "duckdb", "dbt")) == []
    # the lock pins every tree file: built as plain verified data, no pydantic validation
    assert "floe.tree.model:schema-built" not in modules


def test_signed_warm_compile_loads_no_crypto_and_takes_no_lock(
    tmp_path: Path, tree_dir: Path, home: dict[str, str]
) -> None:
    """A signed, locked platform: the first compile checks the cached signature in full
    (cryptography), then seals that state; the warm compile reads the sealed record, and
    as no writer left anything behind it takes no file lock either."""
    from lifecycle_helpers import make_signer
    from oci_helpers import read_dir

    signer, pub = make_signer(tmp_path / "keys")
    ref = f"oci-layout://{tmp_path / 'signed'}/floe-platform"
    publish(ref, read_dir(tree_dir), signer=signer)
    env = {**home, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    project = write_tiny_project(tmp_path / "tiny")
    init = ["init", "--platform=v1.2.3", "--registry", ref, "--key", str(pub)]
    _floe_imports(init, tmp_path, cwd=project, env=env)
    _, modules = _floe_imports(["compile"], tmp_path, cwd=project, env=env)
    assert "floe.signing.keys" in modules  # the full check ran once
    assert (project / "target" / "floe" / "trust-checked").is_file()
    _, modules = _floe_imports(["compile"], tmp_path, cwd=project, env=env)
    assert "floe.rules.engine" in modules and "floe.trust.cached" in modules
    assert _loaded(modules, (*NETWORK, *CRYPTO, "rich", "duckdb", "dbt", "filelock")) == []
    assert _loaded(modules, ("floe.project.install", "floe.release.cached_source")) == []
    # floe.yaml's bytes were validated by the first compile (sealed): no model loaded
    assert "floe.project.floe_yaml" not in modules


def test_pull_unsigned_from_a_layout(tmp_path: Path, layout_ref: str, home: dict[str, str]) -> None:
    out = tmp_path / "pulled"
    _, modules = _floe_imports(
        ["platform", "pull", f"{layout_ref}:v1.2.3", "--out", str(out), "--no-require-signed"],
        tmp_path,
        env=home,
    )
    assert (out / "manifest.json").is_file()
    assert _loaded(modules, (*NETWORK, *CRYPTO, *HEAVY)) == []
    # a download is validated in full by the plain walk (parse_tree's verdict, see
    # tests/test_tree_download.py): no pydantic schema is built for a valid tree
    assert "floe.tree.download" in modules
    assert "floe.tree.model:schema-built" not in modules


def test_pull_unsigned_from_a_registry(
    tmp_path: Path, tree_dir: Path, registry: Any, repo_name: str, home: dict[str, str]
) -> None:
    from oci_helpers import read_dir

    publish(registry.ref(repo_name), read_dir(tree_dir))
    out = tmp_path / "pulled"
    _, modules = _floe_imports(
        ["platform", "pull", registry.ref(repo_name, "v1.2.3"), "--out", str(out),
         "--no-require-signed"],
        tmp_path,
        env=home,
    )  # fmt: skip
    assert (out / "manifest.json").is_file()
    assert "requests" in modules  # a registry is HTTP
    assert _loaded(modules, (*CRYPTO, *HEAVY)) == []
    assert "floe.tree.model:schema-built" not in modules  # the plain walk gave the verdict


def test_publish_unsigned(tmp_path: Path, tree_dir: Path, home: dict[str, str]) -> None:
    registry = f"oci-layout://{tmp_path / 'registry'}/floe-platform"
    _, modules = _floe_imports(
        ["platform", "publish", "v1.2.3", "--artifacts", str(tree_dir), "--registry", registry,
         "--allow-unsigned"],
        tmp_path,
        env=home,
    )  # fmt: skip
    assert (tmp_path / "registry" / "floe-platform" / "index.json").is_file()
    assert _loaded(modules, (*NETWORK, *CRYPTO, *HEAVY)) == []


def test_platform_test(tmp_path: Path, tree_dir: Path, home: dict[str, str]) -> None:
    _, modules = _floe_imports(
        ["platform", "test", "--artifacts", str(tree_dir)], tmp_path, env=home
    )
    assert "floe.platform.policy_test" in modules
    assert _loaded(modules, (*NETWORK, *CRYPTO, "rich", "duckdb", "dbt")) == []


# ---- profiles.yml: the duckdb extension list is data ------------------------------------


def test_builtin_extension_table_matches_the_installed_duckdb() -> None:
    """The entry for the installed duckdb is what duckdb itself reports (a duckdb upgrade
    without a table update fails here, not in an offline dbt run)."""
    version = profiles.duckdb_version()
    assert version is not None
    assert version in profiles.BUILTIN_EXTENSIONS, f"add duckdb {version} to BUILTIN_EXTENSIONS"
    assert profiles._probe_duckdb() == profiles.BUILTIN_EXTENSIONS[version]


def test_unknown_duckdb_version_is_probed_once_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_HOME", str(tmp_path))
    monkeypatch.setattr(profiles, "duckdb_version", lambda: "0.0.0-test")
    probes: list[int] = []
    real_probe = profiles._probe_duckdb

    def counting_probe() -> frozenset[str] | None:
        probes.append(1)
        return real_probe()

    monkeypatch.setattr(profiles, "_probe_duckdb", counting_probe)
    first = profiles.builtin_duckdb_extensions()
    second = profiles.builtin_duckdb_extensions()
    assert first == second and "parquet" in first
    assert len(probes) == 1
    cached = json.loads((tmp_path / "cache" / "duckdb-builtin-extensions.json").read_text())
    assert cached == {"0.0.0-test": sorted(first)}


def test_no_duckdb_means_no_builtin_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "duckdb_version", lambda: None)
    assert profiles.builtin_duckdb_extensions() == frozenset()


# ---- the lock-pinned tree: plain verified data -----------------------------------------


def _with(files: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    return {**files, name: data}


def _catalogue_files() -> dict[str, bytes]:
    """acme_files() plus the catalogue families of manifests/acme (every family file)."""
    from floe.platform.manifest import load_manifest
    from floe.platform.rule_families import build_families

    loaded = load_manifest(REPO_ROOT / "manifests" / "acme" / "manifest.yaml")
    families = {path: t.model_bytes(m) for path, m in build_families(loaded.model.rules).items()}
    files = {**acme_files(), **families}
    manifest = json.loads(files[t.MANIFEST_FILE])
    manifest["metadata"]["digest"] = t.content_digest(files)
    return {**files, t.MANIFEST_FILE: t.dump_json(manifest)}


def test_locked_tree_is_the_parsed_tree() -> None:
    catalogue = _catalogue_files()
    assert set(t.OPTIONAL_TREE_FILES) <= set(catalogue)  # every family, nested rules too
    for files in (acme_files(), catalogue):
        locked, parsed = t.load_locked_tree(files), t.parse_tree(files)
        assert locked == parsed
        assert locked.model_dump(mode="json") == parsed.model_dump(mode="json")
        assert t.model_bytes(locked.quality_gates) == files[t.QUALITY_GATES_FILE]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (t.NAMESPACES_FILE, b'{"namespaces": [], "extra": 1}', "unexpected keys: extra"),
        (t.NAMESPACES_FILE, b"{}", "namespaces: Field required"),
        (t.NAMESPACES_FILE, b"[]", "expected an object"),
        (t.NAMESPACES_FILE, b"{not json", "not valid JSON"),
        (t.MANIFEST_FILE, None, "lacks manifest.json"),
        ("policies/unknown.json", b"{}", "unexpected files: policies/unknown.json"),
    ],
)
def test_locked_tree_still_checks_keys_and_shape(
    name: str, data: bytes | None, message: str
) -> None:
    files = acme_files()
    files = (
        {k: v for k, v in files.items() if k != name} if data is None else _with(files, name, data)
    )
    with pytest.raises(GateError) as caught:
        t.load_locked_tree(files, origin="cache")
    assert caught.value.slug == "tree_invalid"
    assert message in caught.value.message


def test_locked_tree_checks_the_content_digest() -> None:
    files = acme_files()
    edited = _with(files, t.NAMESPACES_FILE, t.model_bytes(t.Namespaces(namespaces=["x"])))
    with pytest.raises(GateError) as caught:
        t.load_locked_tree(edited)
    assert caught.value.slug == "tree_digest_mismatch"
