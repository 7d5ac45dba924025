"""The secret scanner: key names, value shapes, linear time, nothing echoed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from manifest_helpers import MINIMAL, compile_in, write_manifest

from floe.platform.secrets import is_secret_key, normalise_key, secret_shape

SECRET = "Zq7vR2mXk9Lp"  # the literal every case hides; never in any output

# (key under plugins.compute.config, value): 31 shapes, all refused at compile.
CORPUS: list[tuple[str, str]] = [
    ("password", SECRET),
    ("passWord", SECRET),
    ("PASSWORD", SECRET),
    ("pass", SECRET),
    ("db_pass", SECRET),
    ("dbPassword", SECRET),
    ("pw", SECRET),
    ("pwd", SECRET),
    ("passwd", SECRET),
    ("p\u0430ssword", SECRET),  # Cyrillic a
    ("\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44", SECRET),  # full-width letters
    ("client-secret", SECRET),
    ("api_key", SECRET),
    ("apiKey", SECRET),
    ("private_key", SECRET),
    ("auth_token", SECRET),
    ("credentials", SECRET),
    ("conn", f"Server=db.local;Database=x;User Id=sa;Password={SECRET};"),
    ("url", f"jdbc:sqlserver://db.local:1433;databaseName=x;user=sa;password={SECRET}"),
    ("header", f"Authorization: Bearer {SECRET}abc123"),
    ("header2", "Authorization: Basic dXNlcjpaIHE3dlIybVhrOUxw"),
    ("dsn_url", f"postgresql://sa:{SECRET}@db.local:5432/x"),
    ("hook", f"https://hooks.slack.com/services/T000/B000/{SECRET}"),
    ("hook2", f"https://discord.com/api/webhooks/123/{SECRET}"),
    ("hook3", f"https://acme.webhook.office.com/webhookb2/{SECRET}"),
    (
        "key_pem",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB" + SECRET + "\n-----END RSA PRIVATE KEY-----",
    ),
    (
        "sa_json",
        '{"type": "service_account", "project_id": "x", "private_key_id": "' + SECRET + '", '
        '"private_key": "x"}',
    ),
    ("gh", "ghp_" + SECRET * 3),
    ("aws", "AKIA" + "Q7VR2MXK9LPZ3N4T"),
    ("slack", "xoxb-123456789012-" + SECRET),
    ("gitlab", "glpat-" + SECRET + "abcdefghij"),
]


def test_the_corpus_has_31_shapes() -> None:
    assert len(CORPUS) == 31
    assert len({key for key, _ in CORPUS}) == 31


@pytest.mark.parametrize(("key", "value"), CORPUS, ids=[key for key, _ in CORPUS])
def test_every_credential_shape_is_refused_at_compile(tmp_path: Path, key: str, value: str) -> None:
    config = (
        f"    config:\n      {key}: {json.dumps(value)}\n"
        if "\n" not in value
        else (
            f"    config:\n      {key}: |\n"
            + "".join(f"        {line}\n" for line in value.splitlines())
        )
    )
    text = MINIMAL.replace("    type: duckdb\n", "    type: duckdb\n" + config, 1)
    write_manifest(tmp_path, text)
    result = compile_in(tmp_path, "--out", "out")
    assert result.exit_code == 2, result.output
    assert "error[compile_secret_detected]" in result.stderr
    assert SECRET not in result.output
    assert not (tmp_path / "out").exists()


def test_env_references_and_ordinary_settings_pass(tmp_path: Path) -> None:
    config = (
        "    config:\n"
        "      password: ${env:DB_PASSWORD}\n"
        '      conn: "Server=db;User Id=sa;Password=${env:DB_PASSWORD};"\n'
        '      url: "postgresql://sa:${env:DB_PASSWORD}@db.local/x"\n'
        "      path: warehouse.duckdb\n"
        "      threads: 4\n"
        "      bypass_cache: true\n"
        '      description: "uses basic authentication via the token service"\n'
    )
    write_manifest(
        tmp_path, MINIMAL.replace("    type: duckdb\n", "    type: duckdb\n" + config, 1)
    )
    result = compile_in(tmp_path, "--out", "out")
    assert result.exit_code == 0, result.output


def test_a_secret_in_metadata_name_is_not_echoed(tmp_path: Path) -> None:
    token = "ghp_" + SECRET * 3
    write_manifest(tmp_path, MINIMAL.replace("name: acme-data-platform", f"name: {token}"))
    result = compile_in(tmp_path, "--out", "out", "--format", "json")
    assert result.exit_code == 2, result.output
    assert token not in result.output
    assert "<redacted>" in result.output or "compile_secret_detected" in result.output


@pytest.mark.parametrize(
    ("key", "words"),
    [("clientSecret", "client secret"), ("p\u0430ssWord", "pass word"), ("DB__PASS", "db pass")],
)
def test_key_names_are_normalised(key: str, words: str) -> None:
    assert normalise_key(key) == words
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["path", "threads", "bypass", "keyword", "compass", "token_count"])
def test_ordinary_keys_are_not_credentials(key: str) -> None:
    assert not is_secret_key(key)


# Python expressions, built in the subprocess (40 KB each, worst cases for each pattern).
HOSTILE_40K = [
    '"a" * 40_000',
    '"a:" + "/" * 40_000',
    '"a://" + ":" * 40_000',
    '"x://a:" * 7_000',
    '"eyJ-" * 10_000',
    '"eyJ" + "a" * 40_000 + "."',
    '"xoxb-" * 8_000',
    '"Bearer " * 6_000',
    '"Bearer " + "a" * 40_000',
    '"password=" * 4_500',
    '"-----BEGIN " + " " * 40_000',
    '"AKIA" * 10_000',
    '"ghp_" * 10_000',
    '"@:" * 20_000',
    '"https://hooks.slack.com/" * 1_700',
    '"SG." * 14_000',
]


def test_hostile_40k_strings_are_scanned_in_linear_time() -> None:
    """Every pattern on 40 KB of worst-case input, in a subprocess that must finish."""
    script = (
        "import sys\n"
        "from floe.platform.secrets import secret_shape\n"
        f"cases = [{', '.join(HOSTILE_40K)}]\n"
        "for case in cases:\n"
        "    assert len(case) >= 40_000\n"
        "    for _ in range(3):\n"
        "        secret_shape(case)\n"
        "print('done', len(cases))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        env={"PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"done {len(HOSTILE_40K)}"


def test_shapes_say_what_they_found_without_the_value() -> None:
    label = secret_shape("postgresql://sa:" + SECRET + "@db/x")
    assert label == "a URL with an embedded password"
    assert secret_shape("plain text with no secret") is None
