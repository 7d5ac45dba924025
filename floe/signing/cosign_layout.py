"""cosign's conventions for OCI image layouts, and what a layout signature names.

`cosign save` (and `cosign verify --local-image`) mark index.json entries with a
`kind` annotation instead of tags: `dev.cosignproject.cosign/image` (the signed
image), `.../imageIndex`, `.../sigs` (the simple-signing `.sig` manifest) and
`.../atts` (attestations). floe writes those on the layouts it signs and, when a
layout has no `sha256-<hex>.sig` tag, finds the signatures through them.

A signature names a registry-style identity, never a filesystem path: the
simple-signing `docker-reference` and the in-toto subject name are `HOST/REPO`.
"""

from __future__ import annotations

import re

from floe.errors import UsageError
from floe.oci.layout import LayoutTarget
from floe.oci.reference import OCI_SCHEME, parse_reference
from floe.oci.target import Descriptor, Target

KIND = "kind"
KIND_IMAGE = "dev.cosignproject.cosign/image"
KIND_IMAGE_INDEX = "dev.cosignproject.cosign/imageIndex"
KIND_SIGS = "dev.cosignproject.cosign/sigs"
KIND_ATTS = "dev.cosignproject.cosign/atts"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
# Local images without a registry are `localhost/NAME` (podman's and buildah's rule).
LOCAL_HOST = "localhost"
_NAME_RE = re.compile(r"[^a-z0-9._-]+")


def signing_identity(text: str) -> str:
    """`HOST/REPO` from `--signing-identity` (a tag or digest is dropped; cosign signs
    `ref.Context().Name()`)."""
    try:
        ref = parse_reference(text if text.startswith(OCI_SCHEME) else OCI_SCHEME + text)
    except UsageError as exc:
        raise UsageError(
            "signing_identity_invalid",
            f"signing identity {text!r} is not HOST/REPOSITORY ({exc.message})",
            hint="the repository it is pushed under, e.g. registry.example.com/team/x",
        ) from None
    return f"{ref.host}/{ref.repository}"


def layout_identity(path: str, ref_name: str | None = None) -> str:
    """The identity a layout signature names when none was given.

    A full reference in the entry's `org.opencontainers.image.ref.name` (skopeo and
    `cosign save` keep the source name there) gives its `HOST/REPO`; else the
    layout folder's name under `localhost/`.
    """
    if ref_name and "/" in ref_name:
        try:
            return signing_identity(ref_name)
        except UsageError:
            pass
    name = _NAME_RE.sub("-", path.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-._")
    return f"{LOCAL_HOST}/{name or 'layout'}"


def mark_signed(target: Target, image: Descriptor, sigs: Descriptor) -> None:
    """Write cosign's `kind` annotations into a layout's index.json (no-op elsewhere)."""
    if not isinstance(target, LayoutTarget):
        return
    kind = KIND_IMAGE_INDEX if "index" in image.media_type else KIND_IMAGE
    target.annotate(image, {KIND: kind})
    target.annotate(sigs, {KIND: KIND_SIGS})


def cosign_sigs(target: Target, image: Descriptor) -> Descriptor | None:
    """The `.sig` manifest of `image` in a cosign-saved layout (found by `kind`).

    Only when `image` is the layout's `kind: image` entry: cosign's layout holds one
    signed image and one signatures manifest, which carry no subject.
    """
    if not isinstance(target, LayoutTarget):
        return None
    entries = target.entries()
    images = [e for e in entries if e.annotations.get(KIND) in (KIND_IMAGE, KIND_IMAGE_INDEX)]
    if not any(e.digest == image.digest for e in images):
        return None
    return next((e for e in entries if e.annotations.get(KIND) == KIND_SIGS), None)
