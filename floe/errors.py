"""Errors: typed kinds under stable slugs, and the one registry of slugs.

Every foreseeable failure is a `FloeError` with a stable slug (machine-readable,
never renamed once shipped), a one-line message, a hint saying what to do next,
and an exit code: 1 when a gate fired (policy, signature, digest, drift, a bad
artifact), 2 for usage or configuration errors. The CLI renders it as one line, or as
`{"event": slug, ...}` with `--format json`; no traceback reaches the user.

Under the slugs sit six kinds, as oras-go's `errdef` has them: `NotFound`, `Conflict`,
`Integrity`, `Transient`, `Denied`, `Usage`. Code decides by kind
(`except NotFound`), never by slug text. `SLUGS` maps every slug to its kind, exit
code and a one-line doc; docs/errors.md is checked against it
(tests/test_errors_doc.py). Raising `GateError("blob_not_found", ...)` gives an
instance of both `GateError` and `NotFound`: the kind comes from the registry, so
the hundreds of raise sites stay short.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2

NOT_FOUND = "not_found"
CONFLICT = "conflict"
INTEGRITY = "integrity"
TRANSIENT = "transient"
DENIED = "denied"
USAGE = "usage"


class SlugInfo(NamedTuple):
    slug: str
    kind: str
    exit_code: int
    doc: str


def _slug(slug: str, kind: str, exit_code: int, doc: str) -> SlugInfo:
    return SlugInfo(slug, kind, exit_code, doc)


_REGISTRY = (
    _slug(
        "usage_invalid",
        USAGE,
        2,
        "A flag or argument is invalid (shown as JSON only with --format ...",
    ),
    _slug("internal_error", INTEGRITY, 1, "floe failed unexpectedly (a bug)"),
    _slug("input_too_deep", USAGE, 2, "An input was nested too deeply to process"),
    _slug(
        "io_error", USAGE, 2, "A file or folder was not what floe expected (missing, a folder ..."
    ),
    _slug(
        "file_write_failed",
        USAGE,
        2,
        "floe could not write a file (a parent path is a file, no ...",
    ),
    _slug("digest_invalid", USAGE, 2, "A digest is not sha256:<64 hex>"),
    _slug("version_invalid", USAGE, 2, "A version is not semver"),
    _slug(
        "source_date_epoch_invalid", USAGE, 2, "SOURCE_DATE_EPOCH is not a whole number of seconds"
    ),
    _slug(
        "manifest_missing",
        NOT_FOUND,
        2,
        "No manifest.yaml at the given path, here, or under manifests/*/",
    ),
    _slug("manifest_ambiguous", CONFLICT, 2, "Several manifests/*/manifest.yaml and none named"),
    _slug(
        "manifest_invalid",
        USAGE,
        2,
        "manifest.yaml (or a policy file it references) is bad YAML or ...",
    ),
    _slug("compile_secret_detected", USAGE, 2, "A plugin config value looks like a credential"),
    _slug("compile_out_invalid", USAGE, 2, "--out holds something other than a compiled tree"),
    _slug("compile_write_failed", USAGE, 2, "The compiled tree could not be written"),
    _slug(
        "inherit_weakens",
        DENIED,
        1,
        "A platform that extends another loosens one of its parent's rules",
    ),
    _slug("artifacts_missing", NOT_FOUND, 2, "No compiled tree at --artifacts"),
    _slug(
        "tree_invalid",
        INTEGRITY,
        1,
        "A compiled tree lacks files, has a malformed file, or holds a symlink",
    ),
    _slug(
        "tree_digest_mismatch",
        INTEGRITY,
        1,
        "The tree's files do not match the content digest in manifest.json",
    ),
    _slug(
        "platform_tests_missing",
        NOT_FOUND,
        2,
        "--manifest-dir has no tests/ folder with case files",
    ),
    _slug("policy_test_invalid", USAGE, 2, "A platform test case file is unreadable or malformed"),
    _slug("reference_invalid", USAGE, 2, "Not oci://HOST[:PORT]/REPO[:TAG\\|@DIGEST] or ..."),
    _slug(
        "reference_not_found",
        NOT_FOUND,
        2,
        "The repository or layout has no such tag or manifest (a registry's ...",
    ),
    _slug(
        "blob_not_found",
        NOT_FOUND,
        1,
        "A manifest names a blob the registry or layout does not hold",
    ),
    _slug(
        "artifact_manifest_invalid",
        INTEGRITY,
        1,
        "An artifact's OCI manifest, index or descriptor is not valid JSON ...",
    ),
    _slug("manifest_unsupported", USAGE, 2, "The manifest has a media type floe does not read"),
    _slug(
        "artifact_not_floe",
        USAGE,
        2,
        "The artifact is not a floe platform (artifactType or config)",
    ),
    _slug(
        "layout_not_found",
        NOT_FOUND,
        2,
        "The path is not an OCI image layout: no such folder, or no ...",
    ),
    _slug(
        "registry_ambiguous",
        USAGE,
        2,
        "The embedded registry holds several platforms and nothing names one",
    ),
    _slug(
        "registry_flat_layout",
        USAGE,
        2,
        "Publishing into a pre-namespace (flat) embedded registry",
    ),
    _slug(
        "layout_invalid",
        USAGE,
        2,
        "The layout is unusable: a file where the folder belongs, a bad ...",
    ),
    _slug("target_read_only", DENIED, 2, "The destination cannot be written (a read-only source)"),
    _slug(
        "registry_unreachable",
        TRANSIENT,
        2,
        "Connection refused (after 2 quick retries), or reset or timed out ...",
    ),
    _slug(
        "registry_unavailable",
        TRANSIENT,
        2,
        "The registry kept answering 408/429/5xx until the retry budget ran out",
    ),
    _slug(
        "registry_tls", DENIED, 2, "TLS failed, or plain HTTP was used against an HTTPS registry"
    ),
    _slug(
        "registry_auth_failed",
        DENIED,
        2,
        "The registry or its token server refused the credentials",
    ),
    _slug(
        "registry_error",
        USAGE,
        2,
        "The registry answered with an unexpected status or is not an OCI ...",
    ),
    _slug(
        "docker_config_invalid",
        USAGE,
        2,
        "The docker config.json is unreadable or not a JSON object",
    ),
    _slug(
        "registry_settings_invalid",
        USAGE,
        2,
        "registries.toml is unreadable, not TOML, over its limits or has a bad ...",
    ),
    _slug(
        "registry_credentials_incomplete",
        USAGE,
        2,
        "-u/--username without a password, or a password without -u",
    ),
    _slug(
        "credential_helper_missing",
        NOT_FOUND,
        2,
        "credsStore / credHelpers names a docker-credential-* not on PATH",
    ),
    _slug(
        "credential_helper_failed", USAGE, 2, "The credential helper failed or printed invalid JSON"
    ),
    _slug("login_password_conflict", CONFLICT, 2, "Both --password and --password-stdin"),
    _slug(
        "login_input_missing",
        USAGE,
        2,
        "floe login needs a user name or password and there is no terminal ...",
    ),
    _slug("login_password_empty", USAGE, 2, "The password given to floe login is empty"),
    _slug(
        "network_forbidden",
        DENIED,
        2,
        "--offline (or the lock) forbids the network, and the content is ...",
    ),
    _slug(
        "publish_tag_exists",
        CONFLICT,
        1,
        "The version is already published with a different digest (tags are ...",
    ),
    _slug(
        "publish_version_mismatch",
        USAGE,
        2,
        "The VERSION argument differs from the compiled tree's metadata.version",
    ),
    _slug("attest_requires_signing", USAGE, 2, "--attest without --key or --keyless"),
    _slug("attest_source_unused", USAGE, 2, "--source without --attest"),
    _slug(
        "attest_source_mismatch",
        USAGE,
        2,
        "The tree being published is not built from the given source manifest",
    ),
    _slug(
        "push_digest_mismatch",
        INTEGRITY,
        1,
        "The registry stored other bytes than the descriptor names",
    ),
    _slug(
        "pull_digest_mismatch",
        INTEGRITY,
        1,
        "A blob or manifest does not match its digest, or a tag resolved to ...",
    ),
    _slug("pull_too_large", INTEGRITY, 1, "A manifest (over 4 MiB) or blob is over the size cap"),
    _slug("pull_layer_invalid", INTEGRITY, 1, "A tar+gzip layer is malformed or hostile"),
    _slug(
        "pull_unsafe_path",
        INTEGRITY,
        1,
        "A file title or tar entry escapes the output folder (absolute, .., ...",
    ),
    _slug("pull_out_exists", CONFLICT, 2, "--out exists and is not empty"),
    _slug(
        "pull_out_invalid",
        USAGE,
        2,
        "--out exists and is not a folder, or a parent of it is a file ...",
    ),
    _slug("pull_out_missing", NOT_FOUND, 2, "floe platform pull REF without --out"),
    _slug("pull_ref_missing", USAGE, 2, "--out without a REF"),
    _slug("pull_trust_options", USAGE, 2, "--key / --identity / --require-signed in project mode"),
    _slug("signing_key_missing", NOT_FOUND, 2, "The --key file cannot be read"),
    _slug(
        "signing_key_invalid",
        USAGE,
        2,
        "Not a PEM key floe can read (wrong block, bad cosign JSON, not a ...",
    ),
    _slug("signing_key_unsupported", USAGE, 2, "A key type or curve cosign does not sign with"),
    _slug("signing_key_password", USAGE, 2, "Wrong password, or none available without a terminal"),
    _slug(
        "signing_key_pair_mismatch",
        USAGE,
        2,
        "cosign.key is not the private half of its cosign.pub",
    ),
    _slug("signing_key_exists", CONFLICT, 2, "keygen / import-key would overwrite a key file"),
    _slug("sign_key_required", USAGE, 2, "Neither or both of --key and --keyless"),
    _slug(
        "sigstore_missing", USAGE, 2, "Keyless signing or verification without the sigstore package"
    ),
    _slug("keyless_signing_failed", USAGE, 2, "No OIDC identity, or Fulcio/Rekor refused"),
    _slug(
        "identity_invalid",
        USAGE,
        2,
        "--identity is not ISSUER=SUBJECT, or a subject regex does not compile",
    ),
    _slug(
        "trusted_key_unreadable",
        USAGE,
        2,
        "A trusted public key (--key of verify/init, floe.yaml ...",
    ),
    _slug("signature_missing", DENIED, 1, "Signatures are required and the artifact has none"),
    _slug(
        "signature_invalid", INTEGRITY, 1, "A signature or bundle is malformed or does not verify"
    ),
    _slug(
        "signature_untrusted", DENIED, 1, "Valid signatures, but none by a trusted key or identity"
    ),
    _slug("signature_subject_mismatch", INTEGRITY, 1, "The signature covers another digest (e.g"),
    _slug(
        "trust_policy_conflict",
        CONFLICT,
        1,
        "floe.yaml and the platform's own trust policy disagree (a project ...",
    ),
    _slug("platform_not_initialized", USAGE, 2, "No floe.yaml, no platform block, or no lock"),
    _slug("project_dir_missing", NOT_FOUND, 2, "--dir is not a folder"),
    _slug(
        "floe_yaml_invalid",
        USAGE,
        2,
        "floe.yaml is unreadable, not UTF-8, bad YAML or has wrong keys/types",
    ),
    _slug(
        "constraint_invalid",
        USAGE,
        2,
        "The --platform / platform.version constraint does not parse",
    ),
    _slug(
        "constraint_unsatisfied",
        USAGE,
        2,
        "No published version matches (the message lists what exists)",
    ),
    _slug("lock_invalid", USAGE, 2, "artifacts.lock is unreadable or malformed"),
    _slug(
        "lock_stale",
        INTEGRITY,
        1,
        "floe.yaml asks for another platform or constraint than the lock pins",
    ),
    _slug("lock_drift", INTEGRITY, 1, "The locked tag now points at another digest"),
    _slug(
        "lock_downgrade", INTEGRITY, 1, "Resolving would go back to an older version than the lock"
    ),
    _slug(
        "cache_corrupt", INTEGRITY, 1, "The cached platform differs from the lock, or is missing"
    ),
    _slug(
        "cache_version_missing",
        NOT_FOUND,
        2,
        "cache clear --version names a version that is not cached",
    ),
    _slug("confirmation_required", USAGE, 2, "cache clear without a terminal to confirm"),
    _slug(
        "project_locked",
        CONFLICT,
        2,
        "Another floe process holds the project's writer lock too long",
    ),
    _slug(
        "project_invalid",
        USAGE,
        2,
        "The dbt project cannot be read: no dbt_project.yml, bad schema ...",
    ),
    _slug("profiles_not_generated", USAGE, 2, "profiles.yml exists and was not written by floe"),
    _slug("profile_invalid", USAGE, 2, "The platform's compute config cannot make a dbt profile"),
    _slug(
        "compute_unsupported", USAGE, 2, "The platform's compute plugin has no dbt profile support"
    ),
    _slug("plugin_not_installed", NOT_FOUND, 2, "A plugin's package is not installed"),
    _slug("plugin_version_unsupported", USAGE, 2, "The installed adapter is outside the range"),
    _slug("warehouse_unreachable", TRANSIENT, 2, "The warehouse did not accept a connection"),
    _slug("warehouse_error", USAGE, 2, "dbt's manifest after the build is unreadable"),
    _slug("warehouse_grant_failed", DENIED, 1, "PostgreSQL refused a grant or catalog read"),
    _slug(
        "signing_identity_invalid",
        USAGE,
        2,
        "--signing-identity is not a registry-style HOST/REPOSITORY",
    ),
    _slug(
        "signature_algorithm_mismatch",
        INTEGRITY,
        1,
        "A trusted key verifies the signature only with another hash than ...",
    ),
    _slug(
        "publish_unsigned",
        DENIED,
        1,
        "The tree says require_signed_artifacts: true but publish was given ...",
    ),
    _slug(
        "publish_signer_untrusted",
        DENIED,
        1,
        "The signing key (or keyless signer) is not listed in the tree's ...",
    ),
    _slug(
        "publish_checks_failed",
        INTEGRITY,
        1,
        "The compiled tree fails the built-in platform checks (unsafe ...",
    ),
    _slug(
        "diff_operand_invalid",
        USAGE,
        2,
        "A side of platform diff is neither a compiled folder, a reference ...",
    ),
    _slug(
        "publish_semver_too_small",
        CONFLICT,
        1,
        "--check-semver: the version is a smaller bump than the changes since ...",
    ),
    _slug(
        "version_tag_conflict",
        CONFLICT,
        1,
        "The same semver is already a tag in the other spelling (1.3.0 ...",
    ),
    _slug(
        "artifact_version_mismatch",
        INTEGRITY,
        1,
        "The tag, the org.opencontainers.image.version annotation and ...",
    ),
    _slug(
        "baseline_invalid",
        USAGE,
        2,
        "floe compile --baseline FILE: the file is missing or not a ...",
    ),
    _slug("rule_unknown", USAGE, 2, "floe rules explain ID: no rule has that id"),
    _slug(
        "waiver_invalid",
        USAGE,
        2,
        "A waiver (floe.yaml waivers: or a model's meta.floe.waivers) is ...",
    ),
    _slug(
        "dbt_not_installed",
        NOT_FOUND,
        2,
        "floe run / floe compile --parse without dbt-core / dbt-duckdb ...",
    ),
    _slug(
        "dbt_parse_failed",
        USAGE,
        2,
        "dbt's in-process parse (floe run, floe compile --parse) failed; ...",
    ),
    _slug(
        "run_manifest_mismatch",
        INTEGRITY,
        1,
        "dbt was about to build from another manifest object than the one ...",
    ),
    _slug(
        "yaml_limit_exceeded",
        USAGE,
        2,
        "A YAML file is over floe's limits: larger than 4 MiB (64 MiB for ...",
    ),
    _slug(
        "registry_timeout",
        TRANSIENT,
        2,
        "The command's network deadline (RegistryOptions.timeout, 20 s by ...",
    ),
    _slug(
        "registry_limit_exceeded",
        USAGE,
        2,
        "The registry's answer broke one of floe's limits: a tag list over ...",
    ),
    _slug(
        "registry_realm_refused",
        USAGE,
        2,
        "The registry's token realm is not an http(s) URL, or asks for ...",
    ),
    _slug(
        "artifact_layer_untitled",
        INTEGRITY,
        1,
        "An artifact has a layer that is not a titled file of the tree ...",
    ),
    _slug(
        "accept_drift_tag_missing",
        NOT_FOUND,
        2,
        "pull --accept-drift, but the locked tag no longer exists",
    ),
    _slug("pull_flags_conflict", CONFLICT, 2, "pull --accept-drift and --upgrade together"),
    _slug(
        "path_symlinked", USAGE, 2, ".floe, .floe/platform, .floe/cache, its blob layout or the ..."
    ),
)

SLUGS: dict[str, SlugInfo] = {info.slug: info for info in _REGISTRY}


class FloeError(Exception):
    """A failure with a stable slug, a message and a hint for the user."""

    default_exit_code: ClassVar[int] = EXIT_USAGE
    kind: ClassVar[str] = USAGE

    def __new__(cls, slug: str, *args: Any, **kwargs: Any) -> FloeError:
        info = SLUGS.get(slug)
        if info is not None:
            kind_class = KIND_CLASSES[info.kind]
            if not issubclass(cls, kind_class):
                cls = _with_kind(cls, kind_class)
        return super().__new__(cls)

    def __init__(
        self,
        slug: str,
        message: str,
        *,
        hint: str | None = None,
        exit_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.slug = slug
        self.message = message
        self.hint = hint
        if exit_code is None:
            info = SLUGS.get(slug)
            exit_code = info.exit_code if info is not None else self.default_exit_code
        self.exit_code = exit_code
        self.details: dict[str, Any] = dict(details or {})

    def __reduce__(self) -> tuple[Any, ...]:
        declared = getattr(type(self), "_declared", type(self))
        return (_rebuild, (declared, self.slug, self.message, self.__dict__))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.slug, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out["exit_code"] = self.exit_code
        out.update(self.details)
        return out

    def one_line(self) -> str:
        text = f"error[{self.slug}]: {self.message}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class GateError(FloeError):
    """A gate fired: policy violation, bad signature, digest mismatch, drift (exit 1)."""

    default_exit_code = EXIT_GATE
    kind = INTEGRITY


class UsageError(FloeError):
    """Bad input, missing file, bad flag, bad YAML (exit 2)."""

    default_exit_code = EXIT_USAGE


class NotFound(FloeError):
    """The thing named does not exist (a tag, a blob, a file, a key)."""

    kind = NOT_FOUND


class Conflict(FloeError):
    """The thing exists already, or two inputs disagree."""

    kind = CONFLICT


class Integrity(FloeError):
    """Content is not what it claims to be: digest, size, shape, drift."""

    default_exit_code = EXIT_GATE
    kind = INTEGRITY


class Transient(FloeError):
    """The network or a service failed; the same call may work later."""

    kind = TRANSIENT


class Denied(FloeError):
    """Trust or permission refused: bad credentials, untrusted or missing signature."""

    kind = DENIED


class Usage(FloeError):
    """The caller asked for something invalid."""

    kind = USAGE


KIND_CLASSES: dict[str, type[FloeError]] = {
    NOT_FOUND: NotFound,
    CONFLICT: Conflict,
    INTEGRITY: Integrity,
    TRANSIENT: Transient,
    DENIED: Denied,
    USAGE: Usage,
}


_COMBINED: dict[tuple[type[FloeError], type[FloeError]], type[FloeError]] = {}


def _with_kind(base: type[FloeError], kind_class: type[FloeError]) -> type[FloeError]:
    """`GateError` raised with a not-found slug is a `NotFound` too (one class per pair)."""
    combined = _COMBINED.get((base, kind_class))
    if combined is None:
        name = kind_class.__name__ + base.__name__
        attrs = {"kind": kind_class.kind, "_declared": base, "__module__": __name__}
        combined = type(name, (kind_class, base), attrs)
        _COMBINED[(base, kind_class)] = combined
    return combined


def _rebuild(
    declared: type[FloeError], slug: str, message: str, state: dict[str, Any]
) -> FloeError:
    error = declared(slug, message)
    error.__dict__.update(state)
    return error
