"""Parse artifact references: `oci://HOST[:PORT]/REPO[:TAG|@DIGEST]` and `oci-layout://PATH[...]`.

Repository names and tags follow the distribution-spec grammar, so a reference
that parses here is one every registry accepts. Anything else is
`reference_invalid` (exit 2) with what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from floe.errors import UsageError

OCI_SCHEME = "oci://"
LAYOUT_SCHEME = "oci-layout://"
DEFAULT_REPOSITORY = "floe-platform"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")

# distribution-spec: path components of lowercase alphanumerics joined by separators.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST_RE = re.compile(
    r"^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$"
)


@dataclass(frozen=True)
class Reference:
    """A parsed reference. `host`/`repository` for registries, `path` for layouts."""

    scheme: str  # "oci" or "oci-layout"
    host: str = ""
    repository: str = ""
    path: str = ""
    tag: str | None = None
    digest: str | None = None

    @property
    def is_layout(self) -> bool:
        return self.scheme == "oci-layout"

    @property
    def reference(self) -> str | None:
        """What to resolve in the repository: the digest if pinned, else the tag."""
        return self.digest or self.tag

    def repository_ref(self) -> str:
        """The repository alone, without tag or digest."""
        if self.is_layout:
            return f"{LAYOUT_SCHEME}{self.path}"
        return f"{OCI_SCHEME}{self.host}/{self.repository}"

    def with_tag(self, tag: str | None) -> Reference:
        if tag is not None:
            check_tag(tag)
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        return replace(self, digest=digest)

    def __str__(self) -> str:
        text = self.repository_ref()
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@")


def _without_userinfo(text: str) -> str:
    """`oci://user:pw@host/x` -> `oci://[redacted]@host/x`: a password is never echoed."""
    return _USERINFO.sub(r"\1[redacted]@", text)


def _invalid(text: str, why: str, hint: str | None = None) -> UsageError:
    match = _USERINFO.match(text)
    if match:
        userinfo = text[len(match.group(1)) : match.end() - 1]
        why = why.replace(userinfo, "[redacted]") if userinfo else why
        text = _without_userinfo(text)
    return UsageError(
        "reference_invalid",
        f"invalid reference {text!r}: {why}",
        hint=hint or "use oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX] or oci-layout://PATH[:TAG]",
    )


def check_tag(tag: str) -> None:
    if not TAG_RE.match(tag):
        raise _invalid(tag, "a tag is 1-128 of [A-Za-z0-9_.-] and cannot start with '.' or '-'")


def _split_digest(text: str, rest: str) -> tuple[str, str | None]:
    if "@" not in rest:
        return rest, None
    head, _, digest = rest.rpartition("@")
    if not DIGEST_RE.match(digest):
        raise _invalid(text, f"{digest!r} is not a sha256:<64 lowercase hex> digest")
    return head, digest


def _split_tag(text: str, rest: str) -> tuple[str, str | None]:
    """The tag is after the last ':' that follows the last '/'."""
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon <= slash:
        return rest, None
    tag = rest[colon + 1 :]
    if not TAG_RE.match(tag):
        raise _invalid(text, f"tag {tag!r} is not valid (1-128 of [A-Za-z0-9_.-])")
    return rest[:colon], tag


def parse_reference(text: str, *, default_repository: str | None = None) -> Reference:
    """Parse a reference; `default_repository` fills in `oci://HOST` without a repository."""
    if text.startswith(LAYOUT_SCHEME):
        return _parse_layout(text)
    if text.startswith(OCI_SCHEME):
        return _parse_remote(text, default_repository)
    if "://" in text:
        raise _invalid(text, f"unsupported scheme {text.split('://', 1)[0]!r}")
    raise _invalid(text, "missing scheme")


def _parse_layout(text: str) -> Reference:
    rest, digest = _split_digest(text, text[len(LAYOUT_SCHEME) :])
    path, tag = _split_tag(text, rest)
    if not path:
        raise _invalid(text, "the layout path is empty")
    if "\0" in path:
        raise _invalid(text, "the layout path contains a NUL byte")
    return Reference("oci-layout", path=path, tag=tag, digest=digest)


def _parse_remote(text: str, default_repository: str | None) -> Reference:
    rest = text[len(OCI_SCHEME) :]
    host, _, path = rest.partition("/")
    if not host or not _HOST_RE.match(host):
        raise _invalid(text, f"host {host!r} is not a valid HOST[:PORT]")
    path, digest = _split_digest(text, path)
    repository, tag = _split_tag(text, path) if path else ("", None)
    if not repository:
        if default_repository is None or tag or digest:
            raise _invalid(text, "the repository name is missing")
        repository = default_repository
    if not REPOSITORY_RE.match(repository) or len(host) + len(repository) + 1 > 255:
        raise _invalid(
            text,
            f"repository {repository!r} is not valid",
            hint="repository names are lowercase [a-z0-9] components joined by '.', '_', "
            "'__' or '-', separated by '/'",
        )
    if host.lower() in DOCKER_HUB_HOSTS and "/" not in repository:
        repository = f"library/{repository}"  # Docker Hub's official images, as docker does
    return Reference("oci", host=host, repository=repository, tag=tag, digest=digest)


def is_reference(text: str) -> bool:
    return text.startswith((OCI_SCHEME, LAYOUT_SCHEME))
