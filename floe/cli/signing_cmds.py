"""`floe platform keygen | import-key | sign | verify`: cosign-compatible keys and signatures.

Heavy modules (cryptography, pydantic models, sigstore, requests) are imported
inside the command bodies so `floe --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from floe.cli import common
from floe.cli.options import registry_flags

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.signing.verify import VerificationReport


def _key_pair_options(default_prefix: str) -> Callable[[common.F], common.F]:
    """`--output-key-prefix` and `--force`, shared by keygen and import-key."""

    def decorate(function: common.F) -> common.F:
        function = click.option("--force", is_flag=True, help="Overwrite existing key files.")(
            function
        )
        return click.option(
            "--output-key-prefix",
            default=default_prefix,
            show_default=True,
            help="Write PREFIX.key (encrypted) and PREFIX.pub.",
        )(function)

    return decorate


@click.command("keygen")
@_key_pair_options("cosign")
@common.format_option()
def keygen_cmd(output_key_prefix: str, force: bool, fmt: str) -> None:
    """Generate an ECDSA P-256 key pair in cosign's format (cosign.key, cosign.pub)."""
    from floe.signing import keys

    prefix = Path(output_key_prefix)
    keys.refuse_overwrite(prefix, force)
    password = keys.read_password(f"encrypt {prefix}.key", confirm=True)
    key = keys.generate_private_key()
    _written(*keys.write_key_pair(prefix, key, password, force=True), key, fmt)


@click.command("import-key")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_key_pair_options("import-cosign")
@common.format_option()
def import_key_cmd(key_file: Path, output_key_prefix: str, force: bool, fmt: str) -> None:
    """Import a PEM EC P-256, RSA or Ed25519 private key into cosign's encrypted format.

    The password (FLOE_SIGNING_PASSWORD, COSIGN_PASSWORD or a prompt) decrypts an
    encrypted KEY_FILE and encrypts the new key, as `cosign import-key-pair` does.
    """
    from floe.signing import keys

    prefix = Path(output_key_prefix)
    keys.refuse_overwrite(prefix, force)
    data = key_file.read_bytes()
    source_password = (
        keys.read_password(f"decrypt {key_file}") if keys.pem_is_encrypted(data) else None
    )
    key = keys.import_private_key(data, source_password)
    password = keys.read_password(f"encrypt {prefix}.key", confirm=True)
    _written(*keys.write_key_pair(prefix, key, password, force=True), key, fmt)


def _written(key_path: Path, pub_path: Path, key: Any, fmt: str) -> None:
    from floe.signing import keys

    info = keys.describe_key(key.public_key())
    if fmt == "json":
        common.emit_json(
            {"event": "key_written", "private_key": str(key_path), "public_key": str(pub_path)}
            | info
        )
        return
    click.echo(f"Private key written to {key_path}")
    click.echo(f"Public key written to {pub_path}")
    click.echo(f"Key {info['type']} {info['fingerprint']}")


@click.command("sign")
@click.argument("ref")
@common.signer_options()
@common.signing_identity_option
@registry_flags
@common.format_option()
def sign_cmd(
    ref: str,
    key_path: Path | None,
    keyless: bool,
    identity_token: str | None,
    signing_identity: str | None,
    options: RegistryOptions,
    fmt: str,
) -> None:
    """Sign the published artifact REF (both cosign formats with --key; a bundle keyless)."""
    from floe.artifact.signatures import sign_reference
    from floe.platform.where import reference_here

    ref = reference_here(ref)  # a bare version: in the registry publish pushed it to
    result = sign_reference(
        ref, key_path, keyless=keyless, identity_token=identity_token, options=options,
        signing_identity=signing_identity,
    )  # fmt: skip
    if fmt == "json":
        common.emit_json(
            {"event": "artifact_signed", "reference": str(result.reference),
             "digest": result.digest, "signer": result.signer,
             "signatures": [digest for digest, _ in result.pushed]}
        )  # fmt: skip
        return
    click.echo(f"Signed {result.reference.repository_ref()}@{result.digest} with {result.signer}")
    for digest, is_bundle in result.pushed:
        click.echo(f"  ✓ {'bundle referrer' if is_bundle else 'legacy .sig manifest'} {digest}")


@click.command("verify")
@click.argument("ref")
@click.option(
    "--key",
    "key_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trusted public key (cosign.pub); repeat for several.",
)
@click.option(
    "--identity",
    "identities",
    multiple=True,
    metavar="ISSUER=SUBJECT",
    help="A trusted keyless signer, e.g. https://token.actions.githubusercontent.com=URI.",
)
@click.option(
    "--identity-regex",
    "identity_regexes",
    multiple=True,
    metavar="ISSUER=REGEX",
    help="A trusted keyless signer whose subject matches REGEX (full match).",
)
@click.option("--offline", is_flag=True, help="Keyless: use the cached sigstore trusted root.")
@registry_flags
@common.format_option()
def verify_cmd(
    ref: str,
    key_paths: tuple[Path, ...],
    identities: tuple[str, ...],
    identity_regexes: tuple[str, ...],
    offline: bool,
    options: RegistryOptions,
    fmt: str,
) -> None:
    """Check every signature on REF; exit 1 unless a trusted one covers its digest."""
    from floe.artifact.signatures import verify_signatures
    from floe.platform.where import reference_here
    from floe.signing.verify import SignatureRejected

    ref = reference_here(ref)  # a bare version: in the registry publish pushed it to
    trusted = tuple(_identities(identities, identity_regexes))
    try:
        parsed, report = verify_signatures(
            ref, key_paths, trusted, offline=offline, options=options
        )
    except SignatureRejected as exc:
        if fmt == "text":
            _print_report(ref, exc.report)
        raise
    if fmt == "text":
        _print_report(str(parsed), report)
    if fmt == "json":
        common.emit_json(
            {"event": "signature_verified", "reference": str(parsed)} | report.to_json()
        )


def _identities(pairs: tuple[str, ...], regexes: tuple[str, ...]) -> list[Any]:
    from floe.signing.policy import parse_identity

    return [parse_identity(text) for text in pairs] + [
        parse_identity(text, regex=True) for text in regexes
    ]


def _print_report(ref: str, report: VerificationReport) -> None:
    click.echo(f"Verifying {ref} ({report.manifest_digest})")
    if not report.signatures:
        click.echo("  no signatures found")
    for check in report.signatures:
        mark = "✓" if check.passed else "✗"
        status = "valid, trusted" if check.passed else f"{check.error}: {check.reason}"
        if check.format == "attestation":  # checked and shown, never counted as a signature
            status += f" ({check.predicate_type or 'unknown predicate'}; not a signature)"
        click.echo(f"  {mark} {check.format:<11} {check.signer or 'unknown signer'}  {status}")
    if report.ok:
        click.echo(f"Verified: {report.manifest_digest} is signed by {report.signer}")


def register(cli: click.Group, platform: click.Group) -> None:
    """Attach this area's commands to the `platform` group."""
    for command in (keygen_cmd, import_key_cmd, sign_cmd, verify_cmd):
        platform.add_command(command)
