"""Sign a manifest digest both ways cosign understands, writing only through a Target.

1. the Sigstore bundle v0.3 referrer (DSSE over an in-toto statement), and
2. the legacy `sha256-<hex>.sig` simple-signing manifest (one layer per signature).

Signing twice with the same key is idempotent: ECDSA is deterministic (RFC 6979),
so the same key over the same payload gives byte-identical signatures and the same
manifests. A different key adds a layer and a referrer; nothing is ever replaced.
"""

from __future__ import annotations

import base64
import io

from floe.oci.reference import Reference
from floe.oci.target import (
    ANNOTATION_COSIGN_SIGNATURE,
    EMPTY_JSON,
    MANIFEST_MEDIA_TYPES,
    OCI_MANIFEST,
    SIGSTORE_BUNDLE,
    Descriptor,
    Target,
)
from floe.signing import bundle, cosign_layout, dsse, lookup, simplesigning, wire
from floe.signing.keys import Signer


def sign_artifact(
    target: Target, manifest: Descriptor, signer: Signer, docker_reference: str
) -> list[Descriptor]:
    """Sign `manifest` with `signer`; returns the pushed [.sig manifest, bundle referrer]."""
    legacy = push_legacy_signature(target, manifest, signer, docker_reference)
    cosign_layout.mark_signed(target, manifest, legacy)
    statement = dsse.statement(docker_reference, manifest.digest, dsse.COSIGN_SIGN_PREDICATE, {})
    referrer = attach_dsse_bundle(target, manifest, signer, statement, dsse.COSIGN_SIGN_PREDICATE)
    return [legacy, referrer]


def attach_dsse_bundle(
    target: Target,
    manifest: Descriptor,
    signer: Signer,
    statement: bytes,
    predicate_type: str,
) -> Descriptor:
    """Sign an in-toto statement with DSSE and push the bundle as a referrer of `manifest`."""
    # Pure Ed25519 in bundles: sigstore bundle verifiers (sigstore-js, which the suite
    # runs) verify an Ed25519 key's DSSE signature as pure Ed25519.
    signature = signer.sign(dsse.pae(dsse.INTOTO_PAYLOAD_TYPE, statement), ed25519ph=False)
    envelope = dsse.Envelope(dsse.INTOTO_PAYLOAD_TYPE, statement, (signature,))
    raw = bundle.key_bundle(envelope, signer.hint)
    return push_bundle(target, manifest, raw, predicate_type)


def push_bundle(
    target: Target, manifest: Descriptor, raw_bundle: bytes, predicate_type: str | None
) -> Descriptor:
    """Push bundle bytes (key-signed or keyless) as a referrer whose subject is `manifest`."""
    layer = bundle.bundle_layer(raw_bundle)
    push_bytes(target, bundle.EMPTY_CONFIG, EMPTY_JSON)
    push_bytes(target, layer, raw_bundle)
    manifest_bytes = bundle.referrer_manifest(manifest, layer, predicate_type)
    annotations = {bundle.ANNOTATION_BUNDLE_CONTENT: "dsse-envelope"}
    if predicate_type:
        annotations[bundle.ANNOTATION_BUNDLE_PREDICATE] = predicate_type
    desc = Descriptor.for_bytes(
        OCI_MANIFEST, manifest_bytes, annotations, artifact_type=SIGSTORE_BUNDLE
    )
    push_bytes(target, desc, manifest_bytes)
    return desc


def push_legacy_signature(
    target: Target, manifest: Descriptor, signer: Signer, docker_reference: str
) -> Descriptor:
    """Add a layer to the `.sig` manifest (creating it if needed) and re-tag it."""
    payload = simplesigning.payload(docker_reference, manifest.digest)
    signature = base64.b64encode(signer.sign(payload)).decode()
    new_layer = simplesigning.signature_layer(payload, signature, signer.fingerprint)
    tag = simplesigning.signature_tag(manifest.digest)
    layers = existing_signature_layers(target, tag)
    if not any(_same_signature(layer, new_layer, signer.fingerprint) for layer in layers):
        push_bytes(target, new_layer, payload)
        layers.append(new_layer)
    config_bytes = simplesigning.image_config(layers)
    config = Descriptor.for_bytes(simplesigning.OCI_IMAGE_CONFIG, config_bytes)
    push_bytes(target, config, config_bytes)
    manifest_bytes = simplesigning.manifest(config, layers)
    desc = Descriptor.for_bytes(OCI_MANIFEST, manifest_bytes)
    push_bytes(target, desc, manifest_bytes)
    target.tag(desc, tag)
    return desc


def existing_signature_layers(target: Target, tag: str) -> list[Descriptor]:
    """Every layer of the current `.sig` manifest, kept as-is (other signers' layers too)."""
    current = lookup.resolve_if_present(target, tag)
    if current is None:
        return []
    what = "signature manifest"
    doc = wire.load_object(target.fetch_bytes(current), what)
    return wire.descriptors(doc, "layers", what)


def _same_signature(layer: Descriptor, new: Descriptor, fingerprint: str) -> bool:
    """Same payload and either the same signature bytes or the same signing key."""
    if layer.digest != new.digest:
        return False
    same_sig = layer.annotations.get(ANNOTATION_COSIGN_SIGNATURE) == new.annotations.get(
        ANNOTATION_COSIGN_SIGNATURE
    )
    same_key = layer.annotations.get(simplesigning.ANNOTATION_KEY_FINGERPRINT) == fingerprint
    return same_sig or same_key


def push_bytes(target: Target, desc: Descriptor, data: bytes) -> None:
    """Push unless present; manifests are always pushed (cheap, and lets the target
    record the referrer even when the bytes were already there)."""
    if desc.media_type in MANIFEST_MEDIA_TYPES or not target.exists(desc):
        target.push(desc, io.BytesIO(data))


def docker_reference_for(
    ref: Reference, signing_identity: str | None = None, ref_name: str | None = None
) -> str:
    """What a signature names: `HOST/REPO` (cosign's `ref.Context().Name()`).

    `signing_identity` (`--signing-identity`) wins; an OCI layout is never named by
    its path but by its entry's full `org.opencontainers.image.ref.name` (`ref_name`)
    or `localhost/<folder name>` (see floe.signing.cosign_layout).
    """
    if signing_identity:
        return cosign_layout.signing_identity(signing_identity)
    if ref.is_layout:
        return cosign_layout.layout_identity(ref.path, ref_name)
    return f"{ref.host}/{ref.repository}"


def sign_keyless(
    target: Target,
    manifest: Descriptor,
    docker_reference: str,
    identity_token: str | None = None,
) -> Descriptor:
    """Sign with a Fulcio certificate (sigstore-python) and push the bundle as a referrer."""
    from floe.signing import keyless

    statement = dsse.statement(docker_reference, manifest.digest, dsse.COSIGN_SIGN_PREDICATE, {})
    raw = keyless.sign_statement(statement, identity_token)
    return push_bundle(target, manifest, raw, dsse.COSIGN_SIGN_PREDICATE)
