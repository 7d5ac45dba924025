"""The platform team's source manifest (`manifest.yaml`, apiVersion floe.dev/v1, kind Manifest).

`load_manifest(path)` reads the YAML with positions, inlines policy sections that
live in their own files (`{from: ../../policies/acme/classification.yaml}`), and
validates against the strict models below. Any problem is a UsageError
`manifest_invalid` naming `file:line:col: field.path: message` (unknown keys get a
did-you-mean). Cross-references (a rule naming an unknown level, a permission for
an unknown role) are not checked here: `floe platform test` reports them.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from floe.errors import UsageError
from floe.platform.rule_families import RulesSpec
from floe.platform.secrets import secret_shape
from floe.tree.plugins import known_types
from floe.yaml_loader import (
    Mark,
    YamlDocument,
    YamlPath,
    format_path,
    load_yaml_with_positions,
)

SLUG = "manifest_invalid"

SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

DEFAULT_PREFIXES: dict[str, dict[str, str]] = {
    "medallion": {"bronze": "bronze_", "silver": "silver_", "gold": "gold_"},
    "kimball": {"staging": "stg_", "intermediate": "int_", "dimension": "dim_", "fact": "fct_"},
    "custom": {},
}
DEFAULT_LEVELS = ("public", "internal", "confidential", "pii", "phi")

# Sections that may live in their own file: `section: {from: relative/path.yaml}`.
FROM_SECTIONS: tuple[YamlPath, ...] = (
    ("data_architecture",),
    ("governance", "classification"),
    ("governance", "access_control"),
    ("governance", "quality_gates"),
    ("catalog",),
)


class _Source(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _unique(values: list[str], what: str) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)
    return values


def _check_regex(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return pattern


# ---- metadata --------------------------------------------------------------------


class Metadata(_Source):
    name: str = Field(description="Platform name: lowercase letters, digits and dashes.")
    version: str = Field(description='Semantic version, e.g. "1.2.3" (quote it in YAML).')
    scope: Literal["enterprise", "domain"] = Field(
        "enterprise", description="enterprise: the whole company; domain: one data domain."
    )
    created: str | None = Field(
        None,
        description="RFC 3339 timestamp pinned into the artifact (else SOURCE_DATE_EPOCH).",
    )
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid name: use lowercase letters, digits and dashes "
                "(at most 63, starting and ending with a letter or digit)"
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        bare = value[1:] if value.startswith("v") else value
        if not SEMVER_RE.match(bare):
            raise ValueError(f"{value!r} is not a semantic version like 1.2.3")
        return bare

    @field_validator("created")
    @classmethod
    def _created(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rfc3339(value)
        return value


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset (Z or +hh:mm)."""
    pattern = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
    if not re.match(pattern, value):
        raise ValueError(f"{value!r} is not an RFC 3339 timestamp like 2024-01-15T10:30:00Z")
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from None


# ---- plugins ---------------------------------------------------------------------


class PluginRef(_Source):
    type: str = Field(description="Plugin type, e.g. duckdb, dagster, polaris.")
    version: str | None = Field(
        None,
        description="PEP 440 range of the plugin's package the platform requires "
        "(e.g. '>=1.10,<2' for dbt-duckdb); default: any installed version.",
    )
    config: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Plugin settings. Secrets are refused: use ${env:NAME} references.",
    )


class Plugins(_Source):
    compute: PluginRef = Field(description="Where models run (duckdb).")
    orchestrator: PluginRef | None = Field(None, description="Scheduler (dagster).")
    catalog: PluginRef | None = Field(None, description="Table catalog (polaris).")


# ---- data architecture -----------------------------------------------------------


class Naming(_Source):
    enforcement: Literal["strict", "warn", "off"] = Field(
        "strict", description="strict fails the compile gate, warn reports, off skips."
    )
    prefixes: dict[str, str] | None = Field(
        None,
        description="layer -> model name prefix. Replaces the pattern's defaults when given.",
    )
    custom_regex: str | None = Field(None, description="Regex every model name must match.")

    _regex = field_validator("custom_regex")(_check_regex)


class LayerSpec(_Source):
    required_tests: list[str] = Field(default_factory=list)

    @field_validator("required_tests")
    @classmethod
    def _tests(cls, value: list[str]) -> list[str]:
        return _unique(value, "test")


class DataArchitecture(_Source):
    pattern: Literal["medallion", "kimball", "custom"] = "medallion"
    naming: Naming = Field(default_factory=Naming)
    layers: dict[str, LayerSpec] = Field(
        default_factory=dict, description="layer -> constraints (required tests)."
    )

    @model_validator(mode="after")
    def _custom_needs_rules(self) -> DataArchitecture:
        if self.pattern == "custom" and not (self.naming.prefixes or self.naming.custom_regex):
            raise ValueError("pattern custom needs naming.prefixes or naming.custom_regex")
        return self

    def prefixes(self) -> dict[str, str]:
        if self.naming.prefixes is not None:
            return dict(self.naming.prefixes)
        return dict(DEFAULT_PREFIXES[self.pattern])


# ---- governance ------------------------------------------------------------------


class ClassificationRuleSpec(_Source):
    forbidden_layers: list[str] = Field(default_factory=list)
    forbidden_namespaces: list[str] = Field(default_factory=list)
    requires_description: bool = False


class ClassificationSpec(_Source):
    levels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LEVELS),
        min_length=1,
        description="Known levels, least to most sensitive.",
    )
    default_level: str | None = Field(None, description="Level of unclassified columns.")
    propagate: bool = Field(True, description="Downstream columns inherit levels via ref().")
    rules: dict[str, ClassificationRuleSpec] = Field(
        default_factory=dict, description="level -> where columns of that level may not go."
    )

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: list[str]) -> list[str]:
        return _unique(value, "level")


class AccessControlSpec(_Source):
    roles: list[str] = Field(default_factory=list)
    permissions: dict[str, list[str]] = Field(
        default_factory=dict, description="role -> privileges."
    )

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return _unique(value, "role")


class QualityGatesSpec(_Source):
    minimum_test_coverage: float = Field(
        0, ge=0, le=100, description="Percent of models that must have tests."
    )
    required_tests: list[str] = Field(default_factory=list)
    block_on_failure: bool = True

    @field_validator("required_tests")
    @classmethod
    def _tests(cls, value: list[str]) -> list[str]:
        return _unique(value, "test")


class WaiversSpec(_Source):
    allowed: list[str] = Field(
        default_factory=list, description="Rule ids a project may waive (`family.*` globs)."
    )
    max_days: int = Field(90, ge=1, le=3650, description="Longest waiver expiry, in days.")


class Governance(_Source):
    classification: ClassificationSpec = Field(default_factory=ClassificationSpec)
    access_control: AccessControlSpec = Field(default_factory=AccessControlSpec)
    quality_gates: QualityGatesSpec = Field(default_factory=QualityGatesSpec)
    waivers: WaiversSpec | None = None
    exempt_packages: list[str] = Field(
        default_factory=list, description="dbt packages whose nodes floe does not govern."
    )


# ---- catalog ---------------------------------------------------------------------


class SchemaConstraints(_Source):
    require_column_descriptions: bool = False
    require_column_data_types: bool = False
    column_name_pattern: str | None = Field(None, description="Regex every column must match.")

    _regex = field_validator("column_name_pattern")(_check_regex)


class CatalogSpec(_Source):
    namespaces: list[str] | None = Field(
        None, description="Approved namespaces (schemas); default: the architecture's layers."
    )
    grants: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict, description="namespace -> role -> privileges."
    )
    schema_constraints: SchemaConstraints = Field(default_factory=SchemaConstraints)

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _unique(value, "namespace")


# ---- security and artifacts ------------------------------------------------------


class TrustedIdentitySpec(_Source):
    issuer: str = Field(description="OIDC issuer, e.g. https://token.actions.githubusercontent.com")
    subject: str | None = Field(None, description="Exact certificate identity.")
    subject_regex: str | None = Field(None, description="Regex over the certificate identity.")

    _regex = field_validator("subject_regex")(_check_regex)

    @model_validator(mode="after")
    def _one_subject(self) -> TrustedIdentitySpec:
        if (self.subject is None) == (self.subject_regex is None):
            raise ValueError("give exactly one of subject or subject_regex")
        return self


class SigningSpec(_Source):
    key: str | None = Field(None, description="Path to the cosign.key used by publish.")


class SecuritySpec(_Source):
    require_signed_artifacts: bool = False
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="Public key PEM files (relative to the manifest), inlined at compile.",
    )
    trusted_identities: list[TrustedIdentitySpec] = Field(default_factory=list)
    signing: SigningSpec = Field(default_factory=SigningSpec)


class ArtifactsSpec(_Source):
    registry: str | None = Field(
        None, description="Where publish pushes: oci://HOST/REPO or oci-layout://PATH."
    )

    @field_validator("registry")
    @classmethod
    def _registry(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("oci://", "oci-layout://")):
            raise ValueError(f"{value!r} must start with oci:// or oci-layout://")
        return value


class ExtendsSpec(_Source):
    """The platform this one builds on (docs/platform-teams.md "Inheritance")."""

    ref: str = Field(
        description="The parent's repository, no tag: oci://HOST/REPO or oci-layout://PATH."
    )
    version: str = Field(
        description='Version constraint as `floe init --platform` takes it: "^1.2", "v1.2.*".'
    )
    trusted_keys: list[str] = Field(
        default_factory=list,
        description="PEM public keys (files relative to the manifest) that must have signed "
        "the parent; none and no identity: trust on first use, recorded in platform.lock.",
    )
    trusted_identities: list[TrustedIdentitySpec] = Field(default_factory=list)

    @field_validator("ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        from floe.oci.resolve import parse_repository

        if not value.startswith(("oci://", "oci-layout://")):
            raise ValueError(f"{value!r} must start with oci:// or oci-layout://")
        try:
            parse_repository(value)
        except UsageError as exc:
            raise ValueError(f"{exc.message}; give the version in `version:`") from None
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        from floe.release.constraints import parse_constraint

        try:
            parse_constraint(value)
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return value


class SourceManifest(_Source):
    """A platform manifest as the platform team writes it."""

    apiVersion: Literal["floe.dev/v1"]
    kind: Literal["Manifest"]
    metadata: Metadata
    plugins: Plugins
    data_architecture: DataArchitecture = Field(default_factory=DataArchitecture)
    governance: Governance = Field(default_factory=Governance)
    catalog: CatalogSpec = Field(default_factory=CatalogSpec)
    security: SecuritySpec = Field(default_factory=SecuritySpec)
    artifacts: ArtifactsSpec = Field(default_factory=ArtifactsSpec)
    rules: RulesSpec | None = Field(None, description="Catalogue rule families (docs/rules.md).")
    extends: ExtendsSpec | None = Field(
        None, description="A published platform this one inherits from; stricter wins."
    )
    share_tests: bool = Field(
        True,
        description="Ship tests/*.yaml in the artifact so every platform extending this one "
        "runs them in `floe platform test` (false keeps them out; a parent's tests are part "
        "of its contract, so they travel by default).",
    )


# ---- where things came from ------------------------------------------------------


@dataclass(frozen=True)
class Location:
    file: str
    mark: Mark

    def __str__(self) -> str:
        return f"{self.file}:{self.mark}"


class SourceMap:
    """Positions across the manifest and the policy files it pulls in with `from:`."""

    def __init__(self, root: YamlDocument) -> None:
        self.docs: list[tuple[YamlPath, YamlDocument]] = [((), root)]

    def add(self, prefix: YamlPath, doc: YamlDocument) -> None:
        self.docs.append((prefix, doc))

    def locate(self, path: YamlPath, *, key: bool = False) -> Location:
        # The deepest document mounted at a prefix of path owns it; a mount point's own
        # key (`classification:` holding `from:`) lives in the document above it.
        owners = [
            (prefix, doc)
            for prefix, doc in self.docs
            if path[: len(prefix)] == prefix and (len(prefix) < len(path) or not (key and prefix))
        ]
        prefix, doc = max(owners, key=lambda owner: len(owner[0]))
        return Location(doc.file, doc.mark(path[len(prefix) :], key=key))

    def fail(
        self,
        path: YamlPath,
        message: str,
        *,
        key: bool = False,
        slug: str = SLUG,
        hint: str | None = None,
    ) -> NoReturn:
        where = self.locate(path, key=key)
        raise UsageError(
            slug,
            f"{where}: {format_path(path)}: {message}",
            hint=hint or f"fix {where.file} and run the command again",
        )


@dataclass(frozen=True)
class LoadedManifest:
    model: SourceManifest
    path: Path
    raw: dict[str, Any]  # after `from:` inlining, before defaults
    source_map: SourceMap

    @property
    def base_dir(self) -> Path:
        return self.path.parent


# ---- loading ---------------------------------------------------------------------


def _get(data: Any, path: YamlPath) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _inline_from_sections(data: dict[str, Any], base: Path, smap: SourceMap) -> None:
    for section in FROM_SECTIONS:
        value = _get(data, section)
        if not isinstance(value, dict) or "from" not in value:
            continue
        if set(value) != {"from"}:
            extra = sorted(str(k) for k in value if k != "from")
            smap.fail(
                (*section, extra[0]), "a section with `from:` may hold no other keys", key=True
            )
        ref = value["from"]
        if not isinstance(ref, str) or not ref.strip():
            smap.fail((*section, "from"), "`from:` must be a relative path to a YAML file")
        target = Path(ref)
        if target.is_absolute():
            smap.fail((*section, "from"), f"{ref!r} must be relative to the manifest's directory")
        policy_path = base / target
        if not policy_path.is_file():
            smap.fail(
                (*section, "from"),
                f"policy file {_display(policy_path)} not found (paths are relative to the "
                "manifest's directory)",
            )
        doc = load_yaml_with_positions(policy_path, slug=SLUG, display=_display(policy_path))
        smap.add(section, doc)
        parent = _get(data, section[:-1]) if len(section) > 1 else data
        parent[str(section[-1])] = doc.data


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.path.normpath(path)


def _field_names(loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the model reached by following loc from SourceManifest."""
    current: Any = SourceManifest
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, type(int | None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _describe(error: Any) -> tuple[str, bool]:
    """(message, point at key?) for one pydantic error."""
    kind, loc = error["type"], error["loc"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _field_names(tuple(loc[:-1]))
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        message = f"unknown key {name!r}"
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif allowed:
            message += f"; allowed: {', '.join(allowed)}"
        return message, True
    if kind == "missing":
        return f"missing required key {str(loc[-1])!r}", True
    message = str(error["msg"])
    value = error.get("input")
    if isinstance(value, str) and secret_shape(value):  # never echo a credential
        message = message.replace(repr(value), "<redacted>").replace(value, "<redacted>")
        return message, False
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind.endswith("_type") or kind in (
        "literal_error",
        "less_than_equal",
        "greater_than_equal",
    ):
        message += f" (got {_yaml_repr(error.get('input'))})"
    return message, False


def _yaml_repr(value: Any) -> str:
    """How a YAML author would describe a value: `1.2 (a number)`, `'80' (a string)`."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"{text} ({kinds.get(type(value), type(value).__name__)})"


def _raise_validation(exc: ValidationError, smap: SourceMap) -> NoReturn:
    found: list[tuple[Location, str, str]] = []
    for error in exc.errors():
        path: YamlPath = tuple(error["loc"])
        message, on_key = _describe(error)
        where = smap.locate(path[:-1] if error["type"] == "missing" else path, key=on_key)
        found.append((where, format_path(path), message))
    found.sort(key=lambda item: (item[0].file, item[0].mark.line, item[0].mark.column))
    where, path_text, message = found[0]
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    raise UsageError(
        SLUG,
        f"{where}: {path_text}: {message}{more}",
        hint=f"fix {where.file} and run the command again",
        details={
            "errors": [
                {
                    "file": w.file,
                    "line": w.mark.line,
                    "column": w.mark.column,
                    "path": p,
                    "message": m,
                }
                for w, p, m in found
            ]
        },
    )


def refuse_secrets(raw: dict[str, Any], smap: SourceMap) -> None:
    """`compile_secret_detected` at the first credential, naming its place, never its value."""
    from floe.platform.secrets import find_secrets

    findings = find_secrets(raw)
    if not findings:
        return

    def position(path: tuple[str | int, ...]) -> tuple[str, int, int]:
        where = smap.locate(path)
        return where.file, where.mark.line, where.mark.column

    first = min(findings, key=lambda f: position(f.path))
    words = [str(p) for p in first.path if isinstance(p, str) and p not in ("plugins", "config")]
    env_name = "_".join(words[-2:]).upper().replace("-", "_")
    smap.fail(
        first.path,
        f"{first.reason}; secrets must not be compiled into platform artifacts",
        slug="compile_secret_detected",
        hint=f"reference it from the environment instead, e.g. ${{env:{env_name}}}",
    )


def load_manifest(path: Path) -> LoadedManifest:
    """Read, inline `from:` sections and validate a source manifest (UsageError on any problem)."""
    if not path.is_file():
        raise UsageError(
            "manifest_missing",
            f"{_display(path)}: no such manifest file",
            hint="pass the path of a platform manifest.yaml",
        )
    doc = load_yaml_with_positions(path, slug=SLUG, display=_display(path))
    smap = SourceMap(doc)
    data: dict[str, Any] = doc.data
    _inline_from_sections(data, path.parent, smap)
    refuse_secrets(data, smap)  # before validation: its messages may quote values
    try:
        model = SourceManifest.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, smap)
    return LoadedManifest(model=model, path=path, raw=data, source_map=smap)


@dataclass(frozen=True)
class ResolvedPlugin:
    slot: str
    type: str
    version: str
    config: dict[str, Any]

    @property
    def line(self) -> str:
        from floe.tree.plugins import describe

        return describe(self.slot, self.type, self.version)


# Config keys whose type a plugin relies on (other keys pass through to the plugin).
CONFIG_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "duckdb": {"path": (str,), "threads": (int,), "extensions": (list,), "settings": (dict,)},
    "postgres": {
        "host": (str,),
        "port": (int, str),
        "user": (str,),
        "dbname": (str,),
        "schema": (str,),
        "threads": (int,),
        "create_roles": (bool,),
    },
}


def _check_config_types(loaded: LoadedManifest, slot: str, ref: PluginRef) -> None:
    for key, expected in CONFIG_TYPES.get(ref.type, {}).items():
        value = ref.config.get(key)
        if value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in expected
        if wrong_bool or not isinstance(value, expected):
            names = " or ".join(
                {str: "a string", int: "a whole number", list: "a list", dict: "a mapping"}[t]
                for t in expected
            )
            loaded.source_map.fail(
                ("plugins", slot, "config", key),
                f"{ref.type} expects {names} (got {_yaml_repr(value)})",
            )


def resolve_plugins(loaded: LoadedManifest) -> list[ResolvedPlugin]:
    """Check each plugin against the known plugins and pin its version (transcript order)."""
    resolved: list[ResolvedPlugin] = []
    for slot in ("orchestrator", "catalog", "compute"):
        ref: PluginRef | None = getattr(loaded.model.plugins, slot)
        if ref is None:
            continue
        known = known_types(slot)
        if ref.type not in known:
            close = difflib.get_close_matches(ref.type, known, n=1)
            guess = f"; did you mean {close[0]!r}?" if close else ""
            loaded.source_map.fail(
                ("plugins", slot, "type"),
                f"unknown {slot} plugin {ref.type!r}{guess} known: {', '.join(known)}",
            )
        version = _version_range(loaded, slot, ref.version)
        _check_config_types(loaded, slot, ref)
        resolved.append(ResolvedPlugin(slot, ref.type, version, dict(ref.config)))
    return resolved


def _version_range(loaded: LoadedManifest, slot: str, raw: str | None) -> str:
    """The normalised PEP 440 range ('' = any); a bare version means exactly that one."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not raw:
        return ""
    text = raw.strip()
    if text[:1].isdigit():
        text = "==" + text
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        loaded.source_map.fail(
            ("plugins", slot, "version"),
            f"{raw!r} is not a version range like '>=1.10,<2'",
        )


def from_sections_schema() -> dict[str, Any]:
    """JSON Schema of a `{from: path}` reference (for `floe schema export`)."""
    return {
        "additionalProperties": False,
        "description": "Load this section from a YAML file (path relative to the manifest).",
        "properties": {"from": {"minLength": 1, "type": "string"}},
        "required": ["from"],
        "title": "PolicyRef",
        "type": "object",
    }


SCHEMA_ID = "https://floe.dev/schemas/manifest.schema.json"


def manifest_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of manifest.yaml, `{from: file}` allowed where supported."""
    schema = SourceManifest.model_json_schema()
    defs: dict[str, Any] = schema["$defs"]
    defs["PolicyRef"] = from_sections_schema()
    for section in FROM_SECTIONS:
        parent = _model_at(section[:-1])
        holder = schema if parent is SourceManifest else defs[parent.__name__]
        prop = holder["properties"][section[-1]]
        ref = prop.pop("$ref")
        prop["anyOf"] = [{"$ref": ref}, {"$ref": "#/$defs/PolicyRef"}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "floe platform manifest"
    return schema


def _model_at(path: YamlPath) -> type[BaseModel]:
    model: type[BaseModel] = SourceManifest
    for part in path:
        model = _unwrap(model.model_fields[str(part)].annotation)
    return model


def manifest_schema_bytes() -> bytes:
    """The exported schema: sorted keys, 2-space indent, UTF-8, final newline."""
    from floe.tree.model import dump_json

    return dump_json(manifest_json_schema())
