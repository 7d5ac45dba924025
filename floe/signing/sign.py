"""Sign a manifest digest both ways cosign understands, writing only through a Target.

1. the Sigstore bundle v0.3 referrer (DSSE over an in-toto statement), and
2. the legacy `sha256-<hex>.sig` simple-signing manifest (one layer per signature).

Signing twice with the same key is idempotent: ECDSA is deterministic (RFC 6979),
so the same key over the same payload gives byte-identical signatures and the same
manifests. A different key adds a layer and a referrer; nothing is ever replaced.

`key_signer` defers decrypting a `cosign.key` while its public half is known from the
`cosign.pub` beside it; `signed_by` tells whether both signatures of that key are
already there and verify, so a re-publish signs nothing and asks for no password.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from floe.errors import UsageError
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
from floe.signing.keys import (
    PublicKey,
    Signer,
    fingerprint,
    key_hint,
    load_public_key,
    load_signer,
    public_key_pem,
)


class KeyFileSigner(Signer):
    """A `cosign.key` decrypted (password from FLOE_SIGNING_PASSWORD or a prompt) only
    when it signs; its public half, fingerprint and hint come from its `cosign.pub`."""

    key_path: Path
    _public: PublicKey
    _loaded: Signer | None

    def __init__(self, key_path: Path, public_key: PublicKey) -> None:
        object.__setattr__(self, "key_path", key_path)
        object.__setattr__(self, "_public", public_key)
        object.__setattr__(self, "_loaded", None)

    @property
    def private_key(self) -> Any:  # the Signer field, decrypted on first use
        return self.unlock().private_key

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._public)

    @property
    def hint(self) -> str:
        return key_hint(self._public)

    @property
    def unlocked(self) -> bool:
        return self._loaded is not None

    def unlock(self) -> Signer:
        """Decrypt the key now (once); refused when it is not the `.pub`'s pair."""
        loaded: Signer | None = self._loaded
        if loaded is None:
            loaded = load_signer(self.key_path)
            if loaded.fingerprint != self.fingerprint:
                raise UsageError(
                    "signing_key_pair_mismatch",
                    f"{self.key_path} is not the private half of "
                    f"{self.key_path.with_suffix('.pub')} ({self.fingerprint})",
                    hint="keep the cosign.pub written with the key by `floe platform keygen` "
                    "beside it, or remove the stale .pub",
                )
            object.__setattr__(self, "_loaded", loaded)
        return loaded

    def sign(self, data: bytes, *, ed25519ph: bool = True) -> bytes:
        return self.unlock().sign(data, ed25519ph=ed25519ph)

    def __repr__(self) -> str:
        return f"KeyFileSigner({str(self.key_path)!r}, {self.fingerprint})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyFileSigner) and other.key_path == self.key_path

    def __hash__(self) -> int:
        return hash(self.key_path)


def key_signer(key_path: Path) -> Signer:
    """The signer of `key_path`: deferred (`KeyFileSigner`) when the `.pub` written
    beside a `.key` reads as a public key, else decrypted now (`load_signer`)."""
    pub = key_path.with_suffix(".pub")
    if key_path.suffix != ".key" or not key_path.is_file():
        return load_signer(key_path)  # its errors (a missing key) as before
    try:
        public = load_public_key(pub.read_bytes(), str(pub))
    except (OSError, UsageError):
        return load_signer(key_path)
    return KeyFileSigner(key_path, public)


def unlock(signer: Signer) -> None:
    """Decrypt a deferred signer now (before anything is pushed); no-op otherwise."""
    if isinstance(signer, KeyFileSigner):
        signer.unlock()


def signed_by(target: Target, manifest: Descriptor, signer: Signer) -> list[str] | None:
    """Digests of the [.sig manifest, bundle referrer] `sign_artifact` would push for
    `signer`, when both are on `target` already and verify with its public key (the
    key's own public half: nothing is decrypted); else None."""
    from floe.signing.trust_policy import TrustPolicy
    from floe.signing.verify import BUNDLE, LEGACY, check_artifact

    pem = public_key_pem(signer.public_key).decode()
    policy = TrustPolicy(trusted_keys=[pem])
    report = check_artifact(target, manifest, policy, sigstore_network=False)
    fp = signer.fingerprint
    found: dict[str, str] = {}
    for check in report.signatures:
        if check.passed and check.signer == fp and check.format in (LEGACY, BUNDLE):
            found.setdefault(check.format, check.source)
    if set(found) != {LEGACY, BUNDLE}:
        return None
    return [found[LEGACY], found[BUNDLE]]


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
