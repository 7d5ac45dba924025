"""The hostile-registry catalogue: floe's CLI and library against a registry that lies.

Every case scripts one misbehaviour on `HostileRegistry` (tests/hostile_registry.py)
and runs one command: `floe platform pull REF --out D`, `floe platform inspect REF`,
`floe platform list REF`, or the library (`RemoteTarget`). Each asserts the slug and
exit code, that no traceback escaped, that no credential reached stdout/stderr, and
that nothing was written next to `--out` or under the (isolated) home and caches.
No timing assertions: slow cases run with a short deadline and must end with
`registry_timeout`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FloeResult, run_floe
from hostile_registry import HostileRegistry, Reply, Request, error_reply
from oci_helpers import tree_files, write_tree

from floe.errors import FloeError
from floe.oci.options import RegistryOptions
from floe.oci.remote import RemoteTarget
from floe.oci.target import Descriptor

USER = "floe-user"
PASSWORD = "hunter2-Secret-pw-9f3a"
TOKEN = "tok-Secret-bearer-77c1d2e4"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, BASIC, TOKEN)
ENV = {"FLOE_REGISTRY_USERNAME": USER, "FLOE_REGISTRY_PASSWORD": PASSWORD}
REPO = "acme/platform"
TAG = "v1.2.3"
SHORT = "1.5"  # --timeout for cases that stall
MiB = 1 << 20

Setup = Callable[[HostileRegistry], None]


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-content")
    tree = write_tree(root / "tree", tree_files())
    result = run_floe(
        "platform", "publish", TAG, "--artifacts", str(tree),
        "--registry", f"oci-layout://{root / 'layout'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "layout"


@pytest.fixture
def reg(layout: Path) -> Iterator[HostileRegistry]:
    server = HostileRegistry(layout)
    yield server
    server.close()


@pytest.fixture
def other_host() -> Iterator[HostileRegistry]:
    """A second server under another host name (`localhost`): a different host."""
    server = HostileRegistry(host="localhost")
    yield server
    server.close()


# --------------------------------------------------------------------------- helpers


def _manifest(reg: HostileRegistry) -> tuple[str, bytes]:
    digest = reg.tags[TAG]
    return digest, reg.manifests[digest]


def _layer(reg: HostileRegistry) -> tuple[str, int]:
    layer = json.loads(_manifest(reg)[1])["layers"][0]
    return str(layer["digest"]), int(layer["size"])


def _config(reg: HostileRegistry) -> str:
    return str(json.loads(_manifest(reg)[1])["config"]["digest"])


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest_reply(data: bytes, **extra: object) -> Reply:
    headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
    headers["Docker-Content-Digest"] = _digest(data)
    return Reply(200, headers, data, **extra)  # type: ignore[arg-type]


def _slow(byte: bytes = b"{") -> Reply:
    """An endless body at one byte a second (a slow-retrieval attack)."""
    return Reply(200, {"Content-Type": "application/json"}, itertools.repeat(byte), 1.0, None)


def _huge(status: int, size: int = 200 * MiB, byte: bytes = b"x") -> Reply:
    chunks = itertools.repeat(byte * MiB, size // MiB)
    return Reply(status, {"Content-Type": "application/json"}, chunks, 0.0, size)


def _echo_auth(status: int) -> Callable[[Request], Reply]:
    """An error whose body echoes the request's Authorization header (and the password)."""

    def answer(req: Request) -> Reply:
        sent = req.headers.get("Authorization", "none")
        body = {"errors": [{"code": "DENIED", "message": f"bad Authorization: {sent}"}]}
        body["errors"].append({"code": "UNAUTHORIZED", "message": f"password={PASSWORD}"})
        return Reply(status, {"Content-Type": "application/json"}, json.dumps(body).encode())

    return answer


def _basic_auth(reg: HostileRegistry) -> None:
    """The registry wants Basic credentials (then answers from the layout)."""

    def answer(req: Request) -> Reply | None:
        if req.headers.get("Authorization") == f"Basic {BASIC}":
            return None
        return error_reply(401, "UNAUTHORIZED", "login", **{"WWW-Authenticate": 'Basic realm="x"'})

    reg.script(None, r"^/v2/", answer)


def _bearer(reg: HostileRegistry, realm: str) -> None:
    """The registry wants a bearer token from `realm` (the token is TOKEN)."""

    def answer(req: Request) -> Reply | None:
        if req.headers.get("Authorization") == f"Bearer {TOKEN}":
            return None
        challenge = f'Bearer realm="{realm}",service="hostile"'
        return error_reply(401, "UNAUTHORIZED", "token", **{"WWW-Authenticate": challenge})

    reg.script(None, r"^/v2/", answer)


def _token_server(reg: HostileRegistry, reply: Reply | None = None) -> str:
    token = json.dumps({"token": TOKEN}).encode()
    reg.script("GET", r"^/token", reply or Reply(200, {"Content-Type": "application/json"}, token))
    return f"{reg.url}/token"


# --------------------------------------------------------------------------- scenarios


def s_manifest(reply: Reply | Callable[[HostileRegistry], Reply]) -> Setup:
    """Replace every manifest answer (tag and digest)."""

    def setup(reg: HostileRegistry) -> None:
        answer = reply(reg) if callable(reply) else reply
        reg.script(None, r"/manifests/", answer)

    return setup


def s_path(method: str | None, pattern: str, reply: Reply | Callable[[Request], Reply]) -> Setup:
    return lambda reg: reg.script(method, pattern, reply)


def s_layer(make: Callable[[HostileRegistry, str, int], Reply]) -> Setup:
    def setup(reg: HostileRegistry) -> None:
        digest, size = _layer(reg)
        reg.script("GET", f"/blobs/{digest}", make(reg, digest, size))

    return setup


def s_config(body: bytes) -> Setup:
    def setup(reg: HostileRegistry) -> None:
        reg.script("GET", f"/blobs/{_config(reg)}", Reply(200, {}, body))

    return setup


def s_wrong_digest_header(reg: HostileRegistry) -> None:
    _, data = _manifest(reg)
    reply = _manifest_reply(data)
    reply.headers["Docker-Content-Digest"] = "sha256:" + "0" * 64
    reg.script("GET", r"/manifests/", reply)


def s_short_body_held_open(reg: HostileRegistry) -> None:
    _, data = _manifest(reg)
    reg.script("GET", r"/manifests/", _manifest_reply(data[:100], content_length=len(data)))


def s_long_body(reg: HostileRegistry) -> None:
    _, data = _manifest(reg)
    reply = _manifest_reply(data, content_length=10)
    reply.headers["Docker-Content-Digest"] = _digest(data)
    reg.script("GET", r"/manifests/", reply)


def s_digest_ok(body: bytes) -> Setup:
    """A manifest whose bytes hash to the digest the registry claims (only the shape is bad)."""
    return s_manifest(_manifest_reply(body))


def s_token(reply: Reply) -> Setup:
    def setup(reg: HostileRegistry) -> None:
        _bearer(reg, _token_server(reg, reply))

    return setup


def s_realm(realm: str) -> Setup:
    return lambda reg: _bearer(reg, realm)


def s_auth_echo(status: int) -> Setup:
    def setup(reg: HostileRegistry) -> None:
        _bearer(reg, _token_server(reg))
        reg.script(None, r"/manifests/|/tags/", _echo_auth(status))

    return setup


def s_basic_echo(reg: HostileRegistry) -> None:
    _basic_auth(reg)
    reg.script(None, r"/manifests/|/tags/", _echo_auth(400))


def s_always_401(challenge: str) -> Setup:
    reply = error_reply(401, "UNAUTHORIZED", "again", **{"WWW-Authenticate": challenge})
    return s_path(None, r"^/v2/", reply)


def s_bearer_401_loop(reg: HostileRegistry) -> None:
    realm = _token_server(reg)
    challenge = f'Bearer realm="{realm}",service="hostile"'
    reply = error_reply(401, "UNAUTHORIZED", "never", **{"WWW-Authenticate": challenge})
    reg.script(None, r"^/v2/", reply)


def s_redirect_loop(reg: HostileRegistry) -> None:
    reg.script("GET", r"/manifests/", lambda req: Reply(307, {"Location": req.path}))


def s_tags(reply: Reply) -> Setup:
    return s_path("GET", r"/tags/list", reply)


def _tags_body(tags: object) -> Reply:
    return Reply(200, {"Content-Type": "application/json"}, json.dumps({"tags": tags}).encode())


def s_link_self(reg: HostileRegistry) -> None:
    reply = _tags_body([TAG])
    reply.headers["Link"] = '</v2/acme/platform/tags/list?n=1>; rel="next"'
    reg.script("GET", r"/tags/list", reply)


def s_link_endless(reg: HostileRegistry) -> None:
    counter = itertools.count()

    def answer(_req: Request) -> Reply:
        reply = _tags_body([f"v0.0.{next(counter)}"])
        reply.headers["Link"] = f'</v2/acme/platform/tags/list?page={next(counter)}>; rel="next"'
        return reply

    reg.script("GET", r"/tags/list", answer)


def s_referrers_api(body: Reply | Callable[[HostileRegistry], Reply]) -> Setup:
    def setup(reg: HostileRegistry) -> None:
        reg.script("GET", r"/referrers/", body(reg) if callable(body) else body)

    return setup


def _many_referrers(reg: HostileRegistry) -> Reply:
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10}
    entries = [{**entry, "digest": _digest(str(i).encode())} for i in range(2000)]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    body = json.dumps({**index, "manifests": entries}).encode()
    return Reply(200, {"Content-Type": "application/vnd.oci.image.index.v1+json"}, body)


def s_endless_referrers(reg: HostileRegistry) -> None:
    """Every manifest has one more referrer, made up on the fly (an endless chain)."""

    def answer(req: Request) -> Reply:
        subject = req.path.rsplit("/", 1)[1].split("?", 1)[0]
        child = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/x-chain",
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": _digest(b"{}"),
                    "size": 2,
                },
                "layers": [],
                "subject": {"mediaType": "x", "digest": subject, "size": 1},
            }
        ).encode()
        reg.manifests[_digest(child)] = child
        entry = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/x-chain",
            "digest": _digest(child),
            "size": len(child),
        }
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
        body = json.dumps({**index, "manifests": [entry]}).encode()
        return Reply(200, {"Content-Type": "application/vnd.oci.image.index.v1+json"}, body)

    reg.script("GET", r"/referrers/", answer)


def s_all(reply: Reply) -> Setup:
    return s_path(None, r"^/v2/.+", reply)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class Case:
    name: str
    setup: Setup
    slugs: tuple[str, ...]  # any of these (first: the one floe gives today)
    exit_code: int
    commands: tuple[str, ...] = ("pull", "inspect")
    timeout: str = "5"
    # A known failure in code this suite does not own (strict: it must fail until fixed).
    xfail: str | None = None


DEEP = b"[" * 100_000 + b"]" * 100_000
BIG_JSON = b'{"a":"' + b"x" * (5 * MiB) + b'"}'
UNAVAILABLE = ("registry_unavailable", "registry_timeout")
BAD_DOC = ("artifact_manifest_invalid", "manifest_unsupported", "artifact_not_floe")

CASES = [
    # slow retrieval / freeze: the deadline ends it
    Case("manifest-1-byte-per-second", s_manifest(_slow()), ("registry_timeout",), 2,
         timeout=SHORT),
    Case("manifest-stalls-before-headers", s_manifest(Reply(delay=30)), ("registry_timeout",),
         2, timeout=SHORT),
    Case("manifest-short-body-held-open", s_short_body_held_open, ("registry_timeout",), 2,
         timeout=SHORT),
    Case("layer-1-byte-per-second", s_layer(lambda r, d, n: _slow(b"a")),
         ("registry_timeout",), 2, ("pull",), timeout=SHORT),
    Case("config-1-byte-per-second", lambda r: r.script("GET", f"/blobs/{_config(r)}",
         _slow()), ("registry_timeout",), 2, ("pull",), timeout=SHORT),
    Case("tags-1-byte-per-second", s_tags(_slow()), ("registry_timeout",), 2, ("list",),
         timeout=SHORT),
    Case("token-1-byte-per-second", s_token(_slow()), ("registry_timeout",), 2,
         ("pull", "list"), timeout=SHORT),
    Case("503-storm", s_all(error_reply(503, "UNAVAILABLE", "busy")), UNAVAILABLE, 2,
         ("pull", "inspect", "list"), timeout=SHORT),
    Case("429-huge-retry-after", s_all(error_reply(429, "TOOMANYREQUESTS", "slow down",
         **{"Retry-After": "999999999999"})), UNAVAILABLE, 2, ("pull", "inspect", "list")),
    Case("429-retry-after-far-date", s_all(error_reply(429, "TOOMANYREQUESTS", "later",
         **{"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})), UNAVAILABLE, 2,
         ("pull", "list")),
    Case("429-retry-after-garbage", s_all(error_reply(429, "TOOMANYREQUESTS", "?",
         **{"Retry-After": "soon!!" * 1000})), UNAVAILABLE, 2, ("pull",), timeout=SHORT),
    # endless data
    Case("error-body-200MB-500", s_manifest(_huge(500)), ("registry_error",), 2),
    Case("error-body-200MB-404", s_manifest(_huge(404)), ("reference_not_found",), 2),
    Case("error-body-200MB-400-tags", s_tags(_huge(400)), ("registry_error",), 2, ("list",)),
    Case("error-body-200MB-json", s_manifest(_huge(500, byte=b"[")), ("registry_error",), 2),
    Case("manifest-5MB", s_digest_ok(BIG_JSON), ("pull_too_large",), 1),
    Case("manifest-content-length-10GB", s_manifest(Reply(200, {}, b"{}",
         content_length=10 << 30)), ("pull_too_large",), 1),
    Case("manifest-endless-body", s_manifest(_huge(200, size=1 << 40)),
         ("pull_too_large",), 1),
    Case("tags-5MB", s_tags(_huge(200, size=5 * MiB)), ("registry_limit_exceeded",), 2,
         ("list",)),
    Case("tags-content-length-lie", s_tags(Reply(200, {}, b"{}", content_length=1 << 40)),
         ("registry_limit_exceeded",), 2, ("list",)),
    Case("tags-link-loop", s_link_self, ("registry_limit_exceeded",), 2, ("list",)),
    Case("tags-endless-pages", s_link_endless, ("registry_limit_exceeded", "registry_timeout"),
         2, ("list",)),
    Case("token-200MB", s_token(_huge(200)), ("registry_auth_failed",), 2, ("pull", "list")),
    Case("layer-endless", s_layer(lambda r, d, n: _huge(200, size=1 << 40)),
         ("pull_digest_mismatch",), 1, ("pull",)),
    Case("layer-content-length-lie", s_layer(lambda r, d, n: Reply(200, {}, r.blobs[d],
         content_length=n + 1000)), ("registry_timeout", "pull_digest_mismatch"), 2,
         ("pull",), timeout=SHORT),
    # wrong software, mix-and-match: digests and shapes
    Case("manifest-digest-header-lies", s_wrong_digest_header, ("pull_digest_mismatch",), 1),
    Case("manifest-content-length-short", s_long_body, ("pull_digest_mismatch",), 1),
    Case("layer-wrong-bytes", s_layer(lambda r, d, n: Reply(200, {}, b"x" * n)),
         ("pull_digest_mismatch",), 1, ("pull",)),
    Case("layer-truncated", s_layer(lambda r, d, n: Reply(200, {}, r.blobs[d][: n // 2])),
         ("pull_digest_mismatch",), 1, ("pull",)),
    Case("layer-404", s_layer(lambda r, d, n: error_reply(404, "BLOB_UNKNOWN", "gone")),
         ("blob_not_found",), 1, ("pull",)),
    Case("config-wrong-bytes", s_config(b"{}"), ("pull_digest_mismatch",), 1, ("pull",)),
    Case("manifest-not-json", s_digest_ok(b"{not json"), BAD_DOC, 1),
    Case("manifest-100k-deep", s_digest_ok(DEEP), BAD_DOC, 1),
    Case("manifest-deep-object", s_digest_ok(b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
         BAD_DOC, 1),
    Case("manifest-layers-wrong-types", s_digest_ok(json.dumps({"schemaVersion": 2,
         "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "x", "digest": "sha256:" + "a" * 64, "size": 2},
         "layers": [1, "x", None]}).encode()), BAD_DOC, 1),
    Case("manifest-is-a-list", s_digest_ok(b"[1,2,3]"), BAD_DOC, 1),
    Case("manifest-404", s_manifest(error_reply(404, "MANIFEST_UNKNOWN", "unknown")),
         ("reference_not_found",), 2, ("pull", "inspect")),
    Case("manifest-500", s_manifest(error_reply(500, "INTERNAL", "boom")), ("registry_error",),
         2),
    Case("error-message-control-chars", s_manifest(error_reply(500, "X\x1b[31m",
         "\x1b]0;pwned\x07" * 50)), ("registry_error",), 2),
    Case("tags-not-json", s_tags(Reply(200, {}, b"<html>")), ("registry_error",), 2, ("list",)),
    Case("tags-wrong-types", s_tags(_tags_body([1, {"a": 2}])), ("registry_error",), 2,
         ("list",)),
    Case("tags-100k-deep", s_tags(Reply(200, {}, DEEP)), ("registry_error",), 2, ("list",)),
    Case("tags-is-a-string", s_tags(_tags_body("v1.2.3")), ("registry_error",), 2, ("list",)),
    # malicious mirrors: transport garbage
    Case("connection-dropped", s_all(Reply(drop=True)), ("registry_unreachable",
         "registry_timeout"), 2, ("pull", "list"), timeout=SHORT),
    Case("garbage-status-line", s_all(Reply(raw=b"HTTP/9 lol\r\n\r\n")),
         ("registry_unreachable", "registry_timeout"), 2, ("pull", "list"), timeout=SHORT),
    Case("header-bomb", s_all(Reply(headers={f"X-{i}": "y" for i in range(500)})),
         ("registry_unreachable", "registry_timeout"), 2, ("pull",), timeout=SHORT),
    Case("redirect-loop", s_redirect_loop, ("registry_error",), 2, ("pull", "inspect")),
    # credentials
    Case("token-realm-plain-http-remote", s_realm("http://203.0.113.7/token"),
         ("registry_realm_refused",), 2, ("pull", "inspect", "list")),
    Case("token-realm-file-url", s_realm("file:///etc/passwd"), ("registry_realm_refused",), 2,
         ("pull", "list")),
    Case("token-realm-javascript", s_realm("javascript:alert(1)"), ("registry_realm_refused",),
         2, ("pull",)),
    Case("token-realm-userinfo", s_realm(f"http://{USER}:{PASSWORD}@203.0.113.7/t"),
         ("registry_realm_refused",), 2, ("pull",)),
    Case("auth-echo-403", s_auth_echo(403), ("registry_auth_failed",), 2,
         ("pull", "inspect", "list")),
    Case("auth-echo-400", s_auth_echo(400), ("registry_error",), 2, ("pull", "inspect", "list")),
    Case("auth-echo-500", s_auth_echo(500), ("registry_error",), 2, ("pull", "list")),
    Case("basic-echo-400", s_basic_echo, ("registry_error",), 2, ("pull", "inspect", "list")),
    Case("basic-401-loop", s_always_401('Basic realm="x"'), ("registry_auth_failed",), 2,
         ("pull", "list")),
    Case("bearer-401-loop", s_bearer_401_loop, ("registry_auth_failed",), 2, ("pull", "list")),
    Case("token-not-json", s_token(Reply(200, {}, b"tok")), ("registry_auth_failed",), 2,
         ("pull",)),
    Case("token-100k-deep", s_token(Reply(200, {}, DEEP)), ("registry_auth_failed",), 2,
         ("pull",)),
    Case("token-with-newline", s_token(Reply(200, {}, b'{"token":"a\\r\\nX-Evil: 1"}')),
         ("registry_auth_failed",), 2, ("pull",)),
    Case("token-refused-echo", s_token(error_reply(401, "DENIED", f"password={PASSWORD}")),
         ("registry_auth_failed",), 2, ("pull", "list")),
    # referrers
    Case("referrers-2000", s_referrers_api(_many_referrers), ("registry_limit_exceeded",), 2,
         ("inspect",)),
    Case("referrers-5MB", s_referrers_api(lambda r: Reply(200, {"Content-Type":
         "application/json"}, BIG_JSON)), ("pull_too_large",), 1, ("inspect",)),
    Case("referrers-not-an-index", s_referrers_api(lambda r: Reply(200, {"Content-Type":
         "application/json"}, b'{"manifests": 3}')), ("artifact_manifest_invalid",), 1,
         ("inspect",)),
    Case("referrers-slow", s_referrers_api(lambda r: Reply(200, {"Content-Type":
         "application/json"}, itertools.repeat(b" "), 1.0, None)), ("registry_timeout",), 2,
         ("inspect",), timeout=SHORT),
]  # fmt: skip

CLI_CASES = [
    pytest.param(
        case,
        command,
        id=f"{case.name}-{command}",
        marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
    )
    for case in CASES
    for command in case.commands
]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _assert_clean(text: str) -> None:
    assert "Traceback" not in text
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked"
    assert "\x1b" not in text and "\x07" not in text


EXIT = {
    "pull_digest_mismatch": 1, "pull_too_large": 1, "artifact_manifest_invalid": 1,
    "blob_not_found": 1, "manifest_unsupported": 2, "artifact_not_floe": 2,
    "reference_not_found": 2, "registry_timeout": 2, "registry_unavailable": 2,
    "registry_unreachable": 2, "registry_error": 2, "registry_limit_exceeded": 2,
    "registry_auth_failed": 2, "registry_realm_refused": 2,
}  # fmt: skip


def _run(command: str, reg: HostileRegistry, out: Path, timeout: str, *extra: str) -> FloeResult:
    if command == "pull":
        args = ["platform", "pull", reg.ref(REPO, TAG), "--out", str(out), "--no-require-signed"]
    elif command == "inspect":
        args = ["platform", "inspect", reg.ref(REPO, TAG)]
    else:
        args = ["platform", "list", reg.ref(REPO)]
    return run_floe(*args, "--timeout", timeout, *extra, env=ENV)


def test_catalogue_is_large_and_consistent() -> None:
    assert len(CLI_CASES) + len(LIB_CASES) >= 100
    for case in CASES:
        assert EXIT[case.slugs[0]] == case.exit_code, case.name


@pytest.mark.parametrize(("case", "command"), CLI_CASES)
def test_cli_against_hostile_registry(
    case: Case, command: str, reg: HostileRegistry, tmp_path: Path
) -> None:
    case.setup(reg)
    parent = tmp_path / "outs"
    parent.mkdir()
    home = Path(os.environ["HOME"])
    before = _files(home)
    result = _run(command, reg, parent / "platform", case.timeout)
    _assert_clean(result.output)
    found = [s for s in case.slugs if f"error[{s}]" in result.stderr]
    assert found, f"expected one of {case.slugs}, got: {result.output[-600:]}"
    assert result.exit_code == EXIT[found[0]]
    assert _files(parent) == [], "something was written next to --out"
    assert _files(home) == before, "the home folder or a cache changed"


# --------------------------------------------------------------------------- library


def _target(reg: HostileRegistry, timeout: float = 5.0) -> RemoteTarget:
    options = RegistryOptions(username=USER, password=PASSWORD, timeout=timeout)
    return RemoteTarget(reg.host, REPO, options)


def _resolve(target: RemoteTarget, reg: HostileRegistry) -> object:
    return target.resolve(TAG)


def _fetch_manifest(target: RemoteTarget, reg: HostileRegistry) -> object:
    digest, data = _manifest(reg)
    return target.fetch_bytes(Descriptor("application/vnd.oci.image.manifest.v1+json", digest,
                                         len(data)))  # fmt: skip


def _fetch_layer(target: RemoteTarget, reg: HostileRegistry) -> object:
    digest, size = _layer(reg)
    with target.fetch(Descriptor("application/octet-stream", digest, size)) as stream:
        return stream.read()


def _tags(target: RemoteTarget, reg: HostileRegistry) -> object:
    return target.tags()


def _referrers(target: RemoteTarget, reg: HostileRegistry) -> object:
    digest, data = _manifest(reg)
    subject = Descriptor("application/vnd.oci.image.manifest.v1+json", digest, len(data))
    return target.referrers(subject)


LIB_OPS = {
    "pull": (_resolve, _fetch_layer),
    "inspect": (_resolve, _fetch_manifest),
    "list": (_tags,),
}
LIB_CASES = [
    pytest.param(case, op, id=f"{case.name}-lib-{op.__name__.strip('_')}")
    for case in CASES
    for op in dict.fromkeys(o for c in case.commands for o in LIB_OPS[c])
    if not (case.name.startswith(("config-", "referrers-")))
] + [
    pytest.param(case, _referrers, id=f"{case.name}-lib-referrers")
    for case in CASES
    if case.name.startswith("referrers-")
]


@pytest.mark.parametrize(("case", "op"), LIB_CASES)
def test_library_against_hostile_registry(
    case: Case, op: Callable[[RemoteTarget, HostileRegistry], object], reg: HostileRegistry
) -> None:
    """The library call either succeeds (the case targets another request) or fails with
    one of the case's slugs; never another exception, never a leaked secret."""
    case.setup(reg)
    target = _target(reg, float(case.timeout))
    try:
        op(target, reg)
    except FloeError as exc:
        text = exc.one_line() + json.dumps(exc.to_json())
        _assert_clean(text)
        # Fetched by digest, any other bytes are a digest mismatch first.
        allowed = case.slugs + (("pull_digest_mismatch",) if op is _fetch_manifest else ())
        assert exc.slug in allowed, text
        assert exc.exit_code == EXIT[exc.slug]
        return
    finally:
        target.close()
    assert op is not _tags or "list" not in case.commands, "a tag-list case succeeded"


def test_library_endless_referrer_chain_stops(reg: HostileRegistry) -> None:
    s_endless_referrers(reg)
    target = _target(reg)
    digest, data = _manifest(reg)
    subject = Descriptor("application/vnd.oci.image.manifest.v1+json", digest, len(data))
    depth = 0
    with pytest.raises(FloeError) as excinfo:
        while True:  # walk down as a graph copy does
            (subject,) = target.referrers(subject)
            depth += 1
    assert excinfo.value.slug == "registry_limit_exceeded"
    assert depth == 8


def test_redirect_to_another_host_drops_credentials(
    reg: HostileRegistry, other_host: HostileRegistry, tmp_path: Path
) -> None:
    _basic_auth(reg)
    digest, data = _manifest(reg)
    other_host.manifests[digest] = data
    other_host.tags[TAG] = digest
    location = f"{other_host.url}/v2/{REPO}/manifests/{TAG}"

    def answer(req: Request) -> Reply | None:
        return Reply(307, {"Location": location}) if "Authorization" in req.headers else None

    reg.script("GET", rf"/manifests/{TAG}$", answer)
    result = _run("inspect", reg, tmp_path / "out", "5")
    assert result.exit_code == 0, result.output
    assert reg.seen("GET", f"/manifests/{TAG}")[-1].headers.get("Authorization")
    assert other_host.seen("GET", "/manifests/"), "the redirect was not followed"
    assert all("Authorization" not in r.headers for r in other_host.requests)


def test_realm_on_another_host_gets_no_credentials(
    reg: HostileRegistry, other_host: HostileRegistry, tmp_path: Path
) -> None:
    _bearer(reg, _token_server(other_host))
    result = _run("list", reg, tmp_path / "out", "5")
    assert other_host.seen("GET", "/token"), "the realm was not asked"
    assert all("Authorization" not in r.headers for r in other_host.requests)
    _assert_clean(result.output)
    assert result.exit_code == 0  # the anonymous token was good enough


def test_realm_on_another_host_gets_its_own_docker_credentials(
    reg: HostileRegistry, other_host: HostileRegistry, tmp_path: Path
) -> None:
    config = Path(os.environ["HOME"]) / ".docker" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    realm_auth = base64.b64encode(b"realm-user:realm-pw-Secret").decode()
    config.write_text(json.dumps({"auths": {other_host.host: {"auth": realm_auth}}}))
    _bearer(reg, _token_server(other_host))
    result = _run("list", reg, tmp_path / "out", "5")
    assert result.exit_code == 0, result.output
    sent = {r.headers.get("Authorization") for r in other_host.seen("GET", "/token")}
    assert sent == {f"Basic {realm_auth}"}  # the realm's own, never the registry's


def test_json_errors_keep_registry_codes_and_no_secret(reg: HostileRegistry) -> None:
    s_auth_echo(403)(reg)
    result = run_floe("platform", "inspect", reg.ref(REPO, TAG), "--format", "json", env=ENV)
    _assert_clean(result.output)
    doc = json.loads(result.stdout)
    assert doc["event"] == "registry_auth_failed" and result.exit_code == 2
    assert doc["registry_codes"] == ["DENIED", "UNAUTHORIZED"]
    assert doc["http_status"] == 403


def test_404_keeps_manifest_unknown_as_data(reg: HostileRegistry) -> None:
    target = _target(reg)
    with pytest.raises(FloeError) as excinfo:
        target.resolve("v9.9.9")
    assert excinfo.value.slug == "reference_not_found"
    assert excinfo.value.details["registry_codes"] == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize(
    "setup",
    [s_manifest(_slow()), s_layer(lambda r, d, n: _slow(b"a")), s_token(_slow()),
     s_all(error_reply(503, "UNAVAILABLE", "busy")), s_manifest(Reply(delay=60))],
    ids=["slow-manifest", "slow-layer", "slow-token", "503-storm", "stalled"],
)  # fmt: skip
def test_subprocess_never_hangs(setup: Setup, reg: HostileRegistry, tmp_path: Path) -> None:
    """The real console entry in a child process ends before subprocess.run's own limit."""
    import subprocess
    import sys

    setup(reg)
    (tmp_path / "outs").mkdir()
    env = {**os.environ, **ENV, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "floe.cli.main", "platform", "pull", reg.ref(REPO, TAG),
         "--out", str(tmp_path / "outs" / "p"), "--no-require-signed", "--timeout", "2"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    _assert_clean(proc.stdout + proc.stderr)
    assert proc.returncode == 2
    assert "error[registry_timeout]" in proc.stderr or "error[registry_unavailable]" in (
        proc.stderr
    )
    assert _files(tmp_path / "outs") == []
