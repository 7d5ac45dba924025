"""`floe platform compile`: source manifest -> the compiled tree of floe/tree/model.py.

Deterministic: the output depends only on the input bytes. `created` comes from
`metadata.created`, else SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z (never the
clock); every file is written by `tree.model_bytes` (sorted keys, `\\n`, UTF-8);
lists derived from mapping keys are sorted. The tree is written to a temporary
directory beside the output and swapped into place, so a reader sees the old tree
or the new one, never half of each.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import BaseModel

from floe.errors import UsageError
from floe.files import replace_dir
from floe.platform.manifest import (
    LoadedManifest,
    ResolvedPlugin,
    load_manifest,
    parse_rfc3339,
    refuse_secrets,
    resolve_plugins,
)
from floe.platform.rule_families import compile_families
from floe.tree import model as tree

if TYPE_CHECKING:
    from floe.events import Events
    from floe.oci.options import RegistryOptions
    from floe.platform.inherit_source import Parent

Reporter = Callable[[str], None]
EPOCH = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class CompileResult:
    out_dir: Path
    files: dict[str, bytes]
    content_digest: str
    manifest: tree.PlatformManifest
    plugins: list[ResolvedPlugin]
    parent: Parent | None = None  # the verified parent of a manifest with `extends:`
    lock_written: bool = False  # platform.lock changed (compile_platform writes it last)


def pinned_created(created: str | None, env: dict[str, str] | None = None) -> str:
    """The artifact's `created`: manifest, else SOURCE_DATE_EPOCH, else the Unix epoch."""
    if created is not None:
        moment = parse_rfc3339(created).astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(moment) + "Z"
    raw = (os.environ if env is None else env).get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return EPOCH
    if not raw.isdigit():
        raise UsageError(
            "source_date_epoch_invalid",
            f"SOURCE_DATE_EPOCH={raw!r} is not a whole number of seconds",
            hint="set it to e.g. $(git log -1 --format=%ct), or unset it",
        )
    return datetime.fromtimestamp(int(raw), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fraction(moment: datetime) -> str:
    return f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""


def check_secrets(loaded: LoadedManifest) -> None:
    """The secret check (load_manifest already ran it before schema validation)."""
    refuse_secrets(loaded.raw, loaded.source_map)


def _trusted_key_pem(loaded: LoadedManifest, index: int, entry: str) -> str:
    """Inline a trusted public key: a PEM file relative to the manifest, or PEM text."""
    from cryptography.hazmat.primitives import serialization

    path = ("security", "trusted_keys", index)
    if entry.lstrip().startswith("-----BEGIN"):
        pem = entry.encode()
    else:
        key_file = loaded.base_dir / entry
        if not key_file.is_file():
            loaded.source_map.fail(path, f"public key file {entry!r} not found next to manifest")
        pem = key_file.read_bytes()
    if b"PRIVATE KEY" in pem:
        loaded.source_map.fail(
            path,
            "this is a private key; list the public key (cosign.pub) instead",
            slug="compile_secret_detected",
        )
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        loaded.source_map.fail(path, f"{entry[:60]!r} is not a PEM public key")
    canonical = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return canonical.decode("ascii")


def build_policies(loaded: LoadedManifest) -> dict[str, BaseModel]:
    """Governance and catalog files, keyed by tree path (order = transcript order)."""
    gov = loaded.model.governance
    arch = loaded.model.data_architecture
    cls_spec = gov.classification
    catalog = loaded.model.catalog
    namespaces = catalog.namespaces if catalog.namespaces is not None else sorted(arch.prefixes())
    return {
        tree.CLASSIFICATION_FILE: tree.Classification(
            levels=list(cls_spec.levels),
            default_level=cls_spec.default_level,
            propagate=cls_spec.propagate,
            rules={
                level: tree.ClassificationRule(**rule.model_dump())
                for level, rule in cls_spec.rules.items()
            },
        ),
        tree.ACCESS_CONTROL_FILE: tree.AccessControl(
            roles=list(gov.access_control.roles),
            permissions={k: list(v) for k, v in gov.access_control.permissions.items()},
        ),
        tree.QUALITY_GATES_FILE: tree.QualityGates(
            minimum_test_coverage=_number(gov.quality_gates.minimum_test_coverage),
            required_tests=list(gov.quality_gates.required_tests),
            block_on_failure=gov.quality_gates.block_on_failure,
            governance=_governance(gov),
        ),
        tree.NAMESPACES_FILE: tree.Namespaces(
            namespaces=list(namespaces),
            grants={
                ns: {role: list(privs) for role, privs in roles.items()}
                for ns, roles in catalog.grants.items()
            },
        ),
        tree.SCHEMA_REGISTRY_FILE: tree.SchemaRegistry(**catalog.schema_constraints.model_dump()),
    }


def _number(value: float) -> int | float:
    """80 and 80.0 in YAML compile to the same bytes (`80`)."""
    return int(value) if float(value).is_integer() else value


def build_architecture(loaded: LoadedManifest) -> dict[str, BaseModel]:
    arch = loaded.model.data_architecture
    prefixes = arch.prefixes()
    layers = {layer: tree.LayerConstraint() for layer in prefixes}
    for layer, spec in arch.layers.items():
        layers[layer] = tree.LayerConstraint(required_tests=list(spec.required_tests))
    return {
        tree.NAMING_RULES_FILE: tree.NamingRules(
            pattern=arch.pattern,
            enforcement=arch.naming.enforcement,
            prefixes=prefixes,
            custom_regex=arch.naming.custom_regex,
        ),
        tree.LAYER_CONSTRAINTS_FILE: tree.LayerConstraints(layers=layers),
    }


def build_manifest(
    loaded: LoadedManifest, plugins: list[ResolvedPlugin], created: str, digest: str
) -> tree.PlatformManifest:
    source = loaded.model
    security = source.security
    return tree.PlatformManifest(
        metadata=tree.ArtifactMetadata(
            name=source.metadata.name,
            version=source.metadata.version,
            created=created,
            digest=digest,
            scope=source.metadata.scope,
        ),
        plugins={p.slot: p.type for p in plugins},
        plugin_details={
            p.slot: tree.PluginDetail(type=p.type, version=p.version, config=p.config)
            for p in plugins
        },
        security=tree.TrustPolicy(
            require_signed_artifacts=security.require_signed_artifacts,
            trusted_keys=[
                _trusted_key_pem(loaded, i, entry) for i, entry in enumerate(security.trusted_keys)
            ],
            trusted_identities=[
                tree.TrustedIdentity(**identity.model_dump())
                for identity in security.trusted_identities
            ],
        ),
        artifacts={"registry": source.artifacts.registry} if source.artifacts.registry else {},
    )


def _guard_out_dir(out_dir: Path) -> None:
    """Only ever replace a directory that holds a compiled tree (never a user's folder)."""

    def refuse(why: str) -> NoReturn:
        raise UsageError(
            "compile_out_invalid",
            f"{out_dir}: {why}; refusing to replace it",
            hint="pass a new directory, or one that holds only a compiled tree, with --out",
        )

    resolved = out_dir.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        refuse("it is the working directory or one of its parents")
    if out_dir.is_symlink():
        refuse("it is a symbolic link")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        refuse("it exists and is not a directory")
    for entry in out_dir.rglob("*"):
        rel = entry.relative_to(out_dir).as_posix()
        known = rel in tree.TREE_FILES or rel in tree.OPTIONAL_TREE_FILES
        if entry.is_symlink() or (entry.is_file() and not known):
            refuse(f"it holds {rel}, which is not part of a compiled platform tree")


def write_tree_atomically(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write files to a sibling temp dir, then swap it in place of out_dir."""
    _guard_out_dir(out_dir)
    out_dir = out_dir.absolute()
    try:
        _swap_in(out_dir, files)
    except OSError as exc:
        raise UsageError(
            "compile_write_failed",
            f"cannot write {out_dir}: {exc.strerror or exc}",
            hint="check permissions and free space, then compile again",
        ) from None


def _swap_in(out_dir: Path, files: dict[str, bytes]) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for rel, data in sorted(files.items()):
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(staging, 0o755)
        replace_dir(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def compile_platform(
    manifest_path: Path,
    out_dir: Path,
    *,
    report: Reporter = lambda _line: None,
    env: dict[str, str] | None = None,
    offline: bool = False,
    options: RegistryOptions | None = None,
    events: Events | None = None,
) -> CompileResult:
    """Validate, build and write the tree; `report` receives the progress lines.

    `offline`, `options` and `events` concern the parent of a manifest with `extends:`
    (events default to `report` lines; the CLI passes its renderer so warnings such as
    trust on first use reach stderr in JSON mode too)."""
    built = build_tree(
        manifest_path, report=report, env=env, offline=offline, options=options, events=events
    )
    write_tree_atomically(out_dir, built.files)
    written = built.parent.write_lock() if built.parent is not None else False
    return replace(built, out_dir=out_dir, lock_written=written)


def build_tree(
    manifest_path: Path,
    *,
    report: Reporter = lambda _line: None,
    env: dict[str, str] | None = None,
    offline: bool = False,
    options: RegistryOptions | None = None,
    events: Events | None = None,
) -> CompileResult:
    """Validate and build the tree in memory (`out_dir` is the source path).

    Writes no tree and no lock; a manifest with `extends:` fills the parent's caches
    (verified content) and hands the parent back in `parent` for `compile_platform` to
    lock. `publish --attest` uses this to check that the tree it publishes is what the
    source compiles to, before it signs provenance naming that source.
    """
    report(
        f"[1/4] Validating {manifest_path.name if _is_cwd_file(manifest_path) else manifest_path}"
    )
    loaded = load_manifest(manifest_path)
    check_secrets(loaded)
    report("  ✓ Schema validation passed")
    plugins = resolve_plugins(loaded)
    report("  ✓ Plugin references valid")
    parent = None
    if loaded.model.extends is not None:
        from floe.platform.inherit_source import fetch_parent

        listener = events if events is not None else _ReportEvents(report)
        parent = fetch_parent(loaded, offline=offline, options=options, events=listener)
        locked = parent.locked
        report(f"  ✓ Extends {locked.ref} ({locked.manifest_digest}, trust: {parent.trust})")
    report("")
    report("[2/4] Recording plugins (resolved against the environment by `floe compile`)")
    for plugin in plugins:
        report(f"  {plugin.line}")
    report("")
    report("[3/4] Building governance policies")
    models: dict[str, BaseModel] = {}
    families = compile_families(loaded)  # the catalogue families the manifest turned on
    architecture = {rel: m for rel, m in families.items() if rel.startswith("architecture/")}
    policies = {rel: m for rel, m in families.items() if rel not in architecture}
    for rel, model in {**build_policies(loaded), **policies}.items():
        models[rel] = model
        report(f"  ✓ {Path(rel).name}")
    report("")
    report("[4/4] Building architecture rules")
    for rel, model in {**build_architecture(loaded), **architecture}.items():
        models[rel] = model
        report(f"  ✓ {Path(rel).name}")
    inheritance = None
    if parent is not None:
        from floe.platform.inherit import merge_parent, require_signatures

        models = merge_parent(parent, loaded, models)
        required = require_signatures(loaded, parent)
        inheritance = inheritance_record(loaded, parent)
        report(f"  ✓ Merged with {parent.locked.name} {parent.locked.version} (stricter wins)")
    elif loaded.model.share_tests:
        inheritance = inheritance_record(loaded, None)
        if not inheritance.tests:  # nothing to pass down: manifest.json carries no block
            inheritance = None
    files = {rel: tree.model_bytes(model) for rel, model in models.items()}
    digest = tree.content_digest(files)
    created = pinned_created(loaded.model.metadata.created, env)
    manifest = build_manifest(loaded, plugins, created, digest)
    if parent is not None or inheritance is not None:
        security = manifest.security
        if parent is not None:
            security = security.model_copy(update={"require_signed_artifacts": required})
        manifest = manifest.model_copy(update={"security": security, "inheritance": inheritance})
    files[tree.MANIFEST_FILE] = tree.model_bytes(manifest)
    tree.parse_tree(files, origin="compiled tree")  # the contract holds before anything lands
    return CompileResult(manifest_path, files, digest, manifest, plugins, parent)


def _is_cwd_file(path: Path) -> bool:
    return not path.is_absolute() and len(path.parts) == 1


def default_manifest(cwd: Path) -> Path:
    """./manifest.yaml, else the only manifests/*/manifest.yaml."""
    if (cwd / "manifest.yaml").is_file():
        return Path("manifest.yaml")
    found = sorted(cwd.glob("manifests/*/manifest.yaml"))
    if len(found) == 1:
        return found[0].relative_to(cwd)
    if not found:
        raise UsageError(
            "manifest_missing",
            "no manifest.yaml here and none under manifests/*/",
            hint="pass the path: floe platform compile path/to/manifest.yaml",
        )
    names = ", ".join(str(p.relative_to(cwd)) for p in found)
    raise UsageError(
        "manifest_ambiguous",
        f"several manifests found ({names})",
        hint="pass the one to compile: floe platform compile manifests/NAME/manifest.yaml",
    )


def _governance(gov: Any) -> tree.GovernancePolicy | None:
    """governance.waivers / exempt_packages of the manifest, or None when neither is set."""
    if gov.waivers is None and not gov.exempt_packages:
        return None
    waivers = None if gov.waivers is None else tree.WaiverPolicy(**gov.waivers.model_dump())
    return tree.GovernancePolicy(waivers=waivers, exempt_packages=list(gov.exempt_packages))


class _ReportEvents:
    """The parent fetch's events as compile transcript lines."""

    def __init__(self, report: Reporter) -> None:
        self.report = report

    def step(self, name: str) -> None:
        self.report(f"  ✓ {name}")

    def progress(self, done: int, total: int) -> None:
        return None

    def info(self, message: str) -> None:
        self.report(f"  {message.strip()}")

    def warn(self, message: str) -> None:
        self.report(f"  {message.strip()}")


MAX_SHARED_TEST_BYTES = 256 * 1024  # per case file
MAX_SHARED_TESTS_BYTES = 1024 * 1024  # all of them, inherited ones included


def inheritance_record(loaded: LoadedManifest, parent: Parent | None) -> tree.Inheritance:
    """manifest.json's `inheritance`: the parents (nearest first) and the shared tests."""
    parents: list[tree.ParentRelease] = []
    tests: list[tree.SharedTest] = []
    if parent is not None:
        locked = parent.locked
        parents.append(
            tree.ParentRelease(
                ref=locked.ref,
                manifest_digest=locked.manifest_digest,
                content_digest=locked.content_digest,
                name=locked.name,
                version=locked.version.removeprefix("v"),
            )
        )
        above = parent.tree.manifest.inheritance
        if above is not None:
            parents += above.parents
            tests += above.tests
    if loaded.model.share_tests:
        label = f"{loaded.model.metadata.name} v{loaded.model.metadata.version}"
        for path in sorted((loaded.base_dir / "tests").glob("*.y*ml")):
            data = path.read_bytes()
            if len(data) > MAX_SHARED_TEST_BYTES:
                loaded.source_map.fail(
                    ("share_tests",),
                    f"{path.name} is {len(data)} bytes (limit {MAX_SHARED_TEST_BYTES})",
                )
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                loaded.source_map.fail(("share_tests",), f"{path.name} is not UTF-8")
            tests.append(tree.SharedTest(platform=label, file=path.name, text=text))
    total = sum(len(test.text.encode()) for test in tests)
    if total > MAX_SHARED_TESTS_BYTES:
        loaded.source_map.fail(
            ("share_tests",), f"shared tests total {total} bytes (limit {MAX_SHARED_TESTS_BYTES})"
        )
    return tree.Inheritance(parents=parents, tests=tests)
