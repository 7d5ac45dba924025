"""cosign's own key vectors: floe's outcome for every file equals the README's cosign outcome.

The expectations are read from the fixture README (cosign's tests), not restated
here, so a new vector in the folder fails this test until someone writes down what
cosign does with it. Signatures of every accepted key are checked by `openssl dgst`
with the hash cosign uses for that key type.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import run_floe
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from floe.errors import UsageError
from floe.signing import algorithms, keys
from floe.signing.keys import Signer

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "cosign-testdata"
if not VECTORS.is_dir():  # worktrees live next to main under /work
    VECTORS = Path("/work/shared/fixtures/cosign-testdata")
PASSWORD = "hello"
# Files the README does not list, with what floe does (cosign uses them in other tests).
UNLISTED = {
    "README.md": "the README itself",
    "github-cosign-test.pub": "loads: a P-256 PKIX public key",
    "github-cosign-test.key": "a cosign.key whose password is not published: wrong password",
}


def readme_outcomes() -> dict[str, tuple[str, str | None]]:
    """file -> (table, None for accepted or cosign's refusal message)."""
    outcomes: dict[str, tuple[str, str | None]] = {}
    table = ""
    for line in (VECTORS / "README.md").read_text().splitlines():
        if line.startswith("Loading an encrypted"):
            table = "load"
        elif line.startswith("Importing a PEM"):
            table = "import"
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0] or cells[0] in ("file", "---"):
            continue
        refused = re.match(r'refused: "(.*)"', cells[1])
        for name in re.findall(r"[\w.-]+\.key", cells[0]):
            outcomes[name] = (table, refused.group(1) if refused else None)
    return outcomes


OUTCOMES = readme_outcomes()


def test_the_readme_lists_every_vector() -> None:
    assert len(OUTCOMES) == 17, OUTCOMES  # 3 cosign.key rows + 14 import rows
    on_disk = set(os.listdir(VECTORS))
    assert on_disk == set(OUTCOMES) | set(UNLISTED), on_disk ^ (set(OUTCOMES) | set(UNLISTED))


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_import_matches_cosign(name: str, tmp_path: Path) -> None:
    """`floe platform import-key FILE` accepts exactly what cosign accepts."""
    _, refusal = OUTCOMES[name]
    result = run_floe(
        "platform",
        "import-key",
        str(VECTORS / name),
        "--output-key-prefix",
        str(tmp_path / "imported"),
        cwd=tmp_path,
        env={"COSIGN_PASSWORD": PASSWORD},
    )
    assert "Traceback" not in result.output
    if refusal is None:
        assert result.exit_code == 0, result.output
        assert (tmp_path / "imported.key").exists()
        _signs_like_cosign(keys.load_signer(tmp_path / "imported.key", PASSWORD), tmp_path)
    else:
        assert result.exit_code == 2, result.output
        assert refusal in result.stderr, result.stderr
        assert not (tmp_path / "imported.key").exists()


@pytest.mark.parametrize("name", sorted(n for n, (t, _) in OUTCOMES.items() if t == "load"))
def test_load_cosign_key_matches_cosign(name: str) -> None:
    """The library call cosign's LoadPrivateKey corresponds to."""
    _, refusal = OUTCOMES[name]
    data = (VECTORS / name).read_bytes()
    if refusal is None:
        key = keys.load_encrypted_private_key(data, PASSWORD.encode())
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return
    with pytest.raises(UsageError) as info:
        keys.load_encrypted_private_key(data, PASSWORD.encode())
    assert refusal in info.value.message


def test_unlisted_github_vectors() -> None:
    pub = keys.load_public_key((VECTORS / "github-cosign-test.pub").read_bytes())
    assert isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1"
    with pytest.raises(UsageError) as info:
        keys.load_encrypted_private_key(
            (VECTORS / "github-cosign-test.key").read_bytes(), PASSWORD.encode()
        )
    assert info.value.slug == "signing_key_password"


def _openssl_digest(key: keys.PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "-sha256", "secp384r1": "-sha384", "secp521r1": "-sha512"}[
            key.curve.name
        ]
    assert isinstance(key, rsa.RSAPublicKey)
    return "-sha256"


def _signs_like_cosign(signer: Signer, tmp_path: Path) -> None:
    """The signature verifies with openssl using cosign's hash for the key type."""
    message = b'{"critical":{"identity":{"docker-reference":"r.example/x"}}}'
    signature = signer.sign(message)
    assert keys.verify_bytes(signer.public_key, signature, message)
    assert not keys.verify_bytes(signer.public_key, signature, message + b" ")
    public = signer.public_key
    if isinstance(public, ed25519.Ed25519PublicKey):
        # cosign signs Ed25519 keys as Ed25519ph: not a pure Ed25519 signature.
        assert algorithms.ed25519ph_verify(public, signature, message)
        assert signature != signer.sign(message, ed25519ph=False)
        return
    (tmp_path / "m").write_bytes(message)
    (tmp_path / "s").write_bytes(signature)
    (tmp_path / "p.pem").write_bytes(keys.public_key_pem(public))
    proc = subprocess.run(
        ["openssl", "dgst", _openssl_digest(public), "-verify", str(tmp_path / "p.pem"),
         "-signature", str(tmp_path / "s"), str(tmp_path / "m")],
        capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and b"Verified OK" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("curve", "wrong", "right"),
    [
        (ec.SECP256R1(), hashes.SHA384(), "SHA-256"),
        (ec.SECP384R1(), hashes.SHA256(), "SHA-384"),
        (ec.SECP521R1(), hashes.SHA256(), "SHA-512"),
    ],
    ids=["p256-sha384", "p384-sha256", "p521-sha256"],
)
def test_a_hash_mismatch_reads_as_such(
    curve: ec.EllipticCurve, wrong: hashes.HashAlgorithm, right: str
) -> None:
    key = ec.generate_private_key(curve)
    signature = key.sign(b"payload", ec.ECDSA(wrong))
    verdict = algorithms.check(key.public_key(), signature, b"payload")
    assert not verdict.valid
    assert verdict.mismatch is not None and right in verdict.mismatch
    assert "altered" not in verdict.mismatch
    # An altered payload is not a mismatch.
    assert algorithms.check(key.public_key(), signature, b"other").mismatch is None


def test_rsa_hash_and_pss_mismatch() -> None:
    from cryptography.hazmat.primitives.asymmetric import padding

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sha512 = key.sign(b"m", padding.PKCS1v15(), hashes.SHA512())
    assert "SHA-256" in (algorithms.check(key.public_key(), sha512, b"m").mismatch or "")
    pss = key.sign(b"m", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    assert "RSA-PSS" in (algorithms.check(key.public_key(), pss, b"m").mismatch or "")


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_rsa_sizes_cosign_accepts(bits: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    assert keys.check_supported(key) is key


def test_ed25519_verifies_pure_and_ph() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    pure, ph = key.sign(b"m"), algorithms.ed25519ph_sign(key, b"m")
    assert pure != ph
    for signature in (pure, ph):
        assert algorithms.check(key.public_key(), signature, b"m").valid
        assert not algorithms.check(key.public_key(), signature, b"n").valid
    assert not algorithms.check(key.public_key(), base64.b64decode("AAAA"), b"m").valid


@pytest.mark.parametrize("name", ["validecp384.key", "validecp521.key", "ed25519key.key"])
def test_cli_sign_and_verify_with_imported_cosign_vectors(name: str, tmp_path: Path) -> None:
    """import-key, platform sign, platform verify: cosign's P-384/P-521/Ed25519 vectors."""
    from signing_helpers import publish_artifact

    from floe.oci.layout import LayoutTarget

    env = {"COSIGN_PASSWORD": PASSWORD}
    prefix = str(tmp_path / "k")
    imported = run_floe(
        "platform", "import-key", str(VECTORS / name), "--output-key-prefix", prefix,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    publish_artifact(LayoutTarget(tmp_path / "layout"), "v1.0.0")
    ref = f"oci-layout://{tmp_path / 'layout'}:v1.0.0"
    signed = run_floe("platform", "sign", ref, "--key", f"{prefix}.key", cwd=tmp_path, env=env)
    assert signed.exit_code == 0, signed.output
    verified = run_floe("platform", "verify", ref, "--key", f"{prefix}.pub", cwd=tmp_path)
    assert verified.exit_code == 0, verified.output
    assert verified.output.count("✓") == 2  # the .sig layer and the bundle
    other = keys.public_key_pem(ec.generate_private_key(ec.SECP384R1()).public_key())
    (tmp_path / "other.pub").write_bytes(other)
    refused = run_floe("platform", "verify", ref, "--key", str(tmp_path / "other.pub"))
    assert refused.exit_code == 1 and "signature_untrusted" in refused.output
