"""pytest fixtures that start real docker-registry processes on 127.0.0.1.

Loaded by tests/conftest.py (`pytest_plugins`). Every registry is the Debian
`docker-registry serve CONFIG` binary on a free port with temp storage; a missing
binary FAILS the test ("run make test to install docker-registry"), never skips.

API (what other tests code against)
-----------------------------------
class Registry:
    host: str              "127.0.0.1:PORT"
    url: str               "http://127.0.0.1:PORT" (https:// for TLS registries)
    storage: Path          filesystem storage root
    ca_file: Path | None   CA bundle that signed the server cert (TLS registries)
    username, password     credentials (basic/token registries), else None
    log_path: Path         the registry's stderr log (JSON lines)
    token_server           TokenServer | None: `.scopes` lists every scope it granted;
                           `.refresh_token` is accepted as an OAuth2 refresh token
    ref(repo, tag=None) -> "oci://HOST/REPO[:TAG]"
    stop(); start()        same port and storage (offline tests)
    request_log() -> list[str]   "METHOD /v2/..." for each request the registry answered
                                 (routes it does not know, e.g. /referrers/, are not logged)
    blob_path(digest) -> Path    the blob's data file in storage (tamper tests)
    options(**kw) -> RegistryOptions   matching ca_file / credentials and a 5 s retry
                                       budget; keyword arguments override

Fixtures
    registry              session-scoped, plain HTTP, no auth; use a unique repo per test
    repo_name             a repository name unique to the test ("t/<test-name>")
    registry_factory      registry_factory(auth="none"|"basic"|"token", tls=False) -> Registry
    basic_auth_registry   htpasswd (bcrypt) auth, user "floe" / password "floe-secret"
    tls_registry          HTTPS with an openssl-made CA (`ca_file`), no auth
    token_registry        bearer tokens (ES256 JWT, x5c) from an in-test token server
    fault_proxy           fault_proxy(upstream: Registry | None = None) -> FaultProxy
                          (default upstream: `registry`; plain-HTTP upstreams only)

class FaultProxy:
    host: str                     "127.0.0.1:PORT" (loopback: plain HTTP)
    ref(repo, tag=None) -> str    "oci://PROXY_HOST/REPO[:TAG]"
    inject(kind, *, method=None, path=None, times=1, skip=0, status=503,
           retry_after=None, delay=0.0)
        kind: "reset" (RST after reading the request), "status" (answer `status`,
        with Retry-After when given), "truncate" (send half the body, then RST),
        "slow" (sleep `delay` seconds, then forward). A fault applies to requests whose
        method equals `method` and whose path contains `path`; it skips the first
        `skip` matches, then fires `times` times (times=-1: forever).
    paginate_tags: int | None     when set, serve tags/list in pages of this size with
                                  `Link: <...>; rel="next"` (docker-registry 2.8 ignores `n`)
    relative_locations: bool      when True, rewrite `Location` headers to relative URLs
                                  (as some registries send them)
    requests: list[str]           "METHOD /path" of every request seen
    count(method=None, path=None) -> int
    clear()                       drop faults and the request list
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"
USERNAME = "floe"
PASSWORD = "floe-secret"
START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _registry_binary() -> str:
    path = shutil.which("docker-registry") or REGISTRY_BIN
    if not os.path.exists(path):
        pytest.fail("docker-registry not found: run make test to install docker-registry")
    return path


# --------------------------------------------------------------------------- TLS material


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tls_material(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server cert for 127.0.0.1/localhost: (ca, cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=floe-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
        cwd=folder,
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
        cwd=folder,
    )  # fmt: skip
    return folder / "ca.crt", folder / "server.crt", folder / "server.key"


# --------------------------------------------------------------------------- token server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A bearer-token issuer: checks basic credentials, grants the scopes asked for.

    Tokens are ES256 JWTs whose header carries the signing cert (`x5c`); the registry
    trusts that self-signed cert through `auth.token.rootcertbundle`.
    """

    def __init__(self, folder: Path, username: str, password: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.username = username
        self.password = password
        self.issuer = "floe-test-issuer"
        self.service = "floe-test-registry"
        self.scopes: list[str] = []
        self.requests = 0
        self.refresh_token = "floe-refresh-" + secrets.token_hex(8)  # docker `identitytoken`
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "floe-test-token-signer")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self._cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = folder / "token-signer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._server = _serve(self._handler_class())
        self.port = int(self._server.server_address[1])
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def issue(self, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": self.username,
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 60,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests += 1
                expected = base64.b64encode(f"{server.username}:{server.password}".encode())
                if self.headers.get("Authorization", "") != f"Basic {expected.decode()}":
                    self._reply(401, {"details": "bad credentials"})
                    return
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = query.get("scope", [])
                server.scopes.extend(scopes)
                token = server.issue(scopes)
                self._reply(200, {"token": token, "access_token": token, "expires_in": 300})

            def do_POST(self) -> None:
                """OAuth2 refresh-token grant (what docker's `identitytoken` is used for)."""
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                if grant != "refresh_token" or form.get("refresh_token") != [server.refresh_token]:
                    self._reply(401, {"details": "bad refresh token"})
                    return
                scopes = " ".join(form.get("scope", [])).split()
                server.scopes.extend(scopes)
                self._reply(200, {"access_token": server.issue(scopes), "expires_in": 300})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients and upstreams vanish mid-request in fault tests: not worth a traceback."""


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> _ThreadingServer:
    server = _ThreadingServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------- registry


@dataclass
class Registry:
    """A docker-registry process on 127.0.0.1 (see the module docstring)."""

    root: Path
    auth: str = "none"
    tls: bool = False
    port: int = field(default_factory=_free_port)
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    token_server: TokenServer | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _started: bool = False

    def __post_init__(self) -> None:
        self.storage = self.root / "storage"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = self.root / "registry.log"
        self.config_path = self.root / "config.yml"
        self.config_path.write_text(json.dumps(self._config(), indent=2))

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def ref(self, repo: str, tag: str | None = None) -> str:
        return f"oci://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def options(self, **overrides: Any) -> Any:
        from floe.oci.options import RegistryOptions

        values: dict[str, Any] = {
            "ca_file": self.ca_file,
            "username": self.username,
            "password": self.password,
            "retry_budget_seconds": 5.0,
            "plain_http": False if self.tls else None,
        }
        values.update(overrides)
        return RegistryOptions(**values)

    def blob_path(self, digest: str) -> Path:
        hexpart = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"

    def _config(self) -> dict[str, Any]:
        http_conf: dict[str, Any] = {"addr": self.host, "secret": secrets.token_hex(16)}
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage)},
                "delete": {"enabled": True},
            },
            "http": http_conf,
        }
        if self.tls:
            tls_dir = self.root / "tls"
            if self.ca_file is None:
                self.ca_file, _, _ = make_tls_material(tls_dir)
            cert, key = tls_dir / "server.crt", tls_dir / "server.key"
            http_conf["tls"] = {"certificate": str(cert), "key": str(key)}
        if self.auth == "basic":
            self.username, self.password = USERNAME, PASSWORD
            htpasswd = self.root / "htpasswd"
            subprocess.run(
                ["htpasswd", "-Bbc", str(htpasswd), USERNAME, PASSWORD],
                check=True,
                capture_output=True,
            )
            config["auth"] = {"htpasswd": {"realm": "floe-test", "path": str(htpasswd)}}
        elif self.auth == "token":
            self.username, self.password = USERNAME, PASSWORD
            if self.token_server is None:
                self.token_server = TokenServer(self.root, USERNAME, PASSWORD)
            config["auth"] = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(self.token_server.cert_path),
                }
            }
        elif self.auth != "none":
            raise ValueError(f"unknown auth {self.auth!r}")
        return config

    def start(self) -> None:
        """Start on `port`; on the first start a port lost to a race is replaced."""
        first = self._started is False
        for _ in range(3 if first else 1):
            self._spawn()
            if self._wait_ready():
                self._started = True
                return
            if not (first and "address already in use" in self._log_tail()):
                break
            self.port = _free_port()
            self.config_path.write_text(json.dumps(self._config(), indent=2))
        self.stop()
        pytest.fail(f"docker-registry did not start:\n{self._log_tail()}")

    def _spawn(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [_registry_binary(), "serve", str(self.config_path)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def _wait_ready(self) -> bool:
        """Poll GET /v2/ (any HTTP answer, 401 included, means it serves) for up to 10 s."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            if self._answers():
                return True
            time.sleep(0.05)
        return False

    def _answers(self) -> bool:
        conn: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=1, context=context)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/v2/")
            conn.getresponse().read()
            return True
        except OSError:
            return False
        finally:
            conn.close()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        if self.token_server is not None:
            self.token_server.close()

    def request_log(self) -> list[str]:
        """ "METHOD URI" of every completed request, in order (waits for the log to settle)."""
        previous = -1
        for _ in range(20):
            size = self.log_path.stat().st_size
            if size == previous:
                break
            previous = size
            time.sleep(0.05)
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if str(entry.get("msg", "")).startswith("response completed"):
                lines.append(f"{entry['http.request.method']} {entry['http.request.uri']}")
        return lines


def _repo_for(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", node_name.lower()).strip("-")[:80].strip("-")
    return f"t/{slug or 'test'}-{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.start()
    yield reg
    reg.close()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    return _repo_for(request.node.name)


@pytest.fixture
def registry_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Registry]]:
    started: list[Registry] = []

    def make(auth: str = "none", tls: bool = False) -> Registry:
        reg = Registry(tmp_path_factory.mktemp(f"registry-{auth}"), auth=auth, tls=tls)
        started.append(reg)
        reg.start()
        return reg

    yield make
    for reg in started:
        reg.close()


@pytest.fixture
def basic_auth_registry(registry_factory: Callable[..., Registry]) -> Registry:
    return registry_factory(auth="basic")


@pytest.fixture
def tls_registry(registry_factory: Callable[..., Registry]) -> Registry:
    return registry_factory(tls=True)


@pytest.fixture
def token_registry(registry_factory: Callable[..., Registry]) -> Registry:
    return registry_factory(auth="token")


# --------------------------------------------------------------------------- fault proxy


@dataclass
class Fault:
    kind: str
    method: str | None = None
    path: str | None = None
    times: int = 1
    skip: int = 0
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        return self.path is None or self.path in path


_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}


class FaultProxy:
    """A threaded HTTP proxy in front of a registry that injects faults on demand."""

    def __init__(self, upstream: Registry) -> None:
        if upstream.tls:
            raise ValueError("the fault proxy speaks plain HTTP to its upstream")
        self.upstream = upstream
        self.requests: list[str] = []
        self.paginate_tags: int | None = None
        self.relative_locations = False
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = _serve(self._handler_class())
        self.port = int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ref(self, repo: str, tag: str | None = None) -> str:
        return f"oci://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def inject(self, kind: str, **kwargs: Any) -> Fault:
        if kind not in ("reset", "status", "truncate", "slow"):
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(kind, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for line in self.requests
                if (method is None or line.split(" ", 1)[0] == method)
                and (path is None or path in line.split(" ", 1)[1])
            )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _pick(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append(f"{method} {path}")
            for fault in self._faults:
                if fault.times == 0 or not fault.matches(method, path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(parts)
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reset(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _handle(self) -> None:
                body = self._body()
                fault = proxy._pick(self.command, self.path)
                if fault is not None and fault.kind == "reset":
                    self._reset()
                    return
                if fault is not None and fault.kind == "status":
                    self._fault_status(fault)
                    return
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay)
                status, headers, data = self._forward(body)
                if proxy.paginate_tags and "/tags/list" in self.path and status == 200:
                    headers, data = self._paginate(headers, data, proxy.paginate_tags)
                self.send_response(status)
                for name, value in headers:
                    if name.lower() in _HOP_HEADERS or name.lower() == "content-length":
                        continue
                    if name.lower() == "location" and proxy.relative_locations:
                        parts = urllib.parse.urlsplit(value)
                        value = urllib.parse.urlunsplit(("", "", *parts[2:]))
                    self.send_header(name, value)
                declared = data if self.command != "HEAD" else b""
                length = {k.lower(): v for k, v in headers}.get("content-length")
                if self.command != "HEAD":
                    length = str(len(data))
                self.send_header("Content-Length", length or str(len(declared)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if fault is not None and fault.kind == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self._reset()
                    return
                self.wfile.write(data)

            def _paginate(
                self, headers: list[tuple[str, str]], data: bytes, size: int
            ) -> tuple[list[tuple[str, str]], bytes]:
                url = urllib.parse.urlsplit(self.path)
                last = urllib.parse.parse_qs(url.query).get("last", [""])[0]
                listing = json.loads(data)
                tags = sorted(listing.get("tags") or [])
                rest = [t for t in tags if t > last] if last else tags
                listing["tags"] = rest[:size]
                kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "link")]
                if len(rest) > size:
                    query = urllib.parse.urlencode({"n": size, "last": rest[size - 1]})
                    kept.append(("Link", f'<{url.path}?{query}>; rel="next"'))
                return kept, json.dumps(listing).encode()

            def _fault_status(self, fault: Fault) -> None:
                data = json.dumps(
                    {"errors": [{"code": "UNAVAILABLE", "message": "injected fault"}]}
                ).encode()
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                headers["Content-Length"] = str(len(body))
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    return resp.status, resp.getheaders(), data
                finally:
                    conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler


@pytest.fixture
def fault_proxy(registry: Registry) -> Iterator[Callable[..., FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(upstream: Registry | None = None) -> FaultProxy:
        proxy = FaultProxy(upstream or registry)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
