"""Refuse to compile credentials into platform artifacts.

Artifacts are shared with every data team and stored in registries, so a secret in
them is a leak. Two checks:

- by key (everywhere): a key whose name, normalised (NFKC, Cyrillic/Greek lookalikes
  folded, camelCase and separators removed), ends in a credential word (password,
  passwd, pass, pw, secret, token, api key, private key, client secret, ...) must hold a
  `${env:NAME}` reference, not a literal string (in plugin configs: no literal at all);
- by shape (every string anywhere in the manifest): well-known token prefixes (AWS,
  GitHub, GitLab, Slack, Google, Stripe, npm, PyPI, SendGrid, OpenAI-style), JWTs, PEM
  private keys, service-account JSON, webhook URLs (Slack, Discord, Teams, Zapier),
  connection strings with `Password=`/`AccountKey=`, Authorization header values, URLs
  with an embedded password, and long random-looking strings.

Every pattern's repeats are bounded and URL userinfo is matched only at a `://`, so a
scan is linear in the input (a 40 KB hostile string takes microseconds). Matched values
are never echoed: a finding names the place, not the secret.

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
MAX_TOKEN = 4096  # every repeat in a shape is bounded: each pattern is linear in its input

# Key names, compacted (NFKC, confusables folded to Latin, lower case, no separators), that
# end in one of these name a credential: passWord, db_pass, DB-PASSWD, clientSecret, pаsswоrd.
_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "signingkey",
    "sessionkey",
    "clientsecret",
    "authtoken",
    "connectionstring",
    "sastoken",
    "bearer",
)
# Short words that name a credential only as a whole word: `pass`, `db_pw`, `pwd`.
_SECRET_WORDS = {"pass", "pwd", "pw", "pword", "psw"}

# Lookalikes NFKC keeps apart (Cyrillic, Greek) folded to the Latin letter they imitate.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
        "ј": "j", "ѕ": "s", "ԁ": "d", "ԝ": "w", "ɑ": "a", "α": "a", "ο": "o", "ρ": "p",
        "ν": "v", "τ": "t", "κ": "k", "ι": "i", "ѡ": "w", "һ": "h", "ӏ": "l", "Ι": "i",
        "А": "a", "Е": "e", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "К": "k",
        "Ѕ": "s", "В": "b", "М": "m", "Н": "h", "0": "o",
    }
)  # fmt: skip

_T = MAX_TOKEN
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(rf"\b(?:gh[pousr]_[A-Za-z0-9]{{30,{_T}}}|github_pat_\w{{22,{_T}}})")),  # noqa: E501
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20}")),
    ("a Slack token", re.compile(rf"\bxox[abposr]-[A-Za-z0-9-]{{10,{_T}}}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Stripe secret key", re.compile(rf"\b[sr]k_live_[0-9A-Za-z]{{16,{_T}}}")),
    ("an npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("a PyPI token", re.compile(rf"\bpypi-AgE[A-Za-z0-9_-]{{50,{_T}}}")),
    ("a SendGrid key", re.compile(r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b")),
    ("an OpenAI-style secret key", re.compile(rf"\bsk-(?:proj-)?[A-Za-z0-9]{{32,{_T}}}")),
    (
        "a JSON Web Token",
        re.compile(rf"\beyJ[A-Za-z0-9_-]{{8,{_T}}}\.eyJ[A-Za-z0-9_-]{{8,{_T}}}\.[A-Za-z0-9_-]{{8,{_T}}}"),
    ),
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]{0,64}PRIVATE KEY-----")),
    ("a service-account key", re.compile(r"\"type\"\s{0,16}:\s{0,16}\"service_account\"")),
    ("a service-account key", re.compile(r"\"private_key(?:_id)?\"\s{0,16}:")),
    (
        "a webhook URL",
        re.compile(
            r"https://(?:hooks\.slack\.com/services/|discord(?:app)?\.com/api/webhooks/|"
            r"[A-Za-z0-9-]{1,63}\.webhook\.office\.com/|outlook\.office\.com/webhook/|"
            r"hooks\.zapier\.com/hooks/)"
        ),
    ),
    (
        "a connection string with a password",
        re.compile(rf"(?i)(?:^|[;?&\s])(?:password|pwd|accountkey|sharedaccesskey)\s{{0,8}}=\s{{0,8}}(?!\$\{{env:)[^;&\s]{{1,{_T}}}"),
    ),
    (
        "an Authorization header value",
        re.compile(rf"(?i)\b(?:bearer|basic|token)\s{{1,8}}(?=[A-Za-z0-9._~+/=-]{{0,{_T}}}\d)[A-Za-z0-9._~+/-]{{12,{_T}}}=*"),
    ),
)  # fmt: skip
_RANDOM_RE = re.compile(r"^[A-Za-z0-9+/=_-]{32,}$")
_USERINFO_RE = re.compile(r"[^/\s:@]{1,256}:(?P<pw>[^/\s@]{1,256})@")


@dataclass(frozen=True)
class Finding:
    path: YamlPath
    reason: str


def key_words(key: str) -> list[str]:
    """`clientSecret` / `client-secret` / `CLIENT_SECRET` -> ["client", "secret"]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", skeleton(key, lower=False))
    return [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]


def skeleton(text: str, *, lower: bool = True) -> str:
    """NFKC, then Cyrillic/Greek lookalikes folded to Latin (so pаssword is password)."""
    import unicodedata

    folded = unicodedata.normalize("NFKC", text).translate(_CONFUSABLES)
    return folded.lower() if lower else folded


def is_secret_key(key: str) -> bool:
    words = key_words(key)
    if not words:
        return False
    compact = "".join(words)
    return compact.endswith(_SECRET_SUFFIXES) or words[-1] in _SECRET_WORDS


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def secret_shape(value: str) -> str | None:
    """What kind of credential `value` looks like, or None (linear time in len(value))."""
    for label, pattern in _SHAPES:
        if pattern.search(value):
            return label
    if _url_with_password(value):
        return "a URL with an embedded password"
    bare = ENV_REF_RE.sub("", value)
    if (
        len(bare) <= MAX_TOKEN
        and _RANDOM_RE.match(bare)
        and re.search(r"\d", bare)
        and re.search(r"[A-Za-z]", bare)
        and _entropy(bare) > 4.2
    ):
        return "a long random string (an API key or token?)"
    return None


def _url_with_password(value: str) -> bool:
    """scheme://user:password@host where the password is not an ${env:...} reference."""
    start = value.find("://")
    while start >= 0:
        match = _USERINFO_RE.match(value, start + 3)
        if match and not ENV_REF_RE.fullmatch(match.group("pw")):
            return True
        start = value.find("://", start + 3)
    return False


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


def scan_keys(data: Any, path: YamlPath = ()) -> Iterator[Finding]:
    """Key-name check everywhere: a credential-named key holds no literal string."""
    for child, key, value in _strings(data, path):
        if key is None or not is_secret_key(key) or not ENV_REF_RE.sub("", value).strip():
            continue
        yield Finding(child, f"key {key!r} names a credential but holds a literal value")


def find_secrets(manifest: dict[str, Any]) -> list[Finding]:
    """Every finding in a raw manifest (keys by name, plugin configs strictly, values by shape)."""
    findings: list[Finding] = []
    plugins = manifest.get("plugins")
    if isinstance(plugins, dict):
        for slot, plugin in plugins.items():
            if isinstance(plugin, dict) and "config" in plugin:
                findings.extend(scan_config(plugin["config"], ("plugins", slot, "config")))
    for scan in (scan_keys, scan_shapes):
        seen = {finding.path for finding in findings}
        findings.extend(f for f in scan(manifest) if f.path not in seen)
    return findings
