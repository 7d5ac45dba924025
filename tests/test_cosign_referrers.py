"""A referrers index that lost `artifactType` (skopeo 1.9 mirrors it that way), on a real
registry: floe reads the referrer manifests and still finds and verifies the bundle."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from signing_helpers import new_signer, pem, publish_artifact

from floe.oci.remote import RemoteTarget
from floe.oci.target import OCI_INDEX, SIGSTORE_BUNDLE, Descriptor, canonical_json
from floe.signing.sign import sign_artifact
from floe.signing.trust_policy import TrustPolicy
from floe.signing.verify import bundle_referrers
from floe.trust import TrustRequest, decide

pytestmark = pytest.mark.registry


def test_untyped_referrer_entries_on_a_registry(registry: Any, repo_name: str) -> None:
    target = RemoteTarget(registry.host, repo_name, registry.options())
    manifest = publish_artifact(target, "v1.0.0")
    signer = new_signer()
    sign_artifact(target, manifest, signer, f"{registry.host}/{repo_name}")
    fallback = target.fallback_tag(manifest)
    index = json.loads(target.fetch_bytes(target.resolve(fallback)))
    assert any(m.get("artifactType") == SIGSTORE_BUNDLE for m in index["manifests"])
    for entry in index["manifests"]:  # what the mirror wrote
        entry.pop("artifactType", None)
        entry.pop("annotations", None)
    data = canonical_json(index)
    desc = Descriptor.for_bytes(OCI_INDEX, data)
    target.push(desc, io.BytesIO(data))
    target.tag(desc, fallback)
    target.close()

    fresh = RemoteTarget(registry.host, repo_name, registry.options())
    try:
        listed = fresh.referrers(manifest)
        assert listed and all(d.artifact_type is None for d in listed)  # the untyped path
        assert fresh.referrers(manifest, SIGSTORE_BUNDLE) == []  # a type filter sees nothing
        found = bundle_referrers(fresh, manifest)
        assert [d.artifact_type for d in found] == [SIGSTORE_BUNDLE]
        decision = decide(
            fresh, manifest, TrustRequest(project=TrustPolicy(trusted_keys=[pem(signer)]))
        )
        passed = {s.format for s in decision.report.signatures if s.passed}
        assert passed == {"legacy", "bundle"}
    finally:
        fresh.close()
