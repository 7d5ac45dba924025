"""The one place signing asks "is it there?" of a Target.

Absence is the `NotFound` error kind (floe.errors), never a slug string.
"""

from __future__ import annotations

from floe.errors import FloeError, NotFound
from floe.oci.target import Descriptor, Target


def is_not_found(exc: FloeError) -> bool:
    return isinstance(exc, NotFound)


def resolve_if_present(target: Target, reference: str) -> Descriptor | None:
    """`target.resolve(reference)`, or None when nothing has that name."""
    try:
        return target.resolve(reference)
    except FloeError as exc:
        if is_not_found(exc):
            return None
        raise
