"""The PostgreSQL compute plugin: profile, real grants applied and verified, drift caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from compile_helpers import REPO_ROOT, acme_files, copy_demo
from conftest import run_floe
from lifecycle_helpers import install_state
from postgres_fixtures import Postgres

from floe.errors import UsageError
from floe.project import plugins
from floe.project.plugins.postgres import (
    Relation,
    grant_statements,
    profile_output,
    relations_from_manifest,
)
from floe.project.plugins.warehouse import normalize_type
from floe.tree import model as t
from floe.tree.model import parse_tree, read_tree_files

PG_CONFIG = {"host": "db.internal", "port": 5432, "user": "dbt", "dbname": "analytics"}


def _with_grants(
    files: dict[str, bytes], grants: dict[str, dict[str, list[str]]]
) -> dict[str, bytes]:
    """The acme-like tree with namespace grants, its content digest recomputed."""
    out = dict(files)
    out[t.NAMESPACES_FILE] = t.model_bytes(
        t.Namespaces(namespaces=["bronze", "silver", "gold"], grants=grants)
    )
    manifest = t.PlatformManifest.model_validate_json(out[t.MANIFEST_FILE])
    metadata = manifest.metadata.model_copy(update={"digest": t.content_digest(out)})
    out[t.MANIFEST_FILE] = t.model_bytes(manifest.model_copy(update={"metadata": metadata}))
    return out


GRANTS = {
    "silver": {"data_engineer": ["select", "insert"], "analyst": ["select"]},
    "gold": {"analyst": ["select"], "admin": ["select", "delete"]},
}


def test_profile_never_writes_a_password() -> None:
    notes: list[str] = []
    output = profile_output({**PG_CONFIG, "schema": "public"}, notes)
    assert output["type"] == "postgres" and output["dbname"] == "analytics"
    assert output["password"] == "{{ env_var('FLOE_POSTGRES_PASSWORD', '') }}"
    with_ref = profile_output({**PG_CONFIG, "schema": "x", "password": "${env:PGPASS}"}, [])
    assert with_ref["password"] == "{{ env_var('PGPASS', '') }}"
    with pytest.raises(UsageError) as literal:
        profile_output({**PG_CONFIG, "schema": "x", "password": "hunter2"}, [])
    assert literal.value.slug == "profile_invalid" and "hunter2" not in literal.value.message
    with pytest.raises(UsageError, match=r"config\.host"):
        profile_output({"user": "dbt", "dbname": "d", "schema": "s"}, [])


def test_grants_follow_the_platform_within_role_permissions() -> None:
    tree = parse_tree(_with_grants(acme_files(PG_CONFIG, compute="postgres"), GRANTS))
    relations = [
        Relation("model.p.a", "gold", "gold_a", "model"),
        Relation("m.b", "x", "b", "model"),
    ]
    statements = grant_statements(tree, relations, create_roles=True)
    assert statements == grant_statements(tree, list(reversed(relations)), create_roles=True)
    assert 'GRANT USAGE ON SCHEMA "gold" TO "analyst"' in statements
    assert 'GRANT SELECT ON "gold"."gold_a" TO "analyst"' in statements
    # admin may delete per access control (acme_files: select, insert, update, delete).
    assert 'GRANT SELECT, DELETE ON "gold"."gold_a" TO "admin"' in statements
    assert not any('"x"' in s for s in statements)  # no grants where none are declared
    assert sum("CREATE ROLE" in s for s in statements) == 3


def test_relations_skip_ephemeral_and_read_contracts() -> None:
    manifest: dict[str, Any] = {
        "nodes": {
            "model.p.a": {
                "resource_type": "model",
                "schema": "gold",
                "name": "a",
                "alias": "a_alias",
                "config": {"materialized": "table", "contract": {"enforced": True}},
                "columns": {"id": {"data_type": "int", "meta": {"classification": "pii"}}},
            },
            "model.p.e": {
                "resource_type": "model",
                "schema": "s",
                "config": {"materialized": "ephemeral"},
            },
            "test.p.t": {"resource_type": "test", "schema": "s"},
        }
    }
    (only,) = relations_from_manifest(manifest)
    assert (only.schema, only.name, only.contracted) == ("gold", "a_alias", True)
    assert only.columns == {"id": {"level": "pii", "type": "int"}}
    assert normalize_type("INT") == normalize_type("integer") == "integer"
    assert normalize_type("decimal(12, 2)") == "numeric"


def test_plugins_resolve_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    found = plugins.resolve("compute", "duckdb")
    assert found.status == "installed"
    assert found.versions[0] == ("dbt-duckdb", plugins.installed_version("dbt-duckdb"))
    assert plugins.resolve("catalog", "polaris").status == "recorded"
    assert "recorded metadata" in plugins.resolve("catalog", "polaris").describe()
    tree = parse_tree(acme_files(PG_CONFIG, compute="postgres"))
    monkeypatch.setattr(plugins, "installed_version", lambda name: None)
    with pytest.raises(UsageError) as missing:
        plugins.check_compute(tree)
    assert missing.value.slug == "plugin_not_installed"
    assert "pip install 'floe[postgres]'" in (missing.value.hint or "")


def test_compute_outside_the_platforms_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    files = acme_files(PG_CONFIG, compute="postgres")
    manifest = t.PlatformManifest.model_validate_json(files[t.MANIFEST_FILE])
    detail = manifest.plugin_details["compute"].model_copy(update={"version": ">=9.0,<10"})
    files[t.MANIFEST_FILE] = t.model_bytes(
        manifest.model_copy(update={"plugin_details": {"compute": detail}})
    )
    monkeypatch.setattr(plugins, "installed_version", lambda name: "1.11.0")
    with pytest.raises(UsageError) as old:
        plugins.check_compute(parse_tree(files))
    assert old.value.slug == "plugin_version_unsupported"
    assert "dbt-postgres 1.11.0" in old.value.message and "<10,>=9.0" in old.value.message


# ---- Customer 360 on a real PostgreSQL ------------------------------------------------


def _postgres_platform(tmp: Path, server: Postgres) -> dict[str, bytes]:
    """manifests/acme with compute: postgres on the test server, compiled by floe."""
    for folder in ("manifests", "policies"):
        shutil.copytree(REPO_ROOT / folder, tmp / folder)
    path = tmp / "manifests" / "acme" / "manifest.yaml"
    source = yaml.safe_load(path.read_text())
    source["plugins"]["compute"] = {
        "type": "postgres",
        "config": {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "dbname": server.dbname,
            "schema": "public",
            "threads": 2,
            "create_roles": True,
        },
    }
    source["security"] = {"require_signed_artifacts": False}
    path.write_text(yaml.safe_dump(source, sort_keys=False))
    out = tmp / "artifacts"
    result = run_floe("platform", "compile", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    return read_tree_files(out)


@pytest.mark.dbt
@pytest.mark.slow
def test_customer_360_on_postgres_grants_applied_verified_and_drift_caught(
    tmp_path: Path,
    postgres: Postgres,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOE_POSTGRES_PASSWORD", "")
    files = _postgres_platform(tmp_path / "platform", postgres)
    project = copy_demo("customer-360", tmp_path / "customer-360")
    install_state(project, files)
    result = run_floe("run", "--dir", str(project), "--", "--no-partial-parse")
    assert result.exit_code == 0, result.output
    assert "Warehouse verified" in result.stdout
    record = json.loads((project / "target/floe/run.json").read_text())
    assert record["warehouse"]["status"] == "verified", record["warehouse"]
    assert record["warehouse"]["findings"] == []
    granted = postgres.execute(
        "SELECT has_table_privilege('analyst', 'gold.gold_customer_360', 'SELECT'), "
        "has_table_privilege('analyst', 'gold.gold_customer_360', 'INSERT'), "
        "(SELECT count(*) FROM gold.gold_customer_360)"
    )
    assert granted[0][0] is True and granted[0][1] is False and int(granted[0][2]) > 0  # type: ignore[arg-type]

    # Someone grants by hand what the platform does not allow; the next run (which rebuilds
    # only bronze_customers, so the hand-made table grant survives) catches all of it.
    postgres.execute(
        "GRANT DELETE ON gold.gold_customer_360 TO analyst",
        "GRANT CREATE ON SCHEMA gold TO analyst",
        "GRANT USAGE ON SCHEMA silver TO PUBLIC",
    )
    args = ("--", "--no-partial-parse", "--select", "bronze_customers")
    drifted = run_floe("run", "--dir", str(project), *args)
    assert drifted.exit_code == 1, drifted.output
    record = json.loads((project / "target/floe/run.json").read_text())
    rules = {(f["rule"], f["relation"]) for f in record["warehouse"]["findings"]}
    assert rules == {
        ("warehouse.grant_extra", "gold.gold_customer_360"),
        ("warehouse.grant_extra", "gold"),
        ("warehouse.public_grant", "silver"),
    }
    assert record["warehouse"]["status"] == "drift"
    assert "REVOKE DELETE ON gold.gold_customer_360 FROM analyst" in drifted.stdout
    assert "REVOKE CREATE ON SCHEMA gold FROM analyst" in drifted.stdout
    assert "Warehouse drift: 3 findings" in drifted.stderr
