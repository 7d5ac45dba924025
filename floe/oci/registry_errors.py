"""Registry failures as floe errors: transport problems, the registry's own messages.

The registry's error codes (`MANIFEST_UNKNOWN`, `DENIED`, ...) are kept as data in
`details["registry_codes"]` with the HTTP status in `details["http_status"]`; its
messages are shown only scrubbed (see `scrub`) and shortened, so a registry that
echoes the `Authorization` header or a password cannot make floe print it.
"""

from __future__ import annotations

import json
import re
import threading
from typing import TYPE_CHECKING, Any

import requests
import urllib3

from floe.errors import FloeError, UsageError

if TYPE_CHECKING:
    from floe.oci.deadline import Deadline

MAX_ERROR_BODY = 64 << 10  # bytes of an error body floe reads; the rest is never read
MAX_ERRORS_SHOWN = 5
MAX_MESSAGE_CHARS = 200
READ_CHUNK = 64 << 10
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_SCRUB_PATTERNS = (
    # Authorization values, wherever they appear: `Bearer x`, `Basic x`, headers, JSON fields.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), r"\1 [redacted]"),
    (
        re.compile(
            r"(?i)(authorization|password|passwd|secret|token|access_token|refresh_token)"
            r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]{1,4096}"
        ),
        r"\1\2[redacted]",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), "[redacted]"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,15}://)[^/\s@]{1,512}@"), r"\1[redacted]@"),
)
# What reading a body can raise below requests (urllib3 raw reads) and above it.
READ_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """A credential or token of this process: `scrub` removes it from any text."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: str) -> str:
    """`text` without Authorization values, tokens, passwords or URL userinfo."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "[redacted]")
    for pattern, replacement in _SCRUB_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def limit_error(what: str, limit: str) -> UsageError:
    return UsageError(
        "registry_limit_exceeded",
        f"{scrub(what)}: the registry's answer exceeds floe's limit ({limit})",
        hint="the registry misbehaves or is hostile; nothing was stored",
    )


def read_capped(
    resp: requests.Response,
    cap: int,
    deadline: Deadline,
    what: str,
    *,
    truncate: bool = False,
    too_large: FloeError | None = None,
) -> bytes:
    """Read the body raw, chunk by chunk, checking the deadline between chunks.

    Over `cap` bytes: the first `cap` when `truncate`, else `registry_limit_exceeded`
    or `too_large` (a `Content-Length` over the cap is refused before a byte is read).
    """
    declared = resp.headers.get("Content-Length", "")
    if not truncate and declared.isdigit() and int(declared) > cap:
        raise too_large or limit_error(what, f"Content-Length {declared} over {cap} bytes")
    parts: list[bytes] = []
    total = 0
    while total <= cap:
        deadline.check(what)
        chunk = resp.raw.read1(min(READ_CHUNK, cap + 1 - total), decode_content=False)
        if not chunk:
            if deadline.expired():
                raise deadline.error(what)
            break
        parts.append(chunk)
        total += len(chunk)
    data = b"".join(parts)
    if total > cap:
        if not truncate:
            raise too_large or limit_error(what, f"a body over {cap} bytes")
        resp.close()  # the rest is never read
        return data[:cap]
    return data


class TransientError(UsageError):
    """A failure worth retrying (connection error, timeout, 408/429/5xx)."""

    def __init__(
        self, slug: str, message: str, retry_after: float | None = None, *, refused: bool = False
    ) -> None:
        hint = "check that the registry is up and reachable, then try again"
        super().__init__(slug, message, hint=hint)
        self.retry_after = retry_after
        self.refused = refused  # nothing listens: worth a short retry only, not the budget


def _registry_errors(resp: requests.Response) -> list[tuple[str, str]]:
    """(code, message) pairs from an already-read error body; [] when it has none."""
    body = getattr(resp, "_content", None)
    if not isinstance(body, bytes) or not body:
        return []
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    found = []
    for item in errors[:MAX_ERRORS_SHOWN]:
        if not isinstance(item, dict):
            continue
        code = item.get("code")
        message = item.get("message")
        found.append(
            (
                code if isinstance(code, str) and _CODE_RE.match(code) else "?",
                _printable(message) if isinstance(message, str) else "",
            )
        )
    return found


def _printable(text: str) -> str:
    cleaned = "".join(c if c.isprintable() else " " for c in text)
    cleaned = scrub(cleaned)
    if len(cleaned) > MAX_MESSAGE_CHARS:
        cleaned = cleaned[:MAX_MESSAGE_CHARS] + "..."
    return scrub(cleaned)


def registry_details(resp: requests.Response) -> dict[str, Any]:
    """`{"http_status": 404, "registry_codes": ["MANIFEST_UNKNOWN"]}` for an error's details."""
    codes = [code for code, _ in _registry_errors(resp) if code != "?"]
    return {"http_status": resp.status_code, "registry_codes": codes}


def error_message(resp: requests.Response) -> str:
    """The registry's own words, scrubbed: `CODE: message` from its error JSON, else the status."""
    parts = [f"{code}: {message}".strip() for code, message in _registry_errors(resp)]
    if parts:
        return f"HTTP {resp.status_code} " + "; ".join(parts)
    reason = _printable(resp.reason or "")[:80] if isinstance(resp.reason, str) else ""
    return f"HTTP {resp.status_code} {reason}".strip()


def transport_error(host: str, exc: Exception) -> FloeError:
    if isinstance(exc, requests.exceptions.SSLError):
        return UsageError(
            "registry_tls",
            f"TLS with {host} failed: {_root_cause(exc)}",
            hint="pass --ca-file with the registry's CA, --insecure to skip verification, "
            "or --plain-http if it does not speak TLS",
        )
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ReadTimeout):
        return TransientError("registry_unreachable", f"{host} timed out: {_root_cause(exc)}")
    return TransientError(
        "registry_unreachable",
        f"cannot reach {host}: {_root_cause(exc)}",
        refused=_refused(exc),
    )


def _refused(exc: BaseException) -> bool:
    """Whether a ConnectionRefusedError is behind exc (requests -> urllib3 -> socket)."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        linked = [*current.args, getattr(current, "reason", None)]
        linked += [current.__cause__, current.__context__]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return False


def _root_cause(exc: BaseException) -> str:
    seen: BaseException = exc
    while seen.__context__ is not None and seen.__context__ is not seen:
        seen = seen.__context__
    text = str(seen) or type(seen).__name__
    return scrub(text.splitlines()[0][:200])
