"""The project's trust anchor: floe.yaml, else the lock's signers, else a loud first use.

The platform's own `security:` block comes from the artifact under check, so it must never
make floe trust a key: these tests play the attacker who can push to the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FloeResult, run_floe
from lifecycle_helpers import make_signer, make_tree, publish

from floe.project.lifecycle import load_verified_platform
from floe.release.lockfile import LockedPlatform, read_lock
from floe.signing.keys import Signer, public_key_pem
from floe.tree.model import TrustPolicy
from floe.trust.decision import lock_anchors

pytestmark = pytest.mark.registry


def _pem(signer: Signer) -> str:
    return public_key_pem(signer.public_key).decode()


def _signed_by_itself(version: str, signer: Signer) -> dict[str, bytes]:
    """A tree whose own policy requires signatures and trusts exactly `signer`."""
    return make_tree(
        version, security={"require_signed_artifacts": True, "trusted_keys": [_pem(signer)]}
    )


def _publish_self_signed(repo: str, version: str, signer: Signer) -> None:
    publish(repo, _signed_by_itself(version, signer), signer=signer)


def _snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file under the roots with its bytes (folders as b'<dir>')."""
    out: dict[str, bytes] = {}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            out[str(path)] = b"<dir>" if path.is_dir() else path.read_bytes()
    return out


def _user_cache() -> Path:
    return Path(os.environ["XDG_CACHE_HOME"])


def _init(project: Path, repo: str, *extra: str, constraint: str = "v1.2.*") -> Any:
    project.mkdir(exist_ok=True)
    return run_floe("init", f"--platform={constraint}", "--registry", repo, *extra, cwd=project)


def _rejected(project: Path, slug: str, run: Callable[[], FloeResult]) -> FloeResult:
    """`run` must fire the `slug` gate and change no file in the project or the user cache."""
    before = _snapshot(project, _user_cache())
    result = run()
    assert result.exit_code == 1, result.output
    assert f"error[{slug}]" in result.stderr
    assert _snapshot(project, _user_cache()) == before
    return result


def _pull_upgrade(project: Path) -> Callable[[], FloeResult]:
    return lambda: run_floe("platform", "pull", "--upgrade", cwd=project)


def _first_use(tmp_path: Path, repo: str) -> tuple[Path, Signer]:
    """A project that trusted the platform's signer on first use (v1.2.3)."""
    team, _ = make_signer(tmp_path / "platform-team")
    _publish_self_signed(repo, "1.2.3", team)
    project = tmp_path / "p"
    result = _init(project, repo)
    assert result.exit_code == 0, result.output
    return project, team


def test_first_use_warns_loudly_and_records_the_signer(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    team, _ = make_signer(tmp_path / "platform-team")
    repo = registry.ref(repo_name)
    _publish_self_signed(repo, "1.2.3", team)
    result = _init(tmp_path / "p", repo)
    assert result.exit_code == 0, result.output
    warning = (
        f"  ! Trusting signer {team.fingerprint} on first use; pin it: floe init --key cosign.pub"
    )
    assert warning in result.stderr.splitlines()
    lock = read_lock(tmp_path / "p" / ".floe/cache/artifacts.lock")
    assert lock is not None
    assert lock.platform.signer == team.fingerprint
    [recorded] = lock.platform.signers
    assert recorded.fingerprint == team.fingerprint and recorded.public_key == _pem(team)
    text = (tmp_path / "p" / ".floe/cache/artifacts.lock").read_text()
    assert "[[platform.signers]]" in text and "BEGIN PUBLIC KEY" in text
    # The lock is the anchor now: the same platform again is trusted without a warning.
    again = run_floe("platform", "pull", "--force", cwd=tmp_path / "p")
    assert again.exit_code == 0, again.output
    assert "on first use" not in again.stderr


def test_attacker_key_trusted_by_the_artifact_itself_is_rejected(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    project, _ = _first_use(tmp_path, repo)
    attacker, _ = make_signer(tmp_path / "attacker")
    _publish_self_signed(repo, "1.2.4", attacker)
    before = _snapshot(project, _user_cache())
    result = _rejected(project, "signature_untrusted", _pull_upgrade(project))
    assert "artifacts.lock recorded" in result.stderr and "--key NEW.pub" in result.stderr
    # Re-init and a fresh project's lock-less view of the same version change nothing either.
    _rejected(
        project, "signature_untrusted", lambda: run_floe("init", "--platform=v1.2.4", cwd=project)
    )
    assert _snapshot(project, _user_cache()) == before
    assert load_verified_platform(project).version == "v1.2.3"


def test_legitimate_upgrade_by_the_locked_signer_passes(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    project, team = _first_use(tmp_path, repo)
    _publish_self_signed(repo, "1.2.4", team)
    result = run_floe("platform", "pull", "--upgrade", "--format", "json", cwd=project)
    assert result.exit_code == 0, result.output
    assert '"trust": "lock"' in result.stdout and "on first use" not in result.stderr
    assert load_verified_platform(project).version == "v1.2.4"


def test_unsigned_after_signed_is_signature_missing(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    project, _ = _first_use(tmp_path, repo)
    # The attacker strips signing: no signature, and a policy that no longer requires one.
    publish(repo, make_tree("1.2.4", security={"require_signed_artifacts": False}))
    result = _rejected(project, "signature_missing", _pull_upgrade(project))
    assert "unsigned platform after a signed one" in result.stderr


def test_floe_yaml_anchor_rejects_another_key(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ours, _ = make_signer(tmp_path / "keys")
    other, _ = make_signer(tmp_path / "other")
    repo = registry.ref(repo_name)
    _publish_self_signed(repo, "1.2.3", other)
    project = tmp_path / "p"
    project.mkdir()
    (project / "floe.yaml").write_text(
        "# pinned\nsecurity:\n  trusted_keys: [../keys/cosign.pub]\n", encoding="utf-8"
    )
    _rejected(project, "signature_untrusted", lambda: _init(project, repo))
    assert not (project / ".floe").exists()
    # The same platform signed (also) by our key passes, and says nothing about first use.
    _publish_self_signed(repo, "1.2.4", ours)
    ok = _init(project, repo)
    assert ok.exit_code == 0, ok.output
    assert "on first use" not in ok.stderr
    assert load_verified_platform(project).signer == ours.fingerprint


def test_floe_yaml_anchor_wins_over_the_lock_for_rotation(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    repo = registry.ref(repo_name)
    project, _ = _first_use(tmp_path, repo)
    new, new_pub = make_signer(tmp_path / "rotated")
    _publish_self_signed(repo, "1.2.4", new)
    assert run_floe("platform", "pull", "--upgrade", cwd=project).exit_code == 1
    # Pinning replaces the lock as the anchor: only the new key counts from now on.
    result = _init(project, repo, "--key", str(new_pub), constraint="v1.2.4")
    assert result.exit_code == 0, result.output
    assert load_verified_platform(project).version == "v1.2.4"
    lock = read_lock(project / ".floe/cache/artifacts.lock")
    assert lock is not None and [s.fingerprint for s in lock.platform.signers] == [new.fingerprint]


def test_inline_pem_anchor_in_floe_yaml(tmp_path: Path, registry: Any, repo_name: str) -> None:
    ours, _ = make_signer(tmp_path / "keys")
    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"), signer=ours)
    project = tmp_path / "p"
    project.mkdir()
    indented = "".join(f"      {line}\n" for line in _pem(ours).splitlines())
    (project / "floe.yaml").write_text(f"security:\n  trusted_keys:\n    - |\n{indented}")
    result = _init(project, repo)
    assert result.exit_code == 0, result.output
    assert "  ✓ Verifying signature" in result.stdout.splitlines()
    assert load_verified_platform(project).signer == ours.fingerprint


def test_platform_may_narrow_but_a_conflict_is_reported(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ours, ours_pub = make_signer(tmp_path / "keys")
    successor, _ = make_signer(tmp_path / "successor")
    repo = registry.ref(repo_name)
    # Signed by our key, but the platform's own policy lists only its successor.
    publish(repo, _signed_by_itself("1.2.3", successor), signer=ours)
    result = _init(tmp_path / "p", repo, "--key", str(ours_pub))
    assert result.exit_code == 1, result.output
    assert "error[trust_policy_conflict]" in result.stderr
    assert not (tmp_path / "p" / ".floe").exists()


def test_init_key_and_identity_write_security_keeping_the_rest(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    ours, ours_pub = make_signer(tmp_path / "p" / "keys")
    repo = registry.ref(repo_name)
    publish(repo, make_tree("1.2.3"), signer=ours)
    project = tmp_path / "p"
    original = (
        "# Customer 360: our dbt project\n"
        "name: customer-360   # shown in reports\n"
        "security:\n"
        "  # signing is on for every environment\n"
        "  require_signed_artifacts: true\n"
        "  trusted_keys:\n"
        "    - keys/cosign.pub   # the platform team's key\n"
        "# the end\n"
    )
    (project / "floe.yaml").write_text(original)
    issuer = "https://token.actions.githubusercontent.com"
    subject = "https://github.com/acme/platform/.github/workflows/release.yml@refs/heads/main"
    result = _init(project, repo, "--key", str(ours_pub), "--identity", f"{issuer}={subject}")
    assert result.exit_code == 0, result.output
    text = (project / "floe.yaml").read_text()
    for line in original.splitlines():
        assert line in text.splitlines()
    assert text.count("keys/cosign.pub") == 1
    assert f"    - issuer: {issuer}\n      subject: {subject}\n" in text
    assert "platform:\n" in text
    from floe.project.floe_yaml import read_floe_yaml

    config = read_floe_yaml(project / "floe.yaml")
    assert config is not None and config.security is not None and config.name == "customer-360"
    assert [i.subject for i in config.security.trusted_identities] == [subject]


def test_init_rejects_a_malformed_identity(tmp_path: Path) -> None:
    tmp_path.joinpath("p").mkdir()
    result = run_floe("init", "--platform=v1", "--identity", "no-equals", cwd=tmp_path / "p")
    assert result.exit_code == 2 and "error[identity_invalid]" in result.stderr


def test_old_lock_with_only_a_fingerprint_still_anchors(tmp_path: Path) -> None:
    team, _ = make_signer(tmp_path / "t")
    stranger, _ = make_signer(tmp_path / "s")
    locked = LockedPlatform(
        ref="oci://h/r:v1",
        constraint="v1",
        version="v1.0.0",
        tag="v1",
        manifest_digest="sha256:" + "0" * 64,
        content_digest="sha256:" + "1" * 64,
        name="x",
        signer=team.fingerprint,
    )
    declared = TrustPolicy(trusted_keys=[_pem(stranger), _pem(team)])
    anchors = lock_anchors(locked, declared)
    assert anchors is not None and anchors.require_signed_artifacts
    assert anchors.trusted_keys == [_pem(team)]
    # The artifact no longer declaring the locked key leaves nothing to trust, not "anyone".
    empty = lock_anchors(locked, TrustPolicy(trusted_keys=[_pem(stranger)]))
    assert empty is not None and empty.trusted_keys == [] and empty.require_signed_artifacts


def test_verify_reference_for_downloads_outside_a_project(
    tmp_path: Path, registry: Any, repo_name: str
) -> None:
    from floe.artifact.verify import DownloadTrust, verify_download
    from floe.errors import GateError
    from floe.oci.reference import parse_reference
    from floe.oci.resolve import open_target
    from floe.project.events import Recorder
    from floe.trust.decision import FIRST_USE, PINNED

    ours, ours_pub = make_signer(tmp_path / "keys")
    attacker, _ = make_signer(tmp_path / "attacker")
    repo = registry.ref(repo_name)
    _publish_self_signed(repo, "1.2.3", attacker)
    target, _ = open_target(f"{repo}:v1.2.3")
    desc = target.resolve("v1.2.3")
    ref = parse_reference(f"{repo}:v1.2.3")
    events = Recorder()
    decision = verify_download(target, ref, desc, DownloadTrust(), events)
    assert decision is not None
    assert decision.origin == FIRST_USE and decision.signer == attacker.fingerprint
    warnings = [text.strip() for kind, text in events.events if kind == "warn"]
    assert warnings == [
        f"! Trusting signer {attacker.fingerprint} on first use; pin it: floe init --key cosign.pub"
    ]
    with pytest.raises(GateError) as info:
        verify_download(target, ref, desc, DownloadTrust(keys=(ours_pub,)))
    assert info.value.slug == "signature_untrusted"
    publish(repo, make_tree("1.2.4"), signer=ours)
    signed = verify_download(target, ref, target.resolve("v1.2.4"), DownloadTrust(keys=(ours_pub,)))
    assert signed is not None
    assert signed.origin == PINNED and signed.signer == ours.fingerprint
