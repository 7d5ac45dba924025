"""One deadline for all the network work of a command, and the socket watchdog behind it.

A `Deadline` starts at the first registry request and covers everything after it:
connects, slow bodies, retries, `Retry-After` waits, pagination and token requests.
Per-read socket timeouts alone cannot bound a body sent at one byte a second (every
read returns a byte in time), so every connection that sends a request registers with
the command's deadline; when it expires a watchdog shuts those sockets down, which
ends any blocked send or read at once. Expiry is always `registry_timeout`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

from floe.errors import UsageError

DEFAULT_TIMEOUT = 20.0  # seconds of network work per command (`--timeout`)
_TIMEOUT_HINT = "the registry is too slow or stalls; try again, or raise --timeout"


class Deadline:
    """A monotonic deadline, started by the first request (thread-safe)."""

    def __init__(self, seconds: float = DEFAULT_TIMEOUT) -> None:
        self.seconds = float(seconds)
        self._expires: float | None = None
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._timer: threading.Timer | None = None

    def start(self) -> None:
        with self._lock:
            if self._expires is None:
                self._expires = time.monotonic() + self.seconds

    def remaining(self) -> float:
        self.start()
        assert self._expires is not None
        return max(0.0, self._expires - time.monotonic())

    def expired(self) -> bool:
        return self._expires is not None and time.monotonic() >= self._expires

    def error(self, what: str) -> UsageError:
        return UsageError(
            "registry_timeout",
            f"{what}: the network deadline of {self.seconds:g} s ran out",
            hint=_TIMEOUT_HINT,
        )

    def check(self, what: str) -> None:
        """Raise `registry_timeout` once the deadline has passed."""
        if self.remaining() <= 0:
            raise self.error(what)

    def guard(self, connection: Any) -> None:
        """Shut `connection`'s socket down when the deadline expires (raise if it has)."""
        remaining = self.remaining()
        if remaining <= 0:
            raise self.error("sending a request")
        with self._lock:
            self._connections.add(connection)
            if self._timer is None:
                self._timer = threading.Timer(remaining, self._expire)
                self._timer.daemon = True
                self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


@contextlib.contextmanager
def active(deadline: Deadline) -> Iterator[None]:
    """Requests sent by this thread inside the block are guarded by `deadline`."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = deadline
    try:
        yield
    finally:
        _current.deadline = previous


def _guard_current(connection: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.guard(connection)


def _guarded_pools() -> dict[str, Any]:
    """urllib3 pools whose connections register with the current deadline (urllib3 is
    imported here, on first use by floe.oci.http, not by every command's options)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class _GuardedHTTPConnection(HTTPConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            _guard_current(self)
            super().request(*args, **kwargs)

    class _GuardedHTTPSConnection(HTTPSConnection):
        def request(self, *args: Any, **kwargs: Any) -> None:
            _guard_current(self)
            super().request(*args, **kwargs)

    class _GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = _GuardedHTTPConnection

    class _GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _GuardedHTTPSConnection

    return {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def __getattr__(name: str) -> Any:
    if name == "GUARDED_POOLS":  # PEP 562: built once, on first import by floe.oci.http
        pools = _guarded_pools()
        globals()["GUARDED_POOLS"] = pools
        return pools
    raise AttributeError(f"module 'floe.oci.deadline' has no attribute {name!r}")
