"""Refuse to compile credentials into platform artifacts.

Artifacts are shared with every data team and stored in registries, so a secret in
them is a leak. Two checks:

- by key (plugin `config` only): a value under a key that names a credential must be
  a `${env:NAME}` reference. Key names are normalised first (NFKC, look-alike
  Cyrillic/Greek letters to Latin, camelCase and separators split), then matched
  against a broad vocabulary (password, passwd, pass, pwd, pw, db_pass, secret,
  token, api_key, private_key, credentials, ...);
- by shape (every string anywhere in the manifest): connection strings with
  `Password=`, Authorization Bearer/Basic values, URLs with a password, Slack,
  Discord, Teams and Google Chat webhook URLs, PEM private keys, service-account
  JSON, well-known token prefixes (AKIA, ghp_, github_pat_, glpat-, xox?-, sk_live_,
  npm_, pypi-, SG., JWTs) and long random-looking strings.

Every pattern is linear time (no nested quantifiers, token starts pinned by a
lookbehind, strings scanned up to 1 MiB). A finding names the path and the kind of
credential, never the value.

`${env:NAME}` references are kept as text; the consumer resolves them at run time.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from floe.yaml_loader import YamlPath

ENV_REF_RE = re.compile(r"\$\{env:[A-Za-z_][A-Za-z0-9_]*\}")

# Key words that mean "this value is a credential" (after normalising the key name).
_SECRET_LAST_WORDS = frozenset(
    {
        "password", "passwd", "pass", "pwd", "pw", "passphrase", "passcode", "secret",
        "token", "credential", "credentials", "apikey", "passwords", "secrets", "tokens",
        "privatekey", "secretkey", "accesskey", "clientsecret", "authtoken", "accesstoken",
        "refreshtoken", "sas", "connectionstring", "dsn",
    }
)  # fmt: skip
# A key whose joined words end like this ("passWord", "dbPassword", "api-key").
_SECRET_SUFFIXES = (
    "password", "passwd", "passphrase", "secret", "apikey", "privatekey", "secretkey",
    "accesskey", "authtoken", "accesstoken", "credentials", "credential", "connectionstring",
)  # fmt: skip
# Letters that look like Latin ones (Cyrillic, Greek); NFKC folds full-width and the rest.
_SKELETON = str.maketrans(
    "аеорсухіјѕԁɡһкⅼмոԛѵԝуАВЕКМНОРСТХІЈЅαεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxijsdghklmnqvwyABEKMHOPCTXIJSaeiknoptuxABEHIKMNOPTYX",
)
_ENV_MARK = "${env}"  # what an ${env:NAME} reference is scanned as
_MAX_SCAN = 1 << 20  # strings are scanned up to 1 MiB (the YAML loader caps documents)

# Every pattern is linear: a lookbehind pins the start of a token to the start of its
# run of token characters, and no quantifier is nested.
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an AWS access key id", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("a GitHub token", re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30}|github_pat_)")),
    ("a GitLab token", re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20}")),
    ("a Slack token", re.compile(r"(?<![A-Za-z0-9-])xox[abposr]-[A-Za-z0-9]{6}")),
    ("a Slack app token", re.compile(r"(?<![A-Za-z0-9-])xapp-[0-9]-[A-Za-z0-9]{6}")),
    ("a Google API key", re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}")),
    ("a Stripe secret key", re.compile(r"(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[0-9A-Za-z]{16}")),
    ("an npm token", re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}")),
    ("a PyPI token", re.compile(r"(?<![A-Za-z0-9_-])pypi-AgE[A-Za-z0-9_-]{16}")),
    (
        "a SendGrid key",
        re.compile(r"(?<![A-Za-z0-9_.-])SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16}"),
    ),
    (
        "a JSON Web Token",
        re.compile(
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8}"
        ),
    ),
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY")),
    (
        "an Authorization header value",
        re.compile(
            r"(?i)(?<![a-z])(?:bearer|basic|token)[ \t]{1,8}(?=[a-z0-9._~+/-]{0,512}[0-9=])"
            r"[a-z0-9._~+/=-]{12}"
        ),
    ),
    (
        "a connection string with a password",
        re.compile(
            r"(?i)(?<![a-z0-9_])(?:password|passwd|pwd|pass|accountkey|sharedaccesskey)[ \t]{0,8}=[ \t]{0,8}(?![$;&\s])"  # noqa: E501
        ),
    ),
    (
        "a webhook URL",
        re.compile(
            r"(?i)hooks\.slack\.com/(?:services|workflows)/|discord(?:app)?\.com/api/webhooks/"
            r"|\.webhook\.office\.com/|outlook\.office\.com/webhook/|chat\.googleapis\.com/v1/spaces/"
        ),
    ),
)
_AUTHORITY_RE = re.compile(r"://([^/?#\s]{0,2048})")
_RANDOM_RE = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def normalise_key(key: str) -> str:
    """NFKC, confusables to Latin, camelCase split: `pаssWord` -> `pass word`."""
    folded = unicodedata.normalize("NFKC", key).translate(_SKELETON)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", folded)
    return " ".join(word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word)


@dataclass(frozen=True)
class Finding:
    path: YamlPath
    reason: str


def key_words(key: str) -> list[str]:
    """`clientSecret` / `client-secret` / `CLIENT_SECRET` -> ["client", "secret"]."""
    return normalise_key(key).split()


def is_secret_key(key: str) -> bool:
    words = key_words(key)
    if not words:
        return False
    joined = "".join(words)
    return (
        words[-1] in _SECRET_LAST_WORDS
        or joined in _SECRET_LAST_WORDS
        or joined.endswith(_SECRET_SUFFIXES)
    )


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _url_password(value: str) -> bool:
    for match in _AUTHORITY_RE.finditer(value):
        userinfo, at, _host = match.group(1).rpartition("@")
        _user, colon, password = userinfo.partition(":")
        if at and colon and password and password != _ENV_MARK:
            return True
    return False


def _service_account(value: str) -> bool:
    lowered = value.lower()
    return "service_account" in lowered and "private_key" in lowered


def secret_shape(value: str) -> str | None:
    """What kind of credential `value` looks like, or None (linear in len(value))."""
    value = ENV_REF_RE.sub(_ENV_MARK, value[:_MAX_SCAN])
    for label, pattern in _SHAPES:
        if pattern.search(value):
            return label
    if _url_password(value):
        return "a URL with an embedded password"
    if _service_account(value):
        return "a service-account key (JSON)"
    bare = value.strip()
    if (
        len(bare) <= 4096
        and _RANDOM_RE.fullmatch(bare)
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
