"""`floe doctor` as one library call: the machine, every configured registry, the project.

Registries come from every place a command could take one: `--registry`, the project's
floe.yaml `platform.ref`, the lock's `ref`, `FLOE_REGISTRY`; with none of them, the
embedded default (`$FLOE_HOME/registry`). Each distinct repository is probed once
(floe.artifact.doctor). The project is checked the way `floe compile` reads it, step by
step, without the network and without writing a byte: floe.yaml parses, the lock parses
and still matches floe.yaml, every cached file has the size and sha256 the lock pins,
the tree's content digest matches, the locked signature verifies from the cache, the
platform's compute adapter is installed in its range (missing: a warning, as only
`floe run` needs it), and profiles.yml is floe's, names the project's profile and is
what compile would write now.

`diagnose` returns the report (the `--format json` document); `report["ok"]` is False
when any check failed, and the CLI then exits 1.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.artifact.doctor import Check, RegistryProbe, environment, failed, probe_registry
from floe.errors import FloeError

if TYPE_CHECKING:
    from floe.oci.options import RegistryOptions
    from floe.oci.reference import Reference
    from floe.project.floe_yaml import FloeYaml
    from floe.release.lockfile import LockedPlatform
    from floe.tree.model import PlatformTree

INIT_HINT = "run `floe init --platform=VERSION` (for example --platform=v1.2.3)"


def _repository(text: str, base: Path) -> Reference:
    """A reference as a repository (tag or digest dropped); relative layouts under `base`."""
    from floe.oci.reference import DEFAULT_REPOSITORY, parse_reference

    ref = parse_reference(text, default_repository=DEFAULT_REPOSITORY).with_tag(None)
    if ref.is_layout and not Path(ref.path).is_absolute():
        ref = replace(ref, path=str((base / ref.path).resolve()))
    return ref


class _Registries:
    """Every registry named anywhere, once per repository, in precedence order."""

    def __init__(self) -> None:
        self.probes: dict[str, RegistryProbe] = {}
        self.checks: list[Check] = []

    def add(self, text: str | None, source: str, base: Path, needed: bool = False) -> None:
        if not text:
            return
        try:
            ref = _repository(text, base)
        except FloeError as exc:
            if source == "--registry":
                raise  # the user's own flag: a usage error (exit 2), as everywhere
            self.checks.append(failed("registry", "reference", exc))
            return
        probe = self.probes.setdefault(ref.repository_ref(), RegistryProbe(ref, [], False))
        probe.sources.append(source)
        probe.needed = probe.needed or needed


# --------------------------------------------------------------------------- project


def _floe_yaml(project: Path) -> tuple[FloeYaml | None, list[Check]]:
    from floe.project.floe_yaml import read_floe_yaml

    path = project / "floe.yaml"
    try:
        config = read_floe_yaml(path)
    except FloeError as exc:
        return None, [failed("project", "floe.yaml", exc)]
    if config is None:
        return None, [
            Check(
                "project",
                "floe.yaml",
                "skip",
                f"no floe.yaml in {project}: not a floe project (nothing else of it checked)",
                INIT_HINT,
            )
        ]
    if config.platform is None:
        return config, [
            Check("project", "floe.yaml", "fail", f"{path} has no platform block", INIT_HINT)
        ]
    spec = config.platform
    return config, [
        Check("project", "floe.yaml", "ok", f"{path}: platform {spec.ref} {spec.version}")
    ]


def _lock(project: Path, config: FloeYaml) -> tuple[LockedPlatform | None, list[Check]]:
    from floe.project.lifecycle import check_lock_current
    from floe.release.cache import ProjectPaths
    from floe.release.lockfile import read_lock

    path = ProjectPaths(project).lock_file
    try:
        lock = read_lock(path)
    except FloeError as exc:
        return None, [failed("project", "lock", exc)]
    if lock is None:
        hint = "run `floe platform pull` to resolve floe.yaml and write the lock"
        return None, [Check("project", "lock", "fail", f"{path} does not exist", hint)]
    locked = lock.platform
    checks = [
        Check(
            "project",
            "lock",
            "ok",
            f"{path}: {locked.name} {locked.version} ({locked.manifest_digest})",
        )
    ]
    try:
        check_lock_current(config, locked)
    except FloeError as exc:
        checks.append(failed("project", "lock-matches", exc))
        return locked, checks
    checks.append(
        Check("project", "lock-matches", "ok", f"the lock's {locked.version} satisfies floe.yaml")
    )
    return locked, checks


def _cache(project: Path, locked: LockedPlatform) -> tuple[PlatformTree | None, list[Check]]:
    from floe.release.cache import ProjectPaths, check_project_paths, read_verified_tree
    from floe.tree.model import parse_tree
    from floe.trust.cached import check_cached

    paths = ProjectPaths(project)
    try:
        check_project_paths(paths)
        tree_dir = paths.version_dir(locked.version)
        files = read_verified_tree(tree_dir, locked.files)
        tree = parse_tree(files, origin=str(tree_dir))
    except FloeError as exc:
        return None, [failed("project", "cache", exc)]
    if tree.manifest.metadata.digest != locked.content_digest:
        return None, [
            Check(
                "project",
                "cache",
                "fail",
                f"{tree_dir} has content digest {tree.manifest.metadata.digest}, "
                f"the lock says {locked.content_digest}",
                "run `floe platform pull --force` to download and verify it again",
                {"slug": "cache_corrupt"},
            )
        ]
    checks = [
        Check(
            "project",
            "cache",
            "ok",
            f"{tree_dir}: {len(files)} files match the lock's sizes and sha256 digests",
        )
    ]
    try:
        decision = check_cached(
            paths.oci_dir, locked.manifest_digest, locked, tree.manifest.security
        )
    except FloeError as exc:
        checks.append(failed("project", "signature", exc))
        return tree, checks
    if decision is None:
        checks.append(
            Check(
                "project",
                "signature",
                "skip",
                "the lock records no signer (unsigned platform): nothing to verify",
            )
        )
    else:
        checks.append(
            Check(
                "project",
                "signature",
                "ok",
                f"the locked manifest's signature verifies from the cache ({locked.signer})",
            )
        )
    return tree, checks


def _profile(project: Path, profiles_dir: Path | None, tree: PlatformTree) -> Check:
    import yaml

    from floe.project.profiles import (
        HEADER,
        PROFILES_FILE,
        TARGET_NAME,
        build_profile,
        read_profile_name,
    )

    path = (profiles_dir or project) / PROFILES_FILE
    try:
        name = read_profile_name(project)
        expected = build_profile(tree, name, project)
    except FloeError as exc:
        return failed("project", "profile", exc)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Check(
            "project",
            "profile",
            "warn",
            f"{path} not written yet",
            "run `floe compile` to write it",
        )
    except (OSError, UnicodeDecodeError) as exc:
        return Check("project", "profile", "fail", f"cannot read {path}: {exc}")
    if not text.startswith(HEADER):
        return Check(
            "project",
            "profile",
            "fail",
            f"{path} was not written by floe; `floe compile` refuses to replace it",
            "move it away, or pass --profiles-dir where floe writes its profile",
            {"slug": "profiles_not_generated"},
        )
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Check(
            "project",
            "profile",
            "fail",
            f"{path} is not valid YAML ({exc})",
            "run `floe compile` to write it again",
        )
    outputs = data.get(name, {}).get("outputs", {}) if isinstance(data, dict) else {}
    if not isinstance(outputs, dict) or TARGET_NAME not in outputs:
        return Check(
            "project",
            "profile",
            "fail",
            f"{path} has no profile {name!r} with target {TARGET_NAME!r} (dbt_project.yml "
            "names that profile)",
            "run `floe compile` to write it again",
        )
    if text != expected.text:
        return Check(
            "project",
            "profile",
            "warn",
            f"{path}: profile {name!r} differs from what the locked platform gives",
            "run `floe compile` to write it again",
        )
    return Check(
        "project", "profile", "ok", f"{path}: profile {name!r} ({expected.compute}) is current"
    )


def _plugins(tree: PlatformTree) -> Check:
    """The platform's compute adapter, as `floe run` needs it (compile without dbt does not)."""
    from floe.project.plugins import resolve_for_compile

    try:
        resolved = resolve_for_compile(tree, need_adapter=True)
    except FloeError as exc:
        check = failed("project", "plugins", exc)
        # a missing adapter only stops `floe run`; a wrong version stops compile too
        return replace(check, status="warn") if exc.slug == "plugin_not_installed" else check
    compute = next((p for p in resolved if p.slot == "compute"), None)
    if compute is None:
        return Check("project", "plugins", "skip", "the platform names no compute plugin")
    installed = ", ".join(f"{name} {version}" for name, version in compute.versions)
    wanted = f" (the platform asks for {compute.required})" if compute.required else ""
    return Check("project", "plugins", "ok", f"compute {compute.type}: {installed}{wanted}")


def project_checks(
    project: Path, profiles_dir: Path | None, registries: _Registries
) -> list[Check]:
    config, checks = _floe_yaml(project)
    if config is None or config.platform is None:
        return checks
    registries.add(config.platform.ref, "floe.yaml platform.ref", project, needed=True)
    locked, more = _lock(project, config)
    checks += more
    if locked is None:
        return checks
    registries.add(locked.ref, "artifacts.lock", project, needed=True)
    tree, more = _cache(project, locked)
    checks += more
    if tree is not None:
        checks.append(_plugins(tree))
        checks.append(_profile(project, profiles_dir, tree))
    return checks


# --------------------------------------------------------------------------- report


def diagnose(
    registry: str | None = None,
    *,
    project_dir: Path = Path("."),
    profiles_dir: Path | None = None,
    options: RegistryOptions | None = None,
) -> dict[str, Any]:
    """The doctor report: every check, the sections, and `ok` (no check failed)."""
    from floe.oci.options import RegistryOptions
    from floe.oci.resolve import REGISTRY_ENV, default_registry

    options = options or RegistryOptions()
    sections, checks = environment()
    registries = _Registries()
    registries.add(registry, "--registry", Path.cwd())
    env = os.environ.get(REGISTRY_ENV, "").strip()
    registries.add(env, REGISTRY_ENV, Path.cwd())
    checks += project_checks(project_dir, profiles_dir, registries)
    if not registries.probes and not registries.checks:
        registries.add(default_registry(), "embedded default", Path.cwd())
    checks += registries.checks
    probed: list[dict[str, Any]] = []
    for probe in registries.probes.values():
        info, more = probe_registry(probe, options)
        probed.append(info)
        checks += more
    effective = _effective(registry, env, probed)
    failures = sum(1 for c in checks if c.status == "fail")
    warnings = sum(1 for c in checks if c.status == "warn")
    return {
        "event": "doctor",
        "ok": failures == 0,
        "failures": failures,
        "warnings": warnings,
        **sections,
        "registry": effective,
        "registries": probed,
        "checks": [c.to_json() for c in checks],
    }


def _effective(flag: str | None, env: str, probed: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The registry a command would use (flag > FLOE_REGISTRY > floe.yaml > default)."""
    order = (
        "--registry",
        "FLOE_REGISTRY",
        "floe.yaml platform.ref",
        "artifacts.lock",
        "embedded default",
    )
    for source in order:
        for info in probed:
            if source in info["sources"]:
                return {"ref": info["ref"], "source": source}
    return None
