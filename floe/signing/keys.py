"""Signing keys in cosign's formats.

`cosign.key` is a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign:
`ENCRYPTED COSIGN PRIVATE KEY`) whose body is the JSON of go-securesystemslib's
`encrypted` package: scrypt derives a 32-byte key from the password and a random
32-byte salt, NaCl secretbox seals the PKCS#8 DER of the private key under a random
24-byte nonce. `cosign.pub` is a PEM `PUBLIC KEY` (PKIX). Go marshals `[]byte` as
standard base64 and keeps struct field order, so we write the JSON in that order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from floe.errors import UsageError
from floe.files import atomic_write
from floe.signing import algorithms
from floe.signing.algorithms import PrivateKey as PrivateKey
from floe.signing.algorithms import PublicKey as PublicKey

SIGSTORE_PEM_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM_LABEL = "ENCRYPTED COSIGN PRIVATE KEY"
PUBLIC_PEM_LABEL = "PUBLIC KEY"

SCRYPT_N = 65536
SCRYPT_R = 8
SCRYPT_P = 1
# Parameter sets go-securesystemslib accepts (legacy, standard, OWASP); anything else
# is refused so a tampered key file cannot make us burn unbounded memory or time.
ACCEPTED_SCRYPT_PARAMS = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}
SALT_SIZE = 32
NONCE_SIZE = 24
BOX_KEY_SIZE = 32
MIN_RSA_BITS = algorithms.MIN_RSA_BITS
# PEM labels `cosign import-key-pair` reads unencrypted (PKCS#1, SEC1, PKCS#8).
IMPORT_LABELS = {"RSA PRIVATE KEY": "rsa", "EC PRIVATE KEY": "ecdsa", "PRIVATE KEY": ""}

PASSWORD_HINT = "set FLOE_SIGNING_PASSWORD (or COSIGN_PASSWORD) to the key's password"


# ---- scrypt + secretbox ----------------------------------------------------------


def derive_box_key(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * r * n bytes; leave headroom over OpenSSL's 32 MiB default.
    maxmem = 128 * r * n * 2 + (16 << 20)
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=BOX_KEY_SIZE, maxmem=maxmem)


def encrypt_key_bytes(
    plaintext: bytes,
    password: bytes,
    *,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Seal `plaintext` the way cosign does; returns the JSON document (PEM body)."""
    from nacl.secret import SecretBox

    salt = secrets.token_bytes(SALT_SIZE) if salt is None else salt
    nonce = secrets.token_bytes(NONCE_SIZE) if nonce is None else nonce
    if len(salt) != SALT_SIZE or len(nonce) != NONCE_SIZE:
        raise ValueError("salt must be 32 bytes and nonce 24 bytes")
    box_key = derive_box_key(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = SecretBox(box_key).encrypt(plaintext, nonce).ciphertext
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
            "salt": _b64(salt),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(ciphertext),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def decrypt_key_bytes(document: bytes, password: bytes) -> bytes:
    """Open a cosign-encrypted JSON document; wrong password -> `signing_key_password`."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        doc = json.loads(document)
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = (int(kdf["params"]["N"]), int(kdf["params"]["r"]), int(kdf["params"]["p"]))
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(cipher["nonce"], validate=True)
        ciphertext = base64.b64decode(doc["ciphertext"], validate=True)
        names = (kdf["name"], cipher["name"])
    except (ValueError, KeyError, TypeError) as exc:
        message = f"the encrypted key is not valid JSON of cosign's format ({exc})"
        raise _bad_key_file(message) from None
    if names != ("scrypt", "nacl/secretbox"):
        raise _bad_key_file(f"unsupported key encryption {names[0]}/{names[1]}")
    if params not in ACCEPTED_SCRYPT_PARAMS:
        raise _bad_key_file(f"unexpected scrypt parameters N={params[0]} r={params[1]}")
    if len(nonce) != NONCE_SIZE:
        raise _bad_key_file("the secretbox nonce must be 24 bytes")
    box_key = derive_box_key(password, salt, *params)
    try:
        return bytes(SecretBox(box_key).decrypt(ciphertext, nonce))
    except CryptoError:
        raise wrong_password_error() from None


def wrong_password_error() -> UsageError:
    return UsageError(
        "signing_key_password",
        "could not decrypt the signing key: wrong password",
        hint=PASSWORD_HINT,
    )


def _bad_key_file(message: str) -> UsageError:
    return UsageError("signing_key_invalid", message, hint="use a key written by cosign or floe")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- PEM ------------------------------------------------------------------------


def pem_encode(label: str, body: bytes) -> bytes:
    text = base64.b64encode(body).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def pem_decode(data: bytes) -> tuple[str, bytes]:
    """The label and body of the first PEM block in `data`."""
    text = data.decode("ascii", errors="replace")
    begin = text.find("-----BEGIN ")
    if begin < 0:
        raise _bad_key_file("no PEM block found")
    label_end = text.find("-----", begin + 11)
    label = text[begin + 11 : label_end]
    end_marker = f"-----END {label}-----"
    end = text.find(end_marker, label_end)
    if label_end < 0 or end < 0:
        raise _bad_key_file(f"unterminated PEM block {label!r}")
    body = "".join(
        line.strip() for line in text[label_end + 5 : end].splitlines() if ":" not in line
    )
    try:
        return label, base64.b64decode(body, validate=True)
    except ValueError:
        raise _bad_key_file(f"PEM block {label!r} is not valid base64") from None


def encrypted_private_key_pem(key: PrivateKey, password: bytes) -> bytes:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem_encode(SIGSTORE_PEM_LABEL, encrypt_key_bytes(der, password))


def load_encrypted_private_key(data: bytes, password: bytes) -> PrivateKey:
    label, body = pem_decode(data)
    if label not in (SIGSTORE_PEM_LABEL, COSIGN_PEM_LABEL):
        raise _bad_key_file(
            f"expected an {SIGSTORE_PEM_LABEL!r} PEM block, found {label!r}",
        )
    der = decrypt_key_bytes(body, password)
    shape = der_shape(der)
    if shape != "pkcs8":
        # cosign reads the plaintext with x509.ParsePKCS8PrivateKey only; Go's message:
        parser = {"sec1": "ParseECPrivateKey", "pkcs1": "ParsePKCS1PrivateKey"}.get(shape)
        detail = f" (use {parser} instead for this key format)" if parser else ""
        raise _bad_key_file(f"x509: failed to parse private key{detail}")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _bad_key_file(f"the decrypted key is not PKCS#8 DER ({exc})") from None
    return check_supported(key)


def public_key_pem(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(data: bytes, source: str = "public key") -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(
            "signing_key_invalid",
            f"{source} is not a PEM public key ({exc})",
            hint="pass the cosign.pub written by `floe platform keygen` or cosign",
        ) from None
    if not isinstance(key, PublicKey):
        raise UsageError("signing_key_invalid", f"{source}: unsupported key type")
    try:
        algorithms.validate_key(key)
    except UsageError as exc:
        raise UsageError(exc.slug, f"{source}: {exc.message}", hint=exc.hint) from None
    return key


def _pem_label(data: bytes) -> str:
    try:
        return pem_decode(data)[0]
    except UsageError:
        return ""


def pem_is_encrypted(data: bytes) -> bool:
    """Encrypted PKCS#8, legacy OpenSSL `Proc-Type: 4,ENCRYPTED`, or a cosign key."""
    return "ENCRYPTED" in _pem_label(data) or b"Proc-Type: 4,ENCRYPTED" in data


def import_private_key(data: bytes, password: bytes | None) -> PrivateKey:
    """Load a PEM private key as `cosign import-key-pair` does (PKCS#1, SEC1, PKCS#8).

    cosign's refusals and messages: no PEM block -> "invalid pem block"; another label
    (a public key, say) -> "unsupported private key"; then the key rules of
    `algorithms.validate_key`. floe also reads a password-protected PKCS#8 or OpenSSL
    PEM (cosign does not), to spare users a plaintext copy of their key.
    """
    try:
        label, _ = pem_decode(data)
    except UsageError:
        raise _bad_key_file("invalid pem block") from None
    if label in (SIGSTORE_PEM_LABEL, COSIGN_PEM_LABEL):
        return load_encrypted_private_key(data, password or b"")
    encrypted = pem_is_encrypted(data)
    if label not in IMPORT_LABELS and not encrypted:
        raise UsageError(
            "signing_key_unsupported",
            f"unsupported private key (PEM block {label!r})",
            hint="import a PEM RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY block",
        )
    try:
        key = serialization.load_pem_private_key(data, password=password if encrypted else None)
    except TypeError:
        raise wrong_password_error() from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        if encrypted:
            raise wrong_password_error() from None
        kind = IMPORT_LABELS.get(label, "")
        raise UsageError(
            "signing_key_invalid",
            f"error parsing {kind + ' ' if kind else ''}private key ({exc})",
            hint="import a PEM EC P-256/P-384/P-521, RSA (2048-4096 bits) or Ed25519 key",
        ) from None
    return check_supported(key)


def check_supported(key: object) -> PrivateKey:
    """`key` if cosign accepts it, else cosign's refusal (`signing_key_unsupported`)."""
    if not isinstance(key, PrivateKey):
        raise UsageError(
            "signing_key_unsupported",
            f"unsupported private key type {type(key).__name__}",
            hint=algorithms.UNSUPPORTED_HINT,
        )
    algorithms.validate_key(key)
    return key


def der_shape(der: bytes) -> str:
    """`pkcs8`, `sec1`, `pkcs1` or `unknown`: the second field of the outer SEQUENCE
    (PKCS#8: an AlgorithmIdentifier SEQUENCE; SEC1: the key OCTET STRING; PKCS#1: n)."""
    try:
        pos = _der_enter(der, 0, 0x30)
        pos = _der_skip(der, pos, 0x02)
        tag = der[pos]
    except (IndexError, ValueError):
        return "unknown"
    return {0x30: "pkcs8", 0x04: "sec1", 0x02: "pkcs1"}.get(tag, "unknown")


def _der_header(der: bytes, pos: int, tag: int) -> tuple[int, int]:
    """(start of contents, length) of the element at `pos`, which must have `tag`."""
    if der[pos] != tag:
        raise ValueError("unexpected tag")
    first = der[pos + 1]
    if first < 0x80:
        return pos + 2, first
    count = first & 0x7F
    if not 0 < count <= 4:
        raise ValueError("bad length")
    return pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")


def _der_enter(der: bytes, pos: int, tag: int) -> int:
    return _der_header(der, pos, tag)[0]


def _der_skip(der: bytes, pos: int, tag: int) -> int:
    start, length = _der_header(der, pos, tag)
    return start + length


# ---- identity of a key ------------------------------------------------------------


def public_der(key: PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: PublicKey) -> str:
    """`sha256:<hex>` of the PKIX DER: how floe names a key everywhere."""
    return "sha256:" + hashlib.sha256(public_der(key)).hexdigest()


def key_hint(key: PublicKey) -> str:
    """Bundle `verificationMaterial.publicKey.hint`: base64 sha256 of the PKIX DER (as cosign)."""
    return _b64(hashlib.sha256(public_der(key)).digest())


# ---- signing and verifying --------------------------------------------------------


def sign_bytes(key: PrivateKey, data: bytes, *, ed25519ph: bool = True) -> bytes:
    """Sign as cosign does (see `floe.signing.algorithms`); Ed25519 as Ed25519ph unless
    `ed25519ph=False` (pure Ed25519, which sigstore bundles use)."""
    return algorithms.sign(key, data, ed25519ph=ed25519ph)


def verify_bytes(key: PublicKey, signature: bytes, data: bytes) -> bool:
    return algorithms.check(key, signature, data).valid


@dataclass(frozen=True)
class Signer:
    """A private key ready to sign, with the public half and its fingerprint."""

    private_key: PrivateKey

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def hint(self) -> str:
        return key_hint(self.public_key)

    def sign(self, data: bytes, *, ed25519ph: bool = True) -> bytes:
        return sign_bytes(self.private_key, data, ed25519ph=ed25519ph)


def generate_private_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# ---- files ------------------------------------------------------------------------


def key_paths(prefix: Path) -> tuple[Path, Path]:
    return prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")


def refuse_overwrite(prefix: Path, force: bool) -> None:
    if force:
        return
    for path in key_paths(prefix):
        if path.exists():
            raise UsageError(
                "signing_key_exists",
                f"{path} already exists",
                hint="pass --force to overwrite it, or choose --output-key-prefix",
            )


def write_key_pair(
    prefix: Path, key: PrivateKey, password: bytes, force: bool
) -> tuple[Path, Path]:
    """Write `<prefix>.key` (encrypted) and `<prefix>.pub`; refuse to overwrite unless `force`."""
    refuse_overwrite(prefix, force)
    key_path, pub_path = key_paths(prefix)
    atomic_write(key_path, encrypted_private_key_pem(key, password), mode=0o600)
    atomic_write(pub_path, public_key_pem(key.public_key()), mode=0o600)
    return key_path, pub_path


def describe_key(key: PublicKey) -> dict[str, Any]:
    if isinstance(key, ec.EllipticCurvePublicKey):
        kind = f"ecdsa-{key.curve.name}"
    elif isinstance(key, rsa.RSAPublicKey):
        kind = f"rsa-{key.key_size}"
    else:
        kind = "ed25519"
    return {"type": kind, "fingerprint": fingerprint(key)}


# ---- passwords --------------------------------------------------------------------


def read_password(purpose: str, *, confirm: bool = False) -> bytes:
    """FLOE_SIGNING_PASSWORD, then COSIGN_PASSWORD, then a hidden prompt on a TTY."""
    for var in ("FLOE_SIGNING_PASSWORD", "COSIGN_PASSWORD"):
        value = os.environ.get(var)
        if value is not None:
            return value.encode()
    import sys

    import click

    if not sys.stdin.isatty():
        raise UsageError(
            "signing_key_password",
            f"a password is needed to {purpose} and stdin is not a terminal",
            hint="set FLOE_SIGNING_PASSWORD (or COSIGN_PASSWORD)",
        )
    value = click.prompt(
        f"Password to {purpose}", hide_input=True, confirmation_prompt=confirm, default=""
    )
    return str(value).encode()


def load_signer(key_path: Path, password: str | None = None) -> Signer:
    """Load `cosign.key` (cosign's encrypted format) as a Signer."""
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise UsageError(
            "signing_key_missing",
            f"cannot read signing key {key_path}: {exc.strerror}",
            hint="create one with `floe platform keygen`",
        ) from None
    secret = password.encode() if password is not None else read_password(f"decrypt {key_path}")
    return Signer(load_encrypted_private_key(data, secret))
