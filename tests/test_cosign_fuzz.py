"""Seeded mutation fuzzer of signature documents: bundles, referrer manifests, `.sig`
manifests and simple-signing payloads, as a hostile registry would serve them.

Every case goes through the one trust decision (`floe.trust.decide`) and must end in
a Decision or a GateError with exit code 1 and a documented slug: never another
exception (no AttributeError on `layers: [1, "x", null]`, no RecursionError on deep
JSON). A mutated simple-signing payload is never accepted. 2,400 cases, seeded, so a
failure is reproducible from its case number.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from signing_helpers import new_signer, pem, publish_artifact

from floe.errors import GateError
from floe.oci.copy import StaticTarget
from floe.oci.layout import LayoutTarget
from floe.oci.target import OCI_MANIFEST, SIGSTORE_BUNDLE, Descriptor, canonical_json
from floe.signing import bundle, simplesigning
from floe.signing.sign import sign_artifact
from floe.signing.trust_policy import TrustPolicy
from floe.trust.decision import TrustRequest, decide

SEED = 20261201
CASES_PER_KIND = 400
DEEP_MARKER = "\x00deep\x00"
# signed_*: the trusted key signs the mutated document, so the parser behind the
# signature check (claims, in-toto statement) sees hostile shapes too.
KINDS = ("bundle", "referrer", "sig_manifest", "payload", "signed_payload", "signed_statement")
DOCUMENTED = set(
    re.findall(r"^\| `([a-z_]+)` \| 1 \|", (Path(__file__).parents[1] / "docs" / "errors.md")
               .read_text(), re.M)
)  # fmt: skip


class HostileTarget(StaticTarget):
    """Serves exactly the given blobs (digest-verified), one tag, a list of referrers."""

    def __init__(
        self, blobs: dict[str, bytes], tags: dict[str, Descriptor], referrers: list[Descriptor]
    ) -> None:
        super().__init__(dict(blobs), name="hostile registry")
        self._tags, self._referrers = tags, referrers

    def resolve(self, reference: str) -> Descriptor:
        if reference in self._tags:
            return self._tags[reference]
        return super().resolve(reference)

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        return [r for r in self._referrers if artifact_type in (None, r.artifact_type)]


class Originals:
    """A floe-signed artifact, taken apart into the documents a registry serves."""

    def __init__(self, tmp: Path) -> None:
        layout = LayoutTarget(tmp / "layout")
        self.manifest = publish_artifact(layout, "v1.0.0")
        self.signer = new_signer()
        sign_artifact(layout, self.manifest, self.signer, "registry.example/team/platform")
        self.blobs = {self.manifest.digest: layout.fetch_bytes(self.manifest)}
        sig = layout.resolve(simplesigning.signature_tag(self.manifest.digest))
        self.sig_manifest = layout.fetch_bytes(sig)
        layer = Descriptor.from_json(json.loads(self.sig_manifest)["layers"][0])
        self.sig_layer = layer
        self.payload = layout.fetch_bytes(layer)
        referrer = layout.referrers(self.manifest, SIGSTORE_BUNDLE)[0]
        self.referrer = layout.fetch_bytes(referrer)
        bundle_layer, _ = bundle.bundle_layer_of(self.referrer, self.manifest)
        self.bundle = layout.fetch_bytes(bundle_layer)
        self.statement = bundle.parse_bundle(self.bundle).envelope.payload  # type: ignore[union-attr]
        self.anchors = TrustPolicy(trusted_keys=[pem(self.signer)])


# ---- mutations --------------------------------------------------------------------------


def _palette(rng: random.Random) -> Any:
    deep: Any = []
    for _ in range(rng.choice([5, 40])):
        deep = [deep]
    return rng.choice([
        DEEP_MARKER,  # spliced in as 100,000-deep JSON after encoding
        None, True, 0, -1, 1 << 70, 1.5e308, "", "x", "A" * rng.choice([10, 100_000]),
        [], {}, [1, "x", None], {"a": 1}, {"digest": "sha256:" + "0" * 64}, deep,
        "sha256:" + "f" * 64, "@@@not base64@@@", "ZGF0YQ==",
    ])  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutate_json(doc: Any, rng: random.Random) -> Any:
    path = rng.choice(_paths(doc))
    if not path:
        return _palette(rng)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    action = rng.random()
    if action < 0.2 and isinstance(parent, dict):
        del parent[path[-1]]
    elif action < 0.3 and isinstance(parent, dict):
        parent[rng.choice(["extra", "annotations", "layers", "subject"])] = _palette(rng)
    else:
        parent[path[-1]] = _palette(rng)
    return doc


def mutate(data: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.25:  # byte level: truncate, flip, splice
        cut = rng.randrange(len(data) + 1)
        choice = rng.random()
        if choice < 0.4:
            return data[:cut]
        if choice < 0.7 and data:
            flipped = bytearray(data)
            flipped[min(cut, len(data) - 1)] ^= 1 << rng.randrange(8)
            return bytes(flipped)
        return data[:cut] + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
    doc = json.loads(data)
    for _ in range(rng.randint(1, 3)):
        doc = _mutate_json(doc, rng)
    deep = "[" * 100_000 + "]" * 100_000
    return json.dumps(doc).replace(json.dumps(DEEP_MARKER), deep).encode()


# ---- assembling a registry ----------------------------------------------------------------


def _add(blobs: dict[str, bytes], media_type: str, data: bytes, **kw: Any) -> Descriptor:
    desc = Descriptor.for_bytes(media_type, data, **kw)
    blobs[desc.digest] = data
    return desc


def _signed_bundle(o: Originals, statement: bytes) -> bytes:
    from floe.signing import dsse

    signature = o.signer.sign(dsse.pae(dsse.INTOTO_PAYLOAD_TYPE, statement), ed25519ph=False)
    envelope = dsse.Envelope(dsse.INTOTO_PAYLOAD_TYPE, statement, (signature,))
    return bundle.key_bundle(envelope, o.signer.hint)


def serve(o: Originals, kind: str, mutated: bytes) -> HostileTarget:
    if kind == "signed_statement":
        return serve(o, "bundle", _signed_bundle(o, mutated))
    if kind == "signed_payload":
        return _serve_sig(o, mutated, resign=True)
    blobs = dict(o.blobs)
    tags: dict[str, Descriptor] = {}
    referrers: list[Descriptor] = []
    if kind in ("bundle", "referrer"):
        raw_bundle = mutated if kind == "bundle" else o.bundle
        layer = _add(blobs, SIGSTORE_BUNDLE, raw_bundle)
        _add(blobs, bundle.EMPTY_CONFIG.media_type, b"{}")
        manifest = (
            mutated if kind == "referrer" else bundle.referrer_manifest(o.manifest, layer, None)
        )
        referrers.append(_add(blobs, OCI_MANIFEST, manifest, artifact_type=SIGSTORE_BUNDLE))
        return HostileTarget(blobs, tags, referrers)
    if kind == "payload":
        return _serve_sig(o, mutated, resign=False)
    tags[simplesigning.signature_tag(o.manifest.digest)] = _add(blobs, OCI_MANIFEST, mutated)
    return HostileTarget(blobs, tags, referrers)


def _serve_sig(o: Originals, payload: bytes, *, resign: bool) -> HostileTarget:
    """A `.sig` manifest whose one layer is `payload` (signed again when `resign`)."""
    import base64

    blobs = dict(o.blobs)
    annotations = dict(o.sig_layer.annotations)
    if resign:
        signature = base64.b64encode(o.signer.sign(payload)).decode()
        annotations["dev.cosignproject.cosign/signature"] = signature
    layer = _add(blobs, o.sig_layer.media_type, payload, annotations=annotations)
    doc = json.loads(o.sig_manifest)
    doc["layers"] = [layer.to_json()]
    manifest = _add(blobs, OCI_MANIFEST, canonical_json(doc))
    return HostileTarget(blobs, {simplesigning.signature_tag(o.manifest.digest): manifest}, [])


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    return Originals(tmp_path_factory.mktemp("fuzz"))


def test_the_unmutated_documents_pass(originals: Originals) -> None:
    for kind, data in (("bundle", originals.bundle), ("payload", originals.payload)):
        target = serve(originals, kind, data)
        assert decide(target, originals.manifest, TrustRequest(project=originals.anchors)).report.ok


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_signature_documents_end_in_a_slug(originals: Originals, kind: str) -> None:
    rng = random.Random(f"{SEED}-{kind}")
    source = {
        "bundle": originals.bundle,
        "referrer": originals.referrer,
        "sig_manifest": originals.sig_manifest,
        "payload": originals.payload,
        "signed_payload": originals.payload,
        "signed_statement": originals.statement,
    }[kind]
    outcomes: dict[str, int] = {}
    for case in range(CASES_PER_KIND):
        mutated = mutate(source, rng)
        target = serve(originals, kind, mutated)
        request = TrustRequest(project=originals.anchors)
        try:
            decision = decide(target, originals.manifest, request)
        except GateError as exc:
            assert exc.exit_code == 1, (case, exc.slug, exc.message)
            assert exc.slug in DOCUMENTED, (case, exc.slug)
            outcomes[exc.slug] = outcomes.get(exc.slug, 0) + 1
            continue
        except Exception as exc:  # the property under test: nothing else escapes
            pytest.fail(f"{kind} case {case}: {type(exc).__name__}: {exc} <- {mutated[:200]!r}")
        outcomes["accepted"] = outcomes.get("accepted", 0) + 1
        if kind == "payload":
            assert json.loads(mutated) == json.loads(originals.payload), case
        assert decision.report.ok
    assert sum(outcomes.values()) == CASES_PER_KIND
    if kind == "payload":  # nobody can sign a changed payload
        assert "accepted" not in outcomes, outcomes
    else:  # the fuzzer reached past the JSON parser into the checks
        assert len(outcomes) >= 2, outcomes


# ---- the same documents through the CLI, from an OCI layout ---------------------------


def _layout_with(o: Originals, root: Path, kind: str, mutated: bytes) -> None:
    """A layout holding the artifact and one (mutated) signature document, written as
    files: a hostile layout need not have been written by floe."""
    hostile = serve(o, kind, mutated)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for digest, data in hostile._blobs.items():
        (blobs / digest.split(":")[1]).write_bytes(data)
    target = LayoutTarget(root)
    target.tag(o.manifest, "v1.0.0")
    for tag, desc in hostile._tags.items():
        target.tag(desc, tag)
    for referrer in hostile._referrers:
        target.annotate(referrer, {})


@pytest.mark.parametrize("kind", ["bundle", "sig_manifest"])
def test_cli_verify_of_mutated_documents_exits_1_with_a_slug(
    originals: Originals, kind: str, tmp_path: Path
) -> None:
    from conftest import run_floe

    pub = tmp_path / "cosign.pub"
    pub.write_text(pem(originals.signer))
    rng = random.Random(f"{SEED}-cli-{kind}")
    source = originals.bundle if kind == "bundle" else originals.sig_manifest
    for case in range(60):
        root = tmp_path / f"{kind}-{case}"
        _layout_with(originals, root, kind, mutate(source, rng))
        ref = f"oci-layout://{root}@{originals.manifest.digest}"
        result = run_floe("platform", "verify", ref, "--key", str(pub), "--format", "json")
        assert "Traceback" not in result.output and "internal_error" not in result.output, case
        assert result.exit_code in (0, 1), (case, result.output)
        if result.exit_code == 1:
            event = json.loads(result.stdout)["event"]
            assert event in DOCUMENTED, (case, event)
