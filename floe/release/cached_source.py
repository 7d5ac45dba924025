"""Reading a platform through the local caches before the registry (floe.project.lifecycle).

Content is addressed by digest and every read is verified, so a blob from the
user-wide cache is as good as one from the registry. A local blob that fails its
digest is `cache_corrupt` (with the `--force` hint), never mistaken for a registry fault.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from floe.errors import GateError, NotFound, UsageError
from floe.oci.target import MAX_MANIFEST_BYTES, Descriptor, Target

FORCE_HINT = "run `floe platform pull --force` to download and verify it again"


def _corrupt(local: Target, desc: Descriptor, exc: GateError) -> GateError:
    return GateError(
        "cache_corrupt",
        f"the blob cache {local.describe()} is damaged: {desc.digest}: {exc.message}",
        hint=FORCE_HINT,
    )


class CachedSource:
    """A read-only Target that serves content from local layouts before the source.

    Content is addressed by digest and every read is verified, so a blob from the
    user-wide cache is as good as one from the registry: a second project's init
    downloads nothing. Tags and referrers come from the source when it is
    authoritative (a fresh resolve), else from the local layouts (a locked pull).
    Small reads are memoized, so verifying a signature and then copying it costs
    one download.
    """

    MEMO_LIMIT = 4 * 1024 * 1024

    def __init__(
        self, layouts: list[Target], source: Target | None, *, authoritative: bool
    ) -> None:
        import threading

        self.layouts = layouts
        self.source = source
        self.authoritative = authoritative and source is not None
        self.downloaded = 0
        self._memo: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def _remote(self) -> Target:
        if self.source is None:
            raise UsageError(
                "network_forbidden",
                "the platform is not in the local caches and no registry may be used",
                hint="run `floe platform pull` once with network access",
            )
        return self.source

    def _metadata_target(self) -> Target:
        return self._remote() if self.authoritative else self.layouts[0]

    def describe(self) -> str:
        return self._metadata_target().describe()

    def resolve(self, reference: str) -> Descriptor:
        if not self.authoritative and reference.startswith("sha256:"):
            for layout in self.layouts:
                try:
                    return layout.resolve(reference)
                except UsageError:
                    continue
        return self._metadata_target().resolve(reference)

    def _local(self, desc: Descriptor) -> Target | None:
        return next((layout for layout in self.layouts if layout.exists(desc)), None)

    @contextmanager
    def fetch(self, desc: Descriptor) -> Iterator[IO[bytes]]:
        with self._lock:
            memo = self._memo.get(desc.digest)
        if memo is not None:
            yield io.BytesIO(memo)
            return
        local = self._local(desc)
        if local is not None:
            with local.fetch(desc) as stream:
                try:
                    yield stream
                except GateError as exc:
                    raise _corrupt(local, desc, exc) from None
            return
        with self._remote().fetch(desc) as stream:
            with self._lock:
                self.downloaded += desc.size
            yield stream

    def fetch_bytes(self, desc: Descriptor, max_size: int = MAX_MANIFEST_BYTES) -> bytes:
        with self._lock:
            memo = self._memo.get(desc.digest)
        if memo is not None:
            return memo
        local = self._local(desc)
        if local is not None:
            try:
                data = local.fetch_bytes(desc, max_size)
            except GateError as exc:
                raise _corrupt(local, desc, exc) from None
        else:
            data = self._remote().fetch_bytes(desc, max_size)
            with self._lock:
                self.downloaded += len(data)
        if len(data) <= self.MEMO_LIMIT:
            with self._lock:
                self._memo[desc.digest] = data
        return data

    def exists(self, desc: Descriptor) -> bool:
        return self._local(desc) is not None or self._remote().exists(desc)

    def push(self, desc: Descriptor, stream: IO[bytes]) -> None:
        raise UsageError("target_read_only", "the platform source is read-only here")

    def tag(self, desc: Descriptor, tag: str) -> None:
        raise UsageError("target_read_only", "the platform source is read-only here")

    def tags(self) -> list[str]:
        try:
            return self._metadata_target().tags()
        except NotFound:
            return []  # nothing cached for this repository yet

    def referrers(self, subject: Descriptor, artifact_type: str | None = None) -> list[Descriptor]:
        if self.authoritative:
            return self._remote().referrers(subject, artifact_type)
        for layout in self.layouts:
            found = layout.referrers(subject, artifact_type)
            if found:
                return found
        return []
