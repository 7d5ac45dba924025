"""The one place signing asks "is it there?" of a Target.

floe.errors is gaining typed kinds (`NotFound`, ...). Until that lands, this helper
is the single spot that maps the not-found slugs to "absent"; once `NotFound`
exists it is used instead and the slug set is never read.
"""

from __future__ import annotations

from floe import errors
from floe.errors import FloeError
from floe.oci.target import Descriptor, Target

_NOT_FOUND_KIND: type[BaseException] | None = getattr(errors, "NotFound", None)
_NOT_FOUND_SLUGS = frozenset({"reference_not_found", "layout_not_found", "blob_not_found"})


def is_not_found(exc: FloeError) -> bool:
    if _NOT_FOUND_KIND is not None:
        return isinstance(exc, _NOT_FOUND_KIND)
    return exc.slug in _NOT_FOUND_SLUGS


def resolve_if_present(target: Target, reference: str) -> Descriptor | None:
    """`target.resolve(reference)`, or None when nothing has that name."""
    try:
        return target.resolve(reference)
    except FloeError as exc:
        if is_not_found(exc):
            return None
        raise
