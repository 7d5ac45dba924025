"""Per-registry settings: `registries.toml`, read by every command that reaches a registry.

The file is `$FLOE_REGISTRIES_CONFIG`, else `$XDG_CONFIG_HOME/floe/registries.toml`
(default `~/.config/floe/registries.toml`). One table per registry host:

    [registry."registry.internal:5000"]
    ca_file = "/etc/floe/corp-ca.pem"    # relative paths are relative to this file
    insecure = false                      # skip TLS verification (warned once per command)
    plain_http = false                    # speak HTTP
    mirrors = ["mirror-a.internal:5000", "mirror-b.internal"]

It is parsed once per command into `RegistrySettings` with limits (size, registries,
mirrors, unknown keys refused); anything wrong is `registry_settings_invalid` (exit 2).
Command-line flags win: when a command is given any of `--ca-file/--insecure/
--plain-http`, those decide TLS for that command and the file's TLS keys are not used.
`floe init --ca-file` writes the host's `ca_file` here (`remember_ca_file`).
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from floe.errors import UsageError
from floe.oci.options import RegistryOptions

SETTINGS_ENV = "FLOE_REGISTRIES_CONFIG"
MAX_SETTINGS_BYTES = 256 << 10
MAX_REGISTRIES = 256
MAX_MIRRORS = 8
MAX_PATH_CHARS = 4096
_KEYS = frozenset({"ca_file", "insecure", "plain_http", "mirrors"})
_HOST_RE = re.compile(
    r"^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$"
)
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_HINT = "fix the file (see docs/registries.md), or point FLOE_REGISTRIES_CONFIG elsewhere"


@dataclass(frozen=True)
class HostSettings:
    """One registry's entry: TLS choices and the mirrors tried before it for reads."""

    host: str
    ca_file: Path | None = None
    insecure: bool | None = None
    plain_http: bool | None = None
    mirrors: tuple[str, ...] = ()

    @property
    def has_tls(self) -> bool:
        return self.ca_file is not None or self.insecure is not None or self.plain_http is not None


@dataclass(frozen=True)
class RegistrySettings:
    path: Path
    hosts: dict[str, HostSettings] = field(default_factory=dict)

    def for_host(self, host: str) -> HostSettings | None:
        return self.hosts.get(host_key(host))


def host_key(host: str) -> str:
    """The settings key of a host: lowercase; Docker Hub's three names are `docker.io`."""
    key = host.strip().lower()
    return "docker.io" if key in _DOCKER_HUB else key


def settings_path() -> Path:
    explicit = os.environ.get(SETTINGS_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME")
    root = Path(base) if base else Path.home() / ".config"
    return root / "floe" / "registries.toml"


def _invalid(path: Path, why: str) -> UsageError:
    return UsageError("registry_settings_invalid", f"{path}: {why}", hint=_HINT)


def _host(path: Path, value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HOST_RE.match(value) or len(value) > 255:
        raise _invalid(path, f"{where}: {str(value)[:80]!r} is not a HOST[:PORT]")
    return host_key(value)


def _flag(path: Path, table: dict[str, Any], key: str, where: str) -> bool | None:
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        raise _invalid(path, f"{where}.{key} must be true or false")
    return value


def _entry(path: Path, host: str, table: Any) -> HostSettings:
    where = f"registry.{host!r}"
    if not isinstance(table, dict):
        raise _invalid(path, f"{where} must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise _invalid(
            path, f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})"
        )
    ca_file: Path | None = None
    if "ca_file" in table:
        raw = table["ca_file"]
        if not isinstance(raw, str) or not raw or len(raw) > MAX_PATH_CHARS or "\0" in raw:
            raise _invalid(path, f"{where}.ca_file must be a file path")
        ca_file = Path(raw).expanduser()
        if not ca_file.is_absolute():
            ca_file = path.parent / ca_file
    mirrors = table.get("mirrors", [])
    if not isinstance(mirrors, list):
        raise _invalid(path, f"{where}.mirrors must be a list of hosts")
    if len(mirrors) > MAX_MIRRORS:
        raise _invalid(path, f"{where}.mirrors: more than {MAX_MIRRORS} mirrors")
    parsed = tuple(_host(path, m, f"{where}.mirrors") for m in mirrors)
    if host in parsed:
        raise _invalid(path, f"{where}.mirrors names the registry itself")
    return HostSettings(
        host,
        ca_file=ca_file,
        insecure=_flag(path, table, "insecure", where),
        plain_http=_flag(path, table, "plain_http", where),
        mirrors=tuple(dict.fromkeys(parsed)),
    )


def parse_settings(data: bytes, path: Path) -> RegistrySettings:
    """The typed model of a registries.toml; `registry_settings_invalid` when it is not one."""
    import tomllib

    if len(data) > MAX_SETTINGS_BYTES:
        raise _invalid(path, f"larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid(path, "not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise _invalid(path, f"not valid TOML ({str(exc)[:200]})") from None
    unknown = sorted(set(doc) - {"registry"})
    if unknown:
        raise _invalid(path, f'unknown top-level key {unknown[0]!r} (only [registry."HOST"])')
    tables = doc.get("registry", {})
    if not isinstance(tables, dict):
        raise _invalid(path, 'registry must be tables: [registry."HOST"]')
    if len(tables) > MAX_REGISTRIES:
        raise _invalid(path, f"more than {MAX_REGISTRIES} registries")
    hosts: dict[str, HostSettings] = {}
    for raw_host, table in tables.items():
        host = _host(path, raw_host, "registry")
        if host in hosts:
            raise _invalid(path, f"registry {raw_host!r} is given twice")
        hosts[host] = _entry(path, host, table)
    return RegistrySettings(path, hosts)


_cache: dict[tuple[str, int, int], RegistrySettings] = {}
_cache_lock = threading.Lock()


def load_settings(path: Path | None = None) -> RegistrySettings:
    """The settings file, parsed once per content (an absent file: no settings)."""
    path = path or settings_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        return RegistrySettings(path)
    except OSError as exc:
        raise _invalid(path, f"cannot read it ({exc.strerror})") from None
    key = (str(path), info.st_mtime_ns, info.st_size)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    if info.st_size > MAX_SETTINGS_BYTES:
        raise _invalid(path, f"larger than {MAX_SETTINGS_BYTES} bytes")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SETTINGS_BYTES + 1)
    except OSError as exc:
        raise _invalid(path, f"cannot read it ({exc.strerror})") from None
    settings = parse_settings(data, path)
    with _cache_lock:
        _cache.clear()
        _cache[key] = settings
    return settings


def options_for(host: str, options: RegistryOptions) -> RegistryOptions:
    """`options` for one host: the file's TLS entry unless flags chose TLS; warns on insecure."""
    if options.use_settings and not options.tls_given:
        settings = load_settings()
        entry = settings.for_host(host)
        if entry is not None and entry.has_tls:
            if entry.ca_file is not None and not entry.ca_file.is_file():
                raise _invalid(
                    settings.path,
                    f"registry {entry.host!r}: ca_file {entry.ca_file} is not a file",
                )
            options = replace(
                options,
                ca_file=entry.ca_file,
                insecure=bool(entry.insecure),
                plain_http=entry.plain_http,
            )
    if options.insecure and options.ca_file is None and options.plain_http is not True:
        options.notify(
            f"warning: TLS certificate verification is off for {host} (insecure): "
            "anyone on the network path can read and change what floe receives"
        )
    return options


def mirrors_of(host: str, options: RegistryOptions) -> tuple[str, ...]:
    if not options.use_settings or options.offline:
        return ()
    entry = load_settings().for_host(host)
    return entry.mirrors if entry is not None else ()


def mirror_options(options: RegistryOptions) -> RegistryOptions:
    """A mirror's options: its own settings entry; the command's TLS flags and credentials
    are for the origin and never go to a mirror."""
    return replace(
        options, ca_file=None, insecure=False, plain_http=None, username=None, password=None
    )


# --------------------------------------------------------------------------- writing


def _toml_string(value: str) -> str:
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def render_settings(settings: RegistrySettings) -> str:
    lines = [
        "# floe registry settings (docs/registries.md)",
        "# rewritten by `floe init --ca-file`: comments are not kept",
        "",
    ]
    for host in sorted(settings.hosts):
        entry = settings.hosts[host]
        lines.append(f"[registry.{_toml_string(host)}]")
        if entry.ca_file is not None:
            lines.append(f"ca_file = {_toml_string(str(entry.ca_file))}")
        for key in ("insecure", "plain_http"):
            value = getattr(entry, key)
            if value is not None:
                lines.append(f"{key} = {'true' if value else 'false'}")
        if entry.mirrors:
            lines.append(f"mirrors = [{', '.join(_toml_string(m) for m in entry.mirrors)}]")
        lines.append("")
    return "\n".join(lines)


def remember_ca_file(host: str, ca_file: Path, path: Path | None = None) -> Path:
    """Record `ca_file` (absolute) for `host`, keeping every other entry; atomic write."""
    from floe.files import atomic_write

    path = path or settings_path()
    current = load_settings(path)
    key = host_key(host)
    old = current.hosts.get(key) or HostSettings(key)
    hosts = dict(current.hosts)
    hosts[key] = replace(old, ca_file=ca_file.resolve())
    atomic_write(path, render_settings(RegistrySettings(path, hosts)).encode("utf-8"))
    return path


def remember_ca_file_for(reference: str, ca_file: Path) -> tuple[str, Path] | None:
    """`floe init --ca-file`: remember the CA of the reference's registry host, so later
    commands need no flag; (host, settings file), or None for a layout."""
    from floe.oci.reference import parse_reference

    ref = parse_reference(reference, default_repository="x")
    if ref.is_layout:
        return None
    return ref.host, remember_ca_file(ref.host, ca_file)
