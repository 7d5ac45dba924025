"""The secret scanner: every credential shape of the attack corpus is refused, fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_floe
from manifest_helpers import MINIMAL

from floe.platform.secrets import find_secrets, is_secret_key, secret_shape

# (key, value): each of these was once compiled into a published artifact, or is a
# shape the scanner must know. Values are fake but well-formed.
BY_KEY = [
    ("password", "hunter2"),
    ("passWord", "hunter2"),
    ("pass", "hunter2"),
    ("db_pass", "hunter2"),
    ("pw", "hunter2"),
    ("DB-PASSWD", "hunter2"),
    ("pаssword", "hunter2"),  # Cyrillic а
    ("ｐａｓｓｗｏｒｄ", "hunter2"),  # fullwidth: NFKC folds it
    ("clientSecret", "s3cr3t-value"),
    ("api_key", "abc123"),
    ("private-key", "abc"),
    ("AUTH_TOKEN", "abc"),
    ("connection_string", "Server=x"),
]
BY_SHAPE = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a" * 36,
    "github_pat_" + "A" * 30,
    "glpat-" + "x" * 20,
    "xoxb-1234567890-abcdefghij",
    "AIza" + "B" * 35,
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "npm_" + "a1" * 18,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    '{"type": "service_account", "project_id": "p", "private_key_id": "k"}',
    "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX",
    "https://discord.com/api/webhooks/123/abc",
    "https://acme.webhook.office.com/webhookb2/abc",
    "Server=db;Database=x;User Id=sa;Password=hunter2;",
    "jdbc:sqlserver://db:1433;databaseName=x;user=sa;password=hunter2",
    "jdbc:postgresql://db/x?user=app&password=hunter2",
    "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bm90IGEgcmVhbCBrZXk=;",
    "Authorization: Bearer abcDEF123456ghiJKL789",
    "Basic dXNlcjpodW50ZXIyMTIz",
    "postgres://app:hunter2@db.internal:5432/x",
    "https://user:pa55@registry.example.com/v2/",
    "Zx9q7Lk2Vb8Nm4Rt6Yp1Wc3Hs5Jd0Fg2Qa7Ke9Tu",
]
CLEAN = [
    ("description", "Basic usage of the platform: bronze, silver, gold."),
    ("password", "${env:DB_PASSWORD}"),
    ("url", "postgres://app:${env:PG_PASSWORD}@db:5432/x"),
    ("bypass", "yes"),
    ("compass", "north"),
    ("trusted_keys", "keys/cosign.pub"),
    ("token_ttl_note", "rotate every 90 days"),
    ("conn", "Server=db;Password=${env:SQL_PASSWORD};"),
    ("pattern", "^[a-z_][a-z0-9_]*$"),
]


@pytest.mark.parametrize(("key", "value"), BY_KEY)
def test_credential_keys_with_literal_values_are_refused(key: str, value: str) -> None:
    assert is_secret_key(key), key
    config = {"type": "postgres", "config": {key: value}}
    findings = find_secrets({"plugins": {"compute": config}})
    assert findings and findings[0].path == ("plugins", "compute", "config", key)
    assert value not in findings[0].reason  # never echoed


@pytest.mark.parametrize("value", BY_SHAPE)
def test_credential_shapes_are_refused_anywhere(value: str) -> None:
    assert secret_shape(value), value
    findings = find_secrets({"metadata": {"description": value}})
    assert findings and value not in findings[0].reason


@pytest.mark.parametrize(("key", "value"), CLEAN)
def test_ordinary_values_and_env_references_pass(key: str, value: str) -> None:
    assert find_secrets({"plugins": {"compute": {"type": "duckdb", "config": {key: value}}}}) == []


def test_the_corpus_is_at_least_the_issue_list() -> None:
    assert len(BY_KEY) + len(BY_SHAPE) >= 31


def test_hostile_40kb_strings_scan_in_linear_time() -> None:
    """No timing assertion: the scan must finish before a generous subprocess timeout."""
    script = (
        "from floe.platform.secrets import find_secrets\n"
        "hostile = ['a://' + 'x:' * 20000, 'eyJ' * 14000, 'Bearer ' + 'a' * 40000, "
        "'https://' + 'u:p' * 13000, 'password=' * 5000, ('x' * 39999) + '@']\n"
        "for h in hostile * 20:\n"
        "    find_secrets({'k': h})\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr


def test_a_secret_in_metadata_name_is_not_echoed(tmp_path: Path) -> None:
    """The name is invalid too (not a DNS label), but the secret check runs first."""
    secret = "ghp_" + "Q" * 36
    folder = tmp_path
    manifest = folder / "manifest.yaml"
    manifest.write_text(MINIMAL.replace("name: acme-data-platform", f"name: {secret}", 1))
    result = run_floe("platform", "compile", str(manifest), "--out", str(folder / "out"))
    assert result.exit_code == 2
    assert "compile_secret_detected" in result.stderr
    assert secret not in result.stderr + result.stdout
