"""Registry credentials and the auth handshake (anonymous, basic, bearer token).

Credentials come, in order, from `RegistryOptions.username/password`, then
`FLOE_REGISTRY_USERNAME` / `FLOE_REGISTRY_PASSWORD`, then the docker config
(`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): `credHelpers[host]`,
`credsStore`, `auths[host].auth` / `identitytoken`. `floe login` stores them the
way docker and ORAS do (see `store_credentials`).

Bearer tokens follow the distribution token spec: on a 401 with
`WWW-Authenticate: Bearer realm=...,service=...` we ask the realm for
`repository:<repo>:pull` (reads) or `repository:<repo>:pull,push` (writes) and cache
the token per scope set; a 401 while sending a token refreshes it once.

Credentials only go where they belong: a realm gets them only over HTTPS (plain HTTP
only when realm and registry are both loopback); a realm on another host than the
registry gets only the docker config's credentials for that host (none: an anonymous
token request). Token requests follow no redirect, share the command's deadline and
read at most MAX_TOKEN_BODY bytes. Every credential and token is remembered so that
`registry_errors.scrub` removes it from any message.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from floe.errors import UsageError
from floe.oci.deadline import active
from floe.oci.options import RegistryOptions
from floe.oci.registry_errors import (
    READ_ERRORS,
    error_message,
    read_capped,
    registry_details,
    remember_secret,
    scrub,
    transport_error,
)

HELPER_TIMEOUT = 30.0
MAX_TOKEN_BODY = 64 << 10  # bytes of a token server's answer
MAX_TOKEN_CHARS = 16 << 10
# Registries whose token realm is on a known sibling host (same credentials).
_REALM_SIBLINGS = {
    "docker.io": "auth.docker.io",
    "registry-1.docker.io": "auth.docker.io",
    "index.docker.io": "auth.docker.io",
}
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
# The key docker, ORAS and every credential helper use for Docker Hub.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_LOGIN_HINT = "run `floe login HOST` or set FLOE_REGISTRY_USERNAME / FLOE_REGISTRY_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = ""
    identity_token: str | None = None  # OAuth2 refresh token (docker `identitytoken`)


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


# --------------------------------------------------------------------------- docker config


def docker_config_path(options: RegistryOptions | None = None) -> Path:
    if options is not None and options.docker_config is not None:
        return options.docker_config
    folder = os.environ.get("DOCKER_CONFIG")
    base = Path(folder) if folder else Path.home() / ".docker"
    return base / "config.json"


def load_docker_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(
            "docker_config_invalid",
            f"cannot read {path}: {exc}",
            hint="fix or remove the docker config file",
        ) from None
    if not isinstance(data, dict):
        raise UsageError("docker_config_invalid", f"{path} is not a JSON object")
    return data


def write_docker_config(path: Path, data: dict[str, Any]) -> None:
    """Temp file then rename, mode 0600 (it holds secrets), like docker and ORAS."""
    from floe.files import atomic_write

    with contextlib.suppress(OSError):  # an unwritable folder is reported by atomic_write
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, (json.dumps(data, indent="\t") + "\n").encode("utf-8"), mode=0o600)


def _host_of(key: str) -> str:
    """`https://host:5000/v1/` -> `host:5000` (docker config keys come in many shapes)."""
    key = re.sub(r"^[a-z]+://", "", key.strip().lower())
    return key.split("/", 1)[0]


def _hub(host: str) -> str:
    """Docker Hub's names are one registry: `index.docker.io`; other hosts unchanged."""
    return "index.docker.io" if host in DOCKER_HUB_HOSTS else host


def _same_host(key: str, host: str) -> bool:
    return _hub(_host_of(key)) == _hub(_host_of(host))


def server_url(host: str) -> str:
    """What a credential helper is asked for: Docker Hub's `https://index.docker.io/v1/`
    (as docker stores it), else the host itself."""
    return DOCKER_HUB_KEY if _hub(_host_of(host)) == "index.docker.io" else host


def _auth_entry_key(config: dict[str, Any], host: str) -> str | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    return next((key for key in auths if _same_host(key, host)), None)


def _helper_for(config: dict[str, Any], host: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _same_host(key, host) and name:
                return str(name)
    store = config.get("credsStore")
    return str(store) if store else None


def _run_helper(name: str, action: str, payload: str) -> str:
    import subprocess  # only credential helpers need it: kept off the common path

    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        raise UsageError(
            "credential_helper_missing",
            f"docker-credential-{name} is not on PATH",
            hint="install the credential helper or remove it from the docker config",
        )
    try:
        proc = subprocess.run(
            [program, action],
            input=payload.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError("credential_helper_failed", f"docker-credential-{name}: {exc}") from None
    if proc.returncode != 0:
        message = (proc.stdout or proc.stderr).decode(errors="replace").strip()
        if action == "get" and "credentials not found" in message.lower():
            return ""
        raise UsageError(
            "credential_helper_failed",
            f"docker-credential-{name} {action} failed: {message or proc.returncode}",
        )
    return proc.stdout.decode(errors="replace")


def _helper_get(name: str, host: str) -> Credentials | None:
    out = _run_helper(name, "get", host)
    if not out.strip():
        return None
    try:
        data = json.loads(out)
        username, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
    except (ValueError, AttributeError):
        raise UsageError(
            "credential_helper_failed", f"docker-credential-{name} printed invalid JSON"
        ) from None
    if not secret:
        return None
    if username == "<token>":
        return Credentials(username="", identity_token=secret)
    return Credentials(username, secret)


def _from_auth_entry(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials(str(entry.get("username", "")), identity_token=entry["identitytoken"])
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"])).decode()
        except (ValueError, UnicodeDecodeError):
            raise UsageError("docker_config_invalid", "an `auth` entry is not base64") from None
        username, sep, password = decoded.partition(":")
        return Credentials(username, password) if sep else None
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def find_credentials(host: str, options: RegistryOptions) -> Credentials | None:
    """Options, then environment, then the docker config; None means anonymous."""
    if options.username is not None and options.password is not None:
        return Credentials(options.username, options.password)
    env_user = os.environ.get("FLOE_REGISTRY_USERNAME")
    env_password = os.environ.get("FLOE_REGISTRY_PASSWORD")
    if env_user and env_password is not None:
        return Credentials(env_user, env_password)
    config = load_docker_config(docker_config_path(options))
    helper = _helper_for(config, host)
    if helper:
        found = _helper_get(helper, server_url(host))
        if found is not None:
            return found
    key = _auth_entry_key(config, host)
    return _from_auth_entry(config["auths"][key]) if key else None


def store_credentials(host: str, creds: Credentials, options: RegistryOptions) -> Path:
    """Save like docker/ORAS: the configured helper, else base64 `auths[host].auth`."""
    path = docker_config_path(options)
    config = load_docker_config(path)
    auths = config.get("auths")
    if not isinstance(auths, dict):
        auths = config["auths"] = {}
    key = _auth_entry_key(config, host) or server_url(host)
    helper = _helper_for(config, host)
    if helper:
        payload = {
            "ServerURL": server_url(host),
            "Username": creds.username,
            "Secret": creds.password,
        }
        _run_helper(helper, "store", json.dumps(payload))
        auths[key] = {}
    else:
        token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        auths[key] = {"auth": token}
    write_docker_config(path, config)
    return path


def erase_credentials(host: str, options: RegistryOptions) -> bool:
    """Remove stored credentials for `host`; False when there were none."""
    path = docker_config_path(options)
    config = load_docker_config(path)
    removed = False
    helper = _helper_for(config, host)
    if helper:
        with contextlib.suppress(UsageError):
            if _helper_get(helper, server_url(host)) is not None:
                _run_helper(helper, "erase", server_url(host))
                removed = True
    key = _auth_entry_key(config, host)
    if key is not None:
        entry = config["auths"].pop(key)
        removed = removed or bool(entry)
        write_docker_config(path, config)
    return removed


# --------------------------------------------------------------------------- handshake


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="..."` -> ("bearer", {"realm": ..., "service": ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


class Authenticator:
    """Per-registry auth state: the challenge we met, credentials, tokens per scope."""

    def __init__(self, host: str, options: RegistryOptions, http: requests.Session) -> None:
        self.host = host
        self.options = options
        self.http = http
        self.scheme: str | None = None
        self.challenge: dict[str, str] = {}
        self._creds: Credentials | None = None
        self._creds_loaded = False
        self._tokens: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()
        self._fetching = threading.Lock()  # parallel uploads share one token request

    def credentials(self) -> Credentials | None:
        with self._lock:
            if not self._creds_loaded:
                self._creds = find_credentials(self.host, self.options)
                self._creds_loaded = True
                _remember(self._creds)
            return self._creds

    def headers(self, scopes: tuple[str, ...]) -> dict[str, str]:
        """The Authorization header for a request needing `scopes` (may fetch a token)."""
        if self.scheme == "basic":
            creds = self.credentials()
            if creds is not None and creds.identity_token is None:
                raw = f"{creds.username}:{creds.password}".encode()
                value = base64.b64encode(raw).decode()
                remember_secret(value)
                return {"Authorization": "Basic " + value}
        if self.scheme == "bearer":
            token = self._cached_token(scopes) or self._fetch_token_once(scopes)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def on_challenge(self, resp: requests.Response, scopes: tuple[str, ...]) -> bool:
        """Learn from a 401; True when re-sending the request can succeed."""
        scheme, params = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        had = resp.request.headers.get("Authorization", "") if resp.request else ""
        if scheme == "basic":
            if had.startswith("Basic") or self.credentials() is None:
                return False
            self.scheme = "basic"
            return True
        if scheme == "bearer" and params.get("realm"):
            self.scheme, self.challenge = "bearer", params
            with self._lock:  # a sent token was refused: forget it, so it is fetched anew
                self._tokens.pop(scopes, None)
                self._tokens.pop(_wider(scopes), None)
            return True
        return False

    def failure(self, resp: requests.Response) -> UsageError:
        denied = resp.status_code == 403
        creds = self._creds if self._creds_loaded else None
        what = "denied access to" if denied else "refused the credentials for"
        if creds is None and not denied:
            what = "requires authentication for"
        path = resp.request.path_url.split("?", 1)[0] if resp.request else ""
        return UsageError(
            "registry_auth_failed",
            scrub(
                f"{self.host} {what} {resp.request.method if resp.request else ''} "
                f"{path} ({error_message(resp)})"
            ),
            hint=_LOGIN_HINT.replace("HOST", self.host),
            details=registry_details(resp),
        )

    def _cached_token(self, scopes: tuple[str, ...]) -> str | None:
        with self._lock:
            # A pull,push token also covers pull on the same repository.
            return self._tokens.get(scopes) or self._tokens.get(_wider(scopes))

    def _fetch_token_once(self, scopes: tuple[str, ...]) -> str:
        with self._fetching:
            return self._cached_token(scopes) or self._fetch_token(scopes)

    def _fetch_token(self, scopes: tuple[str, ...]) -> str:
        realm = self.challenge["realm"]
        params: list[tuple[str, str]] = []
        if self.challenge.get("service"):
            params.append(("service", self.challenge["service"]))
        params.extend(("scope", scope) for scope in scopes)
        creds = self._realm_credentials(realm)
        deadline = self.options.network_deadline
        deadline.check(f"token request for {self.host}")
        timeout = max(0.05, min(self.options.timeout_seconds, deadline.remaining()))
        common: dict[str, Any] = {
            "timeout": (timeout, timeout),
            "verify": self.http.verify,
            "allow_redirects": False,  # credentials never follow a redirect
            "stream": True,
        }
        try:
            with active(deadline):
                if creds is not None and creds.identity_token:
                    form = dict(params)
                    form.update(grant_type="refresh_token", refresh_token=creds.identity_token)
                    form.update(client_id="floe", scope=" ".join(scopes))
                    resp = self.http.post(realm, data=form, **common)
                else:
                    auth = (creds.username, creds.password) if creds else None
                    resp = self.http.get(realm, params=params, auth=auth, **common)
                with resp:
                    body = read_capped(resp, MAX_TOKEN_BODY, deadline, "token", truncate=True)
        except READ_ERRORS as exc:
            if deadline.expired():
                raise deadline.error(f"token request for {self.host}") from None
            raise transport_error(f"token server {_safe_url(realm)}", exc) from None
        resp._content = body
        if resp.status_code in (401, 403):
            raise UsageError(
                "registry_auth_failed",
                f"the token server for {self.host} refused the credentials ({error_message(resp)})",
                hint=_LOGIN_HINT.replace("HOST", self.host),
                details=registry_details(resp),
            )
        token = self._token_from(resp)
        remember_secret(token)
        with self._lock:
            self._tokens[scopes] = token
        return token

    def _realm_credentials(self, realm: str) -> Credentials | None:
        """The credentials a token realm may receive (see the module docstring)."""
        parts = urllib.parse.urlsplit(realm)
        realm_host = (parts.hostname or "").lower()
        registry_host = (urllib.parse.urlsplit(f"//{self.host}").hostname or "").lower()
        if parts.scheme not in ("https", "http") or not realm_host:
            raise UsageError(
                "registry_realm_refused",
                f"{self.host} names the token realm {_safe_url(realm)!r}, not an http(s) URL",
                hint="the registry is misconfigured or hostile; no credentials were sent",
            )
        from floe.oci.http import is_loopback  # http imports this module at its top

        creds = self.credentials()
        if creds is None:
            return None
        both_loopback = is_loopback(realm_host) and is_loopback(registry_host)
        if parts.scheme != "https" and not both_loopback:
            raise UsageError(
                "registry_realm_refused",
                f"{self.host} asks for credentials at the plain-HTTP token realm "
                f"{_safe_url(realm)}; floe sends credentials to a realm over HTTPS only",
                hint="the registry is misconfigured or hostile; no credentials were sent",
            )
        if realm_host == registry_host or _REALM_SIBLINGS.get(registry_host) == realm_host:
            return creds
        config = load_docker_config(docker_config_path(self.options))
        key = _auth_entry_key(config, parts.netloc.rpartition("@")[2])
        found = _from_auth_entry(config["auths"][key]) if key else None
        _remember(found)
        return found

    def _token_from(self, resp: requests.Response) -> str:
        try:
            data = json.loads(resp.content) if resp.ok else {}
        except (ValueError, RecursionError):
            data = {}
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise UsageError(
                "registry_auth_failed",
                f"the token server for {self.host} gave no usable token ({error_message(resp)})",
                hint=_LOGIN_HINT.replace("HOST", self.host),
            )
        if any(c.isspace() or not c.isprintable() for c in token):
            raise UsageError(
                "registry_auth_failed", f"the token server for {self.host} gave a malformed token"
            )
        return token


def _remember(creds: Credentials | None) -> None:
    if creds is not None:
        remember_secret(creds.password)
        remember_secret(creds.identity_token)


def _safe_url(url: str) -> str:
    """A URL for a message: no userinfo, no query (it may carry a token)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return scrub(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")))[:200]


def _wider(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """The same scopes with every `pull` widened to `pull,push`."""
    return tuple(s + ",push" if s.endswith(":pull") else s for s in scopes)
