"""Refuse to compile credentials into platform artifacts.

Artifacts are shared with every data team and stored in registries, so a secret in
them is a leak. Two checks:

- by key (plugin `config` only): a string under a key whose last word names a
  credential (password, secret, token, credential, api_key, private_key, ...)
  must be a `${env:NAME}` reference;
- by shape (every string anywhere in the manifest): AWS access key ids, GitHub
  and Slack tokens, JWTs, PEM private keys, URLs with an embedded password,
  and long random-looking strings.

`${env:NAME}` references are kept as text; the consumer resolves them at run time.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from floe.yaml_loader import YamlPath

ENV_REF_RE = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")

# Last word(s) of a key name that mean "this value is a credential".
_SECRET_LAST_WORDS = {
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "apikey",
    "passwords",
    "secrets",
    "tokens",
}
_SECRET_LAST_PAIRS = {
    ("api", "key"),
    ("private", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("signing", "key"),
    ("client", "secret"),
    ("auth", "token"),
}

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{22,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe secret key", re.compile(r"\b[sr]k_live_[0-9A-Za-z]{16,}")),
    (
        "a JSON Web Token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    ),
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
)
# scheme://user:password@host where the password is not an ${env:...} reference.
_URL_CREDENTIALS_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?P<pw>[^/\s@]+)@")
_RANDOM_RE = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")


@dataclass(frozen=True)
class Finding:
    path: YamlPath
    reason: str


def key_words(key: str) -> list[str]:
    """`clientSecret` / `client-secret` / `CLIENT_SECRET` -> ["client", "secret"]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def is_secret_key(key: str) -> bool:
    words = key_words(key)
    if not words:
        return False
    return words[-1] in _SECRET_LAST_WORDS or tuple(words[-2:]) in _SECRET_LAST_PAIRS


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secret_shape(value: str) -> str | None:
    """What kind of credential `value` looks like, or None."""
    for label, pattern in _SHAPES:
        if pattern.search(value):
            return label
    for match in _URL_CREDENTIALS_RE.finditer(value):
        if not ENV_REF_RE.fullmatch(match.group("pw")):
            return "a URL with an embedded password"
    bare = ENV_REF_RE.sub("", value)
    if (
        _RANDOM_RE.match(bare)
        and re.search(r"\d", bare)
        and re.search(r"[A-Za-z]", bare)
        and _entropy(bare) > 4.2
    ):
        return "a long random string (an API key or token?)"
    return None


def _strings(data: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str | None, str]]:
    """(path, nearest mapping key, value) for every string under data."""
    for child, key, value in _scalars(data, path):
        if isinstance(value, str):
            yield child, key, value


def scan_config(config: Any, path: YamlPath) -> Iterator[Finding]:
    """Key-name check for a plugin's config: secret-named keys need ${env:NAME}."""
    for child, key, value in _scalars(config, path):
        if key is None or not is_secret_key(key) or value in ("", None) or value is True:
            continue
        if value is False or (isinstance(value, str) and not ENV_REF_RE.sub("", value).strip()):
            continue
        yield Finding(child, f"key {key!r} names a credential but holds a literal value")


def _scalars(data: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str | None, Any]]:
    """(path, nearest mapping key, value) for every scalar under data (numbers included)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict | list):
                yield from _scalars(value, (*path, key))
            else:
                yield (*path, key), str(key), value
    elif isinstance(data, list):
        for index, item in enumerate(data):
            if isinstance(item, dict | list):
                yield from _scalars(item, (*path, index))
            else:
                yield (*path, index), str(path[-1]) if path else None, item


def scan_shapes(data: Any, path: YamlPath = ()) -> Iterator[Finding]:
    """Shape check for every string in data."""
    for child, _key, value in _strings(data, path):
        label = secret_shape(value)
        if label:
            yield Finding(child, f"value looks like {label}")


def find_secrets(manifest: dict[str, Any]) -> list[Finding]:
    """Every finding in a raw manifest (plugin configs by key, everything by shape)."""
    findings: list[Finding] = []
    plugins = manifest.get("plugins")
    if isinstance(plugins, dict):
        for slot, plugin in plugins.items():
            if isinstance(plugin, dict) and "config" in plugin:
                findings.extend(scan_config(plugin["config"], ("plugins", slot, "config")))
    seen = {finding.path for finding in findings}
    findings.extend(f for f in scan_shapes(manifest) if f.path not in seen)
    return findings
