"""Registry failures as floe errors: transport problems, the registry's own messages."""

from __future__ import annotations

import requests

from floe.errors import FloeError, UsageError


class TransientError(UsageError):
    """A failure worth retrying (connection error, timeout, 408/429/5xx)."""

    def __init__(
        self, slug: str, message: str, retry_after: float | None = None, *, refused: bool = False
    ) -> None:
        hint = "check that the registry is up and reachable, then try again"
        super().__init__(slug, message, hint=hint)
        self.retry_after = retry_after
        self.refused = refused  # nothing listens: worth a short retry only, not the budget


def error_message(resp: requests.Response) -> str:
    """The registry's own words: `CODE: message` from its error JSON, else the status."""
    try:
        errors = resp.json().get("errors") or []
        parts = [f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors]
        if parts:
            return f"HTTP {resp.status_code} " + "; ".join(parts)
    except (ValueError, AttributeError, RuntimeError, requests.exceptions.RequestException):
        pass  # no (readable) error JSON: the status line says enough
    return f"HTTP {resp.status_code} {resp.reason or ''}".strip()


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
    return text.splitlines()[0][:200]
