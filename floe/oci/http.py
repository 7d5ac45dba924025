"""HTTP plumbing for registry calls: one pooled session, TLS, auth, bounded retries.

Every registry request goes through `RegistrySession.request`, which
- refuses all network access when `options.offline` is set (`network_forbidden`),
- picks the scheme (HTTPS; plain HTTP with `plain_http` or, when unset, loopback hosts
  unless a CA file or `insecure` says the registry speaks TLS),
- verifies TLS against the system CAs, `ca_file`, or not at all (`insecure`),
- answers auth challenges through `floe.oci.auth.Authenticator` (once per request),
- retries 408/429/502/503/504, connection resets and timeouts with exponential
  backoff + jitter, honouring `Retry-After`, all within `retry_budget_seconds`;
  a refused connection (nothing listening) only REFUSED_RETRIES times, within ~1 s,
- keeps everything inside the command's `Deadline` (`options.timeout`): per-attempt
  socket timeouts, retry waits and `Retry-After` are capped by what is left, and a
  watchdog ends a stalled send or read when it runs out (`registry_timeout`),
- reads every body itself, capped: error bodies up to MAX_ERROR_BODY (the rest is
  dropped), other non-streamed bodies up to MAX_DOCUMENT_BYTES (`registry_limit_exceeded`).
Request bodies are given as factories so a retry (or an auth round trip) re-sends
the body from its start.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from floe.errors import FloeError, UsageError
from floe.oci.auth import Authenticator
from floe.oci.deadline import GUARDED_POOLS, Deadline, active
from floe.oci.options import RegistryOptions
from floe.oci.registry_errors import (
    MAX_ERROR_BODY,
    READ_ERRORS,
    TransientError,
    error_message,
    read_capped,
    transport_error,
)

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
REFUSED_RETRIES = 2  # a refused connection (nothing listening) is retried briefly, not for long
REFUSED_DELAY = 0.25  # seconds before the first retry of a refused connection, then doubled
USER_AGENT = "floe-oci/1"
MAX_DOCUMENT_BYTES = 4 << 20  # a non-streamed response body (tag list page, upload answer)
MAX_REDIRECTS = 5
MIN_ATTEMPT_TIMEOUT = 0.05  # seconds: the smallest socket timeout an attempt gets

BodyFactory = Callable[[], Any]

_warnings_silenced = threading.Lock()
_warnings_done = False


def is_loopback(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1, with or without a port (`[::1]:5000`)."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def base_url(host: str, options: RegistryOptions) -> str:
    plain = options.plain_http
    if plain is None:
        # A CA file or --insecure says the registry speaks TLS, even on loopback.
        plain = is_loopback(host) and options.ca_file is None and not options.insecure
    if host in ("docker.io", "index.docker.io"):
        host = "registry-1.docker.io"  # Docker Hub's API host; credentials stay under docker.io
    return f"{'http' if plain else 'https'}://{host}"


def forbid_offline(options: RegistryOptions, what: str) -> None:
    if options.offline:
        raise UsageError(
            "network_forbidden",
            f"{what} needs the network, but floe is running offline",
            hint="drop --offline or run `floe platform pull` first",
        )


def _silence_insecure_warning() -> None:
    global _warnings_done
    with _warnings_silenced:
        if not _warnings_done:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            _warnings_done = True


# ---- --debug trace (one line per HTTP response; never a header, token or password)

_SAFE_QUERY_KEYS = frozenset(
    {"n", "last", "artifacttype", "digest", "mount", "from", "service", "scope"}
)


def redact_url(url: str) -> str:
    """A URL for the trace: no userinfo; query values other than paging/mount names hidden."""
    from floe.oci.registry_errors import scrub

    parts = urllib.parse.urlsplit(url)
    query = "&".join(
        f"{key}={value if key.lower() in _SAFE_QUERY_KEYS else '[redacted]'}"
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    )
    netloc = parts.netloc.rpartition("@")[2]
    return scrub(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, "")))


def trace_hook(trace: Callable[[str], None]) -> Callable[..., requests.Response]:
    def hook(resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        method = resp.request.method if resp.request is not None else "?"
        elapsed = resp.elapsed.total_seconds() * 1000
        trace(f"debug: {method} {redact_url(resp.url)} -> {resp.status_code} ({elapsed:.0f} ms)")
        return resp

    return hook


class RetryBudget:
    """Exponential backoff with jitter, bounded by a total time budget."""

    def __init__(self, seconds: float, deadline: Deadline | None = None) -> None:
        self.deadline = time.monotonic() + seconds
        self.command_deadline = deadline  # the command's deadline caps this budget
        self.attempt = 0
        self.refusals = 0  # refused connections so far (they get REFUSED_RETRIES retries)

    def wait_after(self, error: TransientError) -> bool:
        """Sleep before retrying after `error`; False when it is not worth another try.

        Resets, timeouts and 408/429/5xx may pass: they get the whole budget. A refused
        connection means nothing listens there; it gets a short bounded retry (a
        registry restarting) and then fails fast.
        """
        if not error.refused:
            return self.wait(error.retry_after)
        if self.refusals >= REFUSED_RETRIES:
            return False
        delay = min(REFUSED_DELAY * (2**self.refusals), self.remaining() - 0.05)
        if delay <= 0:
            return False
        time.sleep(delay)
        self.refusals += 1
        return True

    def remaining(self) -> float:
        own = max(0.0, self.deadline - time.monotonic())
        if self.command_deadline is not None:
            return min(own, self.command_deadline.remaining())
        return own

    def wait(self, retry_after: float | None = None) -> bool:
        """Sleep before the next attempt; False (at once) when the budget cannot cover it.

        A `Retry-After` beyond the remaining budget gives up now rather than sleeping
        only to fail; plain backoff is capped so one last attempt fits.
        """
        remaining = self.remaining()
        if remaining <= 0.05:
            return False
        if retry_after is not None:
            if retry_after >= remaining:
                return False
            delay = retry_after
        else:
            backoff = min(0.2 * (2**self.attempt), 5.0) * (1 + random.random() / 2)
            delay = min(backoff, remaining - 0.05)
        time.sleep(delay)
        self.attempt += 1
        return True


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Session(requests.Session):
    """A `requests.Session` that reads the environment (proxies, NO_PROXY, CA bundle)
    once per scheme and host instead of on every request.

    requests scans all of `os.environ` twice per request for proxy settings, which
    costs more CPU than a small blob's round trip on a local registry. The
    environment does not change during one floe command, so the answer is reused.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, ...], dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        if proxies or not isinstance(url, str):  # explicit proxies: nothing to reuse
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc, repr(stream), repr(verify), repr(cert))
        settings = self._environment.get(key)
        if settings is None:
            settings = dict(super().merge_environment_settings(url, {}, stream, verify, cert))
            self._environment[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


class _GuardedAdapter(HTTPAdapter):
    """Connections whose sockets the command's deadline can shut down (see deadline.py)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = GUARDED_POOLS


class RegistrySession:
    """One pooled `requests.Session` per registry target, with auth and retries."""

    def __init__(self, host: str, options: RegistryOptions) -> None:
        from floe.oci.settings import options_for  # registries.toml: TLS per host

        options = options_for(host, options)
        self.host = host
        self.options = options
        self.deadline = options.network_deadline
        self.base = base_url(host, options)
        self.http = _Session()
        self.http.max_redirects = MAX_REDIRECTS
        pool = max(4, options.concurrency)
        adapter = _GuardedAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self.http.headers["User-Agent"] = USER_AGENT
        # Bodies are read raw (digests are over the bytes sent), so ask for no encoding.
        self.http.headers["Accept-Encoding"] = "identity"
        if options.ca_file is not None:
            self.http.verify = str(options.ca_file)
        elif options.insecure:
            self.http.verify = False
            _silence_insecure_warning()
        self.auth = Authenticator(host, options, self.http)
        if options.trace is not None:  # --debug: every request and redirect hop, token ones too
            self.http.hooks["response"].append(trace_hook(options.trace))

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def budget(self) -> RetryBudget:
        budget = RetryBudget(self.options.retry_budget_seconds)
        budget.command_deadline = self.deadline  # the command's deadline caps it
        return budget

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        body: BodyFactory | None = None,
        stream: bool = False,
        retry: bool = True,
        budget: RetryBudget | None = None,
    ) -> requests.Response:
        """Send with auth and retries; return the response (any status but 401/403).

        With `retry=False` a retryable outcome raises `TransientError` at once so the
        caller can restart a larger sequence (an upload) from its beginning. Without
        `stream` the body has been read (capped) when this returns.
        """
        forbid_offline(self.options, f"{method} {self.base}{path}")
        budget = budget or self.budget()
        what = f"{method} {self.host}{path.split('?', 1)[0]}"
        auth_retried = False
        while True:
            self.deadline.check(what)
            try:
                resp = self._send(method, path, scopes, headers, body, budget)
            except TransientError as exc:
                if self.deadline.expired():
                    raise self.deadline.error(what) from None
                if retry and budget.wait_after(exc):
                    continue
                raise
            self._read_small(resp, stream, what, head=method == "HEAD")
            if resp.status_code in (401, 403):
                if resp.status_code == 401 and not auth_retried:
                    auth_retried = True
                    if self.auth.on_challenge(resp, scopes):
                        resp.close()
                        continue
                failure = self.auth.failure(resp)
                resp.close()
                raise failure
            if resp.status_code == 400 and self._https_only(resp):
                raise UsageError(
                    "registry_tls",
                    f"{self.host} speaks HTTPS, but floe used plain HTTP",
                    hint="turn plain HTTP off for this registry (it is automatic for loopback "
                    "hosts only) and pass --ca-file or --insecure",
                )
            if resp.status_code in RETRY_STATUSES:
                self._retryable(resp, retry, budget)
                continue
            return resp

    def _retryable(self, resp: requests.Response, retry: bool, budget: RetryBudget) -> None:
        """Wait before retrying a 408/429/5xx, or raise `registry_unavailable`."""
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        message = f"{self.host}: {error_message(resp)}"
        resp.close()
        if retry and budget.wait(retry_after):
            return
        if retry_after is not None:
            message += f" (asked to retry after {min(retry_after, 1e9):.0f} s)"
        raise TransientError("registry_unavailable", message, retry_after)

    def _read_small(
        self, resp: requests.Response, stream: bool, what: str, *, head: bool = False
    ) -> None:
        """Read an error body (up to MAX_ERROR_BODY) or a non-streamed one (capped).

        A HEAD answer has no body whatever its Content-Length says (a big blob's size):
        nothing is read, and the connection goes back to the pool for the next request.
        """
        if head:
            resp._content = b""
            setattr(resp, "_content_consumed", True)  # noqa: B010
            return
        if resp.status_code >= 300:
            cap, truncate = MAX_ERROR_BODY, True
        elif not stream:
            cap, truncate = MAX_DOCUMENT_BYTES, False
        else:
            return
        try:
            data = read_capped(resp, cap, self.deadline, what, truncate=truncate)
        except FloeError:
            resp.close()
            raise
        except READ_ERRORS as exc:
            resp.close()
            if self.deadline.expired():
                raise self.deadline.error(what) from None
            if resp.status_code >= 300:
                data = b""  # the status says enough; the connection is dropped
            else:
                raise transport_error(self.host, exc) from None
        resp._content = data  # so resp.json() / resp.text read the capped bytes
        setattr(resp, "_content_consumed", True)  # noqa: B010

    def _https_only(self, resp: requests.Response) -> bool:
        if not self.base.startswith("http://"):
            return False
        return b"HTTPS server" in (resp._content or b"")[:200]

    def _send(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...],
        headers: dict[str, str] | None,
        body: BodyFactory | None,
        budget: RetryBudget,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        all_headers.update(self.auth.headers(scopes))
        limit = min(self.options.timeout_seconds, budget.remaining(), self.deadline.remaining())
        timeout = max(MIN_ATTEMPT_TIMEOUT, limit)
        started = time.monotonic()
        try:
            with active(self.deadline):
                return self.http.request(
                    method,
                    self.url(path),
                    headers=all_headers,
                    data=body() if body is not None else None,
                    stream=True,  # bodies are read here or by the caller, always capped
                    timeout=(timeout, timeout),
                    allow_redirects=True,
                    verify=self.http.verify,  # else REQUESTS_CA_BUNDLE would override ca_file
                )
        except requests.exceptions.TooManyRedirects:
            raise UsageError(
                "registry_error", f"{self.host} redirected {method} {path} too often"
            ) from None
        except requests.exceptions.RequestException as exc:
            if self.options.trace is not None:  # --debug: a request that got no response
                ms = (time.monotonic() - started) * 1000
                url = redact_url(self.url(path))
                self.options.trace(f"debug: {method} {url} -> {type(exc).__name__} ({ms:.0f} ms)")
            if self.deadline.expired():
                raise self.deadline.error(f"{method} {self.host}") from None
            raise transport_error(self.host, exc) from None
