"""Fault injection between floe and a real registry: retries, resumes, clear failures.

Each test asserts the outcome (correct bytes, or a clear error slug), never a time.
"""

from __future__ import annotations

import email.utils
import io
import os
import time
from collections.abc import Callable

import pytest
from registry_fixtures import FaultProxy, Registry

from floe.errors import FloeError
from floe.oci.options import RegistryOptions
from floe.oci.remote import RemoteTarget
from floe.oci.target import EMPTY_DIGEST, EMPTY_JSON, OCI_EMPTY, OCI_MANIFEST, Descriptor
from floe.oci.target import canonical_json as cj

ProxyFactory = Callable[..., FaultProxy]
PAYLOAD = os.urandom(256 * 1024)
LAYER = Descriptor.for_bytes("application/octet-stream", PAYLOAD)


def _options(**overrides: object) -> RegistryOptions:
    values: dict[str, object] = {"retry_budget_seconds": 6.0, "timeout_seconds": 2.0}
    values.update(overrides)
    return RegistryOptions(**values)  # type: ignore[arg-type]


def _publish(target: RemoteTarget) -> Descriptor:
    target.push(LAYER, io.BytesIO(PAYLOAD))
    target.push(Descriptor.for_bytes(OCI_EMPTY, EMPTY_JSON), io.BytesIO(EMPTY_JSON))
    data = cj(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
            "layers": [LAYER.to_json()],
        }
    )
    desc = Descriptor.for_bytes(OCI_MANIFEST, data)
    target.push_manifest(desc, data, "v1")
    return desc


def _slug(call: Callable[[], object]) -> str:
    with pytest.raises(FloeError) as excinfo:
        call()
    return excinfo.value.slug


@pytest.fixture
def published(registry: Registry, repo_name: str) -> str:
    _publish(RemoteTarget(registry.host, repo_name))
    return repo_name


def test_connection_reset_is_retried(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("reset", method="GET", path="/blobs/", times=2)
    target = RemoteTarget(proxy.host, published, _options())
    assert target.fetch_bytes(LAYER, max_size=1 << 20) == PAYLOAD
    assert proxy.count("GET", "/blobs/") == 3


def test_reset_during_upload_restarts_the_upload(
    fault_proxy: ProxyFactory, registry: Registry, repo_name: str
) -> None:
    proxy = fault_proxy()
    proxy.inject("reset", method="PUT", path="/blobs/uploads/")
    _publish(RemoteTarget(proxy.host, repo_name, _options()))
    assert proxy.count("POST", "/blobs/uploads/") == 3  # layer twice, config once
    with RemoteTarget(registry.host, repo_name).fetch(LAYER) as stream:
        assert stream.read() == PAYLOAD


def test_503_with_retry_after_is_honoured(
    fault_proxy: ProxyFactory, registry: Registry, repo_name: str
) -> None:
    proxy = fault_proxy()
    proxy.inject("status", status=503, retry_after="1", method="POST", times=2)
    desc = _publish(RemoteTarget(proxy.host, repo_name, _options()))
    assert proxy.count("POST") == 4
    assert RemoteTarget(registry.host, repo_name).resolve("v1") == desc


def test_429_with_http_date_is_retried(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    when = email.utils.formatdate(time.time() + 1, usegmt=True)
    proxy.inject("status", status=429, retry_after=when, path="/manifests/v1")
    desc = RemoteTarget(proxy.host, published, _options()).resolve("v1")
    assert desc.media_type == OCI_MANIFEST
    assert proxy.count("GET", "/manifests/v1") == 2


def test_persistent_503_fails_within_the_budget(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("status", status=503, retry_after="1", times=-1)
    target = RemoteTarget(proxy.host, published, _options(retry_budget_seconds=2.0))
    assert _slug(lambda: target.resolve("v1")) == "registry_unavailable"
    assert 2 <= proxy.count() <= 4


def test_other_4xx_are_not_retried(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("status", status=400, path="/tags/list")
    target = RemoteTarget(proxy.host, published, _options())
    assert _slug(target.tags) == "registry_error"
    assert proxy.count("GET", "/tags/list") == 1


def test_truncated_blob_is_resumed(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("truncate", method="GET", path="/blobs/")
    with RemoteTarget(proxy.host, published, _options()).fetch(LAYER) as stream:
        assert stream.read() == PAYLOAD
    assert proxy.count("GET", "/blobs/") == 2


def test_truncated_manifest_is_fetched_again(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("truncate", method="GET", path="/manifests/")
    target = RemoteTarget(proxy.host, published, _options())
    desc = target.resolve("v1")
    assert target.fetch_bytes(desc).startswith(b"{")
    assert proxy.count("GET", "/manifests/") == 2


def test_always_truncated_blob_fails_loudly(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("truncate", method="GET", path="/blobs/", times=-1)
    target = RemoteTarget(proxy.host, published, _options(retry_budget_seconds=1.5))
    received: list[bytes] = []

    def read_all() -> None:
        with target.fetch(LAYER) as stream:
            received.append(stream.read())

    assert _slug(read_all) in ("registry_unreachable", "pull_digest_mismatch")
    assert received == []


def test_slow_response_is_retried(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("slow", delay=3.0, path="/manifests/v1")
    target = RemoteTarget(proxy.host, published, _options(timeout_seconds=1.0))
    assert target.resolve("v1").media_type == OCI_MANIFEST
    assert proxy.count("GET", "/manifests/v1") == 2


def test_always_slow_fails_with_a_timeout(fault_proxy: ProxyFactory, published: str) -> None:
    proxy = fault_proxy()
    proxy.inject("slow", delay=3.0, times=-1)
    target = RemoteTarget(
        proxy.host, published, _options(timeout_seconds=1.0, retry_budget_seconds=1.5)
    )
    with pytest.raises(FloeError) as excinfo:
        target.resolve("v1")
    assert excinfo.value.slug == "registry_unreachable"
    assert "timed out" in excinfo.value.message


@pytest.mark.parametrize("delay", [30.0, 3.0])
def test_cli_through_faults_ends_within_its_deadline(
    fault_proxy: ProxyFactory, published: str, delay: float
) -> None:
    """Stalls on every request: the real console entry ends (no hang) with the deadline slug."""
    import subprocess
    import sys
    from pathlib import Path

    proxy = fault_proxy()
    proxy.inject("slow", delay=delay, times=-1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "floe.cli.main", "platform", "list", proxy.ref(published),
         "--timeout", "2"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "error[registry_timeout]" in proc.stderr
    assert "Traceback" not in proc.stderr
