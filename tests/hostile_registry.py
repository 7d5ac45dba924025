"""A scriptable hostile registry on 127.0.0.1 for the hostile-network catalogue.

`HostileRegistry(content)` serves the distribution API for the OCI layout folder
`content` (manifests by tag and digest, blobs, tags/list, no referrers API) over plain
HTTP/1.1, and lets a test replace any answer:

    reg.script("GET", r"/manifests/v1\\.2\\.3$", Reply(200, body=b"{" * 100_000))
    reg.script(None, r".*", lambda req: Reply(503, headers={"Retry-After": "99999"}))

A `Reply` body is bytes or an iterable of chunks; `chunk_delay` sleeps between chunks
(a slow body), `content_length` overrides (or with None drops) the Content-Length
header (a lying length). A handler may also return None to fall back to the layout.
`reg.requests` records (method, path, headers) of everything received, so a test can
assert that no Authorization header reached a host it should not.
"""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    chunk_delay: float = 0.0
    content_length: int | str | None = "auto"  # "auto": the body's length (bytes bodies)
    delay: float = 0.0  # seconds before the status line (a stalled server)
    raw: bytes | None = None  # sent as is instead of an HTTP answer (garbage), then closed
    drop: bool = False  # close the connection without an answer


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Request], Reply | None]


@dataclass
class _Rule:
    method: str | None
    pattern: re.Pattern[str]
    handler: Handler


def error_reply(status: int, code: str, message: str, **headers: str) -> Reply:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return Reply(status, {"Content-Type": "application/json", **headers}, body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hang up on hostile answers all the time: not worth a traceback."""


class HostileRegistry:
    def __init__(self, content: Path | None = None, host: str = "127.0.0.1") -> None:
        self.manifests: dict[str, bytes] = {}
        self.tags: dict[str, str] = {}
        self.blobs: dict[str, bytes] = {}
        self.rules: list[_Rule] = []
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        if content is not None:
            self.load_layout(content)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self.port = int(self._server.server_address[1])
        self.hostname = host  # "127.0.0.1" or "localhost": two names, two hosts
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"{self.hostname}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def ref(self, repo: str = "acme/platform", tag: str | None = None) -> str:
        return f"oci://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def load_layout(self, folder: Path) -> None:
        index = json.loads((folder / "index.json").read_text())
        for blob in (folder / "blobs" / "sha256").iterdir():
            digest = f"sha256:{blob.name}"
            data = blob.read_bytes()
            self.blobs[digest] = data
        for entry in index["manifests"]:
            self.manifests[entry["digest"]] = self.blobs[entry["digest"]]
            tag = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if tag:
                self.tags[tag] = entry["digest"]

    def script(self, method: str | None, pattern: str, reply: Reply | Handler) -> None:
        """Answer requests whose path matches `pattern` (re.search) with `reply`."""
        handler: Handler = reply if callable(reply) else (lambda _req, r=reply: r)
        with self._lock:
            self.rules.insert(0, _Rule(method, re.compile(pattern), handler))

    def seen(self, method: str | None = None, pattern: str = "") -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and re.search(pattern, r.path)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ default API

    def default(self, req: Request) -> Reply:
        path = req.path.split("?", 1)[0]
        if path == "/v2/":
            return Reply(200, {"Content-Type": "application/json"}, b"{}")
        match = re.match(r"^/v2/(.+)/(manifests|blobs|tags|referrers)/(.+)$", path)
        if not match:
            return error_reply(404, "NAME_UNKNOWN", "no such route")
        _, kind, ref = match.groups()
        if kind == "tags":
            body = json.dumps({"name": "acme/platform", "tags": sorted(self.tags)}).encode()
            return Reply(200, {"Content-Type": "application/json"}, body)
        if kind == "referrers":
            return error_reply(404, "NAME_UNKNOWN", "no referrers API")
        if kind == "manifests":
            digest = self.tags.get(ref, ref)
            data = self.manifests.get(digest) or (
                self.blobs.get(digest) if digest.startswith("sha256:") else None
            )
            if data is None:
                return error_reply(404, "MANIFEST_UNKNOWN", f"manifest {ref} unknown")
            media = json.loads(data).get("mediaType") or MANIFEST_TYPES[0]
            headers = {"Content-Type": media, "Docker-Content-Digest": digest}
            return Reply(200, headers, data)
        data = self.blobs.get(ref)
        if data is None:
            return error_reply(404, "BLOB_UNKNOWN", f"blob {ref} unknown")
        return Reply(200, {"Content-Type": "application/octet-stream"}, data)

    def _answer(self, req: Request) -> Reply:
        with self._lock:
            self.requests.append(req)
            rules = list(self.rules)
        for rule in rules:
            if rule.method not in (None, req.method) or not rule.pattern.search(req.path):
                continue
            reply = rule.handler(req)
            if reply is not None:
                return reply
        return self.default(req)

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, dict(self.headers.items()), body)
                reply = registry._answer(req)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop or reply.raw is not None:
                    self.close_connection = True
                    if reply.raw is not None:
                        self.wfile.write(reply.raw)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                length = reply.content_length
                if length == "auto":
                    length = len(reply.body) if isinstance(reply.body, bytes) else None
                if length is not None:
                    self.send_header("Content-Length", str(length))
                else:
                    self.close_connection = True
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command == "HEAD":
                    return
                chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
                try:
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if reply.chunk_delay:
                            time.sleep(reply.chunk_delay)
                except OSError:
                    self.close_connection = True

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler
