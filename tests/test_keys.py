"""Keys in cosign's formats: scrypt + secretbox, PEM labels, import, CLI, file modes."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from conftest import run_floe
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from nacl.bindings import crypto_secretbox, crypto_secretbox_open
from nacl.secret import SecretBox
from signing_helpers import PASSWORD

from floe.errors import UsageError
from floe.signing import keys, load_signer

# Known-answer vector, computed once with hashlib.scrypt + libsodium's crypto_secretbox
# and hard-coded: password PASSWORD, salt bytes 0..31, nonce bytes 100..123.
KAT_SALT = bytes(range(32))
KAT_NONCE = bytes(range(100, 124))
KAT_PLAINTEXT = b"floe known-answer plaintext"
KAT_BOX_KEY = "fbb18fb6dc3deed09c2a8817bc9a0b6eca463706581f70ff5e47b8f2cf4a51e6"
KAT_CIPHERTEXT = (
    "de8a10659360add549cc3306170deddd217f4743ae1519b928d9ce69fea2b5f224115c58811de4c55affcc"
)


def test_scrypt_matches_rfc7914_vector() -> None:
    # RFC 7914 section 12, third vector (first 32 bytes of the 64-byte output).
    got = keys.derive_box_key(b"pleaseletmein", b"SodiumChloride", 16384, 8, 1)
    assert got.hex() == "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"


def test_scrypt_secretbox_known_answer() -> None:
    box_key = keys.derive_box_key(PASSWORD.encode(), KAT_SALT, 65536, 8, 1)
    assert box_key.hex() == KAT_BOX_KEY
    document = json.loads(
        keys.encrypt_key_bytes(KAT_PLAINTEXT, PASSWORD.encode(), salt=KAT_SALT, nonce=KAT_NONCE)
    )
    assert document == {
        "kdf": {
            "name": "scrypt",
            "params": {"N": 65536, "r": 8, "p": 1},
            "salt": base64.b64encode(KAT_SALT).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(KAT_NONCE).decode()},
        "ciphertext": base64.b64encode(bytes.fromhex(KAT_CIPHERTEXT)).decode(),
    }
    # Cross-check with libsodium directly, both directions.
    key = bytes.fromhex(KAT_BOX_KEY)
    assert crypto_secretbox(KAT_PLAINTEXT, KAT_NONCE, key).hex() == KAT_CIPHERTEXT
    assert crypto_secretbox_open(bytes.fromhex(KAT_CIPHERTEXT), KAT_NONCE, key) == KAT_PLAINTEXT
    raw = json.dumps(document).encode()
    assert keys.decrypt_key_bytes(raw, PASSWORD.encode()) == KAT_PLAINTEXT


def test_go_field_order_of_the_json_body() -> None:
    body = keys.encrypt_key_bytes(b"x", b"pw", salt=KAT_SALT, nonce=KAT_NONCE).decode()
    assert body.startswith('{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":')
    assert '"cipher":{"name":"nacl/secretbox","nonce":' in body
    assert body.index('"cipher"') < body.index('"ciphertext"')


def cosign_style_key_file(
    private_key: keys.PrivateKey, password: bytes, label: str = keys.SIGSTORE_PEM_LABEL
) -> bytes:
    """Build cosign.key from the documented format, without floe's encryption code."""
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, nonce = hashlib.sha256(b"salt").digest(), hashlib.sha256(b"nonce").digest()[:24]
    box_key = hashlib.scrypt(password, salt=salt, n=65536, r=8, p=1, dklen=32, maxmem=1 << 28)
    sealed = SecretBox(box_key).encrypt(der, nonce).ciphertext
    body = json.dumps(
        {
            "kdf": {
                "name": "scrypt",
                "params": {"N": 65536, "r": 8, "p": 1},
                "salt": base64.b64encode(salt).decode(),
            },
            "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
            "ciphertext": base64.b64encode(sealed).decode(),
        }
    ).encode()
    text = base64.encodebytes(body).decode()  # 76-column lines, as any PEM reader accepts
    return f"-----BEGIN {label}-----\n{text}-----END {label}-----\n".encode()


@pytest.mark.parametrize("label", [keys.SIGSTORE_PEM_LABEL, keys.COSIGN_PEM_LABEL])
def test_decrypts_a_key_built_from_the_documented_format(tmp_path: Path, label: str) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "cosign.key"
    path.write_bytes(cosign_style_key_file(private_key, b"known password", label))
    signer = load_signer(path, password="known password")
    assert signer.fingerprint == keys.fingerprint(private_key.public_key())
    signature = signer.sign(b"payload")
    private_key.public_key().verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))


def test_encrypted_key_round_trip_and_wrong_password(tmp_path: Path) -> None:
    private_key = keys.generate_private_key()
    key_path, pub_path = keys.write_key_pair(tmp_path / "cosign", private_key, b"s3cret", False)
    assert key_path.read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert pub_path.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    signer = load_signer(key_path, password="s3cret")
    assert signer.fingerprint == keys.fingerprint(keys.load_public_key(pub_path.read_bytes()))
    with pytest.raises(UsageError) as info:
        load_signer(key_path, password="wrong")
    assert info.value.slug == "signing_key_password"
    assert info.value.exit_code == 2


def test_refuses_tampered_scrypt_parameters() -> None:
    doc = json.loads(keys.encrypt_key_bytes(b"x", b"pw"))
    doc["kdf"]["params"]["N"] = 1 << 30
    with pytest.raises(UsageError) as info:
        keys.decrypt_key_bytes(json.dumps(doc).encode(), b"pw")
    assert info.value.slug == "signing_key_invalid"


def test_password_comes_from_floe_then_cosign_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path, _ = keys.write_key_pair(tmp_path / "k", keys.generate_private_key(), b"one", False)
    monkeypatch.setenv("COSIGN_PASSWORD", "one")
    assert load_signer(key_path).fingerprint
    monkeypatch.setenv("FLOE_SIGNING_PASSWORD", "two")  # takes precedence, and is wrong
    with pytest.raises(UsageError) as info:
        load_signer(key_path)
    assert info.value.slug == "signing_key_password"


def test_no_password_and_no_terminal_is_a_usage_error(tmp_path: Path) -> None:
    key_path, _ = keys.write_key_pair(tmp_path / "k", keys.generate_private_key(), b"pw", False)
    result = run_floe("platform", "sign", "oci-layout://nowhere:v1", "--key", str(key_path))
    assert result.exit_code == 2
    assert "signing_key_password" in result.stderr
    assert "FLOE_SIGNING_PASSWORD" in result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keygen_cli_writes_0600_files_and_refuses_to_overwrite(tmp_path: Path) -> None:
    env = {"FLOE_SIGNING_PASSWORD": PASSWORD}
    result = run_floe("platform", "keygen", cwd=tmp_path, env=env)
    assert result.exit_code == 0, result.output
    key_file, pub_file = tmp_path / "cosign.key", tmp_path / "cosign.pub"
    assert _mode(key_file) == 0o600
    assert _mode(pub_file) == 0o600
    assert "Private key written to cosign.key" in result.stdout
    signer = load_signer(key_file, PASSWORD)
    assert signer.fingerprint in result.stdout
    before = key_file.read_bytes()

    again = run_floe("platform", "keygen", cwd=tmp_path, env=env)
    assert again.exit_code == 2
    assert "signing_key_exists" in again.stderr
    assert key_file.read_bytes() == before

    forced = run_floe("platform", "keygen", "--force", "--format", "json", cwd=tmp_path, env=env)
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["fingerprint"] != signer.fingerprint
    assert _mode(key_file) == 0o600


def _pem_variants() -> list[tuple[str, bytes, bytes | None, str]]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem = serialization.Encoding.PEM
    trad, pkcs8 = serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    enc = serialization.BestAvailableEncryption(b"source-pw")
    return [
        ("ec-sec1", ec_key.private_bytes(pem, trad, none), None, "EC PRIVATE KEY"),
        ("ec-pkcs8", ec_key.private_bytes(pem, pkcs8, none), None, "BEGIN PRIVATE KEY"),
        ("ec-sec1-encrypted", ec_key.private_bytes(pem, trad, enc), b"source-pw", "Proc-Type"),
        ("rsa-pkcs1", rsa_key.private_bytes(pem, trad, none), None, "RSA PRIVATE KEY"),
        ("rsa-pkcs8", rsa_key.private_bytes(pem, pkcs8, none), None, "BEGIN PRIVATE KEY"),
        ("ed25519-pkcs8", ed_key.private_bytes(pem, pkcs8, none), None, "BEGIN PRIVATE KEY"),
        (
            "ed25519-pkcs8-encrypted",
            ed_key.private_bytes(pem, pkcs8, enc),
            b"source-pw",
            "ENCRYPTED PRIVATE KEY",
        ),
    ]


@pytest.mark.parametrize("variant", _pem_variants(), ids=lambda v: v[0])
def test_import_key_cli(tmp_path: Path, variant: tuple[str, bytes, bytes | None, str]) -> None:
    name, data, source_password, marker = variant
    assert marker in data.decode()
    source = tmp_path / f"{name}.pem"
    source.write_bytes(data)
    password = (source_password or PASSWORD.encode()).decode()
    result = run_floe(
        "platform", "import-key", str(source), cwd=tmp_path, env={"COSIGN_PASSWORD": password}
    )
    assert result.exit_code == 0, result.output
    key_file = tmp_path / "import-cosign.key"
    assert _mode(key_file) == 0o600
    original = serialization.load_pem_private_key(data, password=source_password)
    signer = load_signer(key_file, password)
    assert signer.fingerprint == keys.fingerprint(original.public_key())  # type: ignore[arg-type]
    assert keys.verify_bytes(signer.public_key, signer.sign(b"m"), b"m")
    assert not keys.verify_bytes(signer.public_key, signer.sign(b"m"), b"other")


def test_import_key_wrong_password_is_exit_2(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    source = tmp_path / "enc.pem"
    source.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right"),
        )
    )
    result = run_floe(
        "platform", "import-key", str(source), cwd=tmp_path, env={"FLOE_SIGNING_PASSWORD": "nope"}
    )
    assert result.exit_code == 2
    assert "error[signing_key_password]" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "import-cosign.key").exists()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP224R1()),
        lambda: ec.generate_private_key(ec.SECP256K1()),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
    ],
    ids=["ec-p224", "ec-secp256k1", "rsa-1024"],
)
def test_import_refuses_weak_or_unsupported_keys(tmp_path: Path, make: object) -> None:
    key = make()  # type: ignore[operator]
    source = tmp_path / "k.pem"
    source.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = run_floe(
        "platform", "import-key", str(source), cwd=tmp_path, env={"COSIGN_PASSWORD": "x"}
    )
    assert result.exit_code == 2
    assert "signing_key_unsupported" in result.stderr


def test_fingerprint_and_hint_are_of_the_pkix_der() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert keys.fingerprint(key) == "sha256:" + hashlib.sha256(der).hexdigest()
    assert base64.b64decode(keys.key_hint(key)) == hashlib.sha256(der).digest()


def test_ecdsa_signatures_are_deterministic() -> None:
    signer = keys.Signer(keys.generate_private_key())
    assert signer.sign(b"same") == signer.sign(b"same")
