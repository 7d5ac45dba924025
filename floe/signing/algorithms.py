"""cosign's rules per key type: which keys it accepts, and how each one signs.

| key            | cosign                     | signature                       |
|----------------|----------------------------|---------------------------------|
| ECDSA P-256    | accepted                   | ECDSA with SHA-256              |
| ECDSA P-384    | accepted                   | ECDSA with SHA-384              |
| ECDSA P-521    | accepted                   | ECDSA with SHA-512              |
| ECDSA P-224    | refused ("not allowed")    |                                 |
| other curves   | refused (Go cannot parse)  |                                 |
| RSA 2048-4096  | accepted                   | PKCS#1 v1.5 with SHA-256        |
| RSA < 2048 or > 4096 | refused ("key size not supported") |                   |
| Ed25519        | accepted                   | Ed25519ph by default (pure too) |

The refusal messages are cosign's own (sigstore's key validation), so a user who reads
them can look them up. A signature that verifies only with another hash or scheme
than cosign's for that key is reported as an algorithm mismatch, never as "altered".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from floe.errors import UsageError

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096

# cryptography's curve name -> the name Go (and so cosign's messages) use.
GO_CURVE_NAMES = {
    "secp224r1": "P-224",
    "secp256r1": "P-256",
    "secp384r1": "P-384",
    "secp521r1": "P-521",
}
CURVE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_ALL_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)
_HASH_NAMES: dict[type[hashes.HashAlgorithm], str] = {
    hashes.SHA256: "SHA-256",
    hashes.SHA384: "SHA-384",
    hashes.SHA512: "SHA-512",
}
UNSUPPORTED_HINT = (
    "cosign accepts ECDSA P-256/P-384/P-521, RSA 2048-4096 bits and Ed25519 keys; "
    "generate one with `floe platform keygen`"
)


def _unsupported(message: str) -> UsageError:
    return UsageError("signing_key_unsupported", message, hint=UNSUPPORTED_HINT)


def validate_key(key: object) -> None:
    """Raise cosign's refusal (`signing_key_unsupported`) unless cosign accepts `key`."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = key.curve.name
        if name not in GO_CURVE_NAMES:
            raise _unsupported(
                f"error parsing ecdsa private key: curve {name} is not one cosign can parse"
            )
        if name not in CURVE_HASHES:
            raise _unsupported(
                f"error validating ecdsa key: ECDSA curve {GO_CURVE_NAMES[name]} not allowed"
            )
        return
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise _unsupported(f"error validating rsa key: key size not supported: {key.key_size}")
        return
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return
    raise _unsupported(f"unsupported private key (type {type(key).__name__})")


def algorithm_name(key: PublicKey) -> str:
    """How floe names the signature scheme of `key` (as in docs/signing.md)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        hash_name = _hash_name(CURVE_HASHES[key.curve.name])
        return f"ECDSA {GO_CURVE_NAMES[key.curve.name]} with {hash_name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size} PKCS#1 v1.5 with SHA-256"
    return "Ed25519"


# ---- signing ----------------------------------------------------------------------


def sign(key: PrivateKey, data: bytes, *, ed25519ph: bool = True) -> bytes:
    """Sign as cosign does. ECDSA is deterministic (RFC 6979) so re-signing is idempotent."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = CURVE_HASHES[key.curve.name]()
        return key.sign(data, ec.ECDSA(algorithm, deterministic_signing=True))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if ed25519ph:
        return ed25519ph_sign(key, data)
    return key.sign(data)


def ed25519ph_sign(key: ed25519.Ed25519PrivateKey, data: bytes) -> bytes:
    """RFC 8032 Ed25519ph (empty context) over SHA-512(data), as Go's ed25519 with
    `Options{Hash: crypto.SHA512}` and sigstore's ED25519phSigner make it."""
    from nacl import bindings

    _, secret = bindings.crypto_sign_seed_keypair(key.private_bytes_raw())
    state = bindings.crypto_sign_ed25519ph_state()
    bindings.crypto_sign_ed25519ph_update(state, data)
    return bytes(bindings.crypto_sign_ed25519ph_final_create(state, secret))


def ed25519ph_verify(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    from nacl import bindings
    from nacl.exceptions import BadSignatureError
    from nacl.exceptions import ValueError as NaclValueError

    if len(signature) != 64:
        return False
    state = bindings.crypto_sign_ed25519ph_state()
    bindings.crypto_sign_ed25519ph_update(state, data)
    try:
        return bool(
            bindings.crypto_sign_ed25519ph_final_verify(state, signature, key.public_bytes_raw())
        )
    except (BadSignatureError, NaclValueError):
        return False


# ---- verifying --------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What one key made of one signature: valid, or why not."""

    valid: bool
    mismatch: str | None = None  # set when another hash/scheme than cosign's verifies

    def __bool__(self) -> bool:
        return self.valid


def check(key: PublicKey, signature: bytes, data: bytes) -> Verdict:
    """Verify with cosign's scheme for `key`; on failure, tell a hash mismatch apart."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return _check_ec(key, signature, data)
    if isinstance(key, rsa.RSAPublicKey):
        return _check_rsa(key, signature, data)
    if _try(lambda: key.verify(signature, data)) or ed25519ph_verify(key, signature, data):
        return Verdict(True)
    return Verdict(False)


def _check_ec(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> Verdict:
    expected = CURVE_HASHES.get(key.curve.name)
    if expected is None:
        return Verdict(False)
    if _try(lambda: key.verify(signature, data, ec.ECDSA(expected()))):
        return Verdict(True)
    curve = GO_CURVE_NAMES[key.curve.name]
    for other in _ALL_HASHES:
        if other is not expected and _ec_verifies(key, signature, data, other):
            return Verdict(False, _mismatch(f"ECDSA {curve}", other, expected))
    return Verdict(False)


def _ec_verifies(
    key: ec.EllipticCurvePublicKey,
    signature: bytes,
    data: bytes,
    algorithm: type[hashes.HashAlgorithm],
) -> bool:
    return _try(lambda: key.verify(signature, data, ec.ECDSA(algorithm())))


def _check_rsa(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> Verdict:
    if _try(lambda: key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())):
        return Verdict(True)
    for other in (hashes.SHA384, hashes.SHA512):
        if _rsa_verifies(key, signature, data, other):
            return Verdict(False, _mismatch("RSA PKCS#1 v1.5", other, hashes.SHA256))
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)
    if _try(lambda: key.verify(signature, digest.finalize(), pss, Prehashed(hashes.SHA256()))):
        return Verdict(
            False, "signed with RSA-PSS; cosign verifies RSA keys with PKCS#1 v1.5 and SHA-256"
        )
    return Verdict(False)


def _rsa_verifies(
    key: rsa.RSAPublicKey, signature: bytes, data: bytes, algorithm: type[hashes.HashAlgorithm]
) -> bool:
    return _try(lambda: key.verify(signature, data, padding.PKCS1v15(), algorithm()))


def _mismatch(
    scheme: str, used: type[hashes.HashAlgorithm], expected: type[hashes.HashAlgorithm]
) -> str:
    return (
        f"signed with {_hash_name(used)}, but cosign verifies {scheme} keys with "
        f"{_hash_name(expected)}"
    )


def _hash_name(algorithm: type[hashes.HashAlgorithm]) -> str:
    return _HASH_NAMES.get(algorithm, "another hash")


def _try(call: Callable[[], object]) -> bool:
    try:
        call()
    except (InvalidSignature, ValueError):
        return False
    return True
