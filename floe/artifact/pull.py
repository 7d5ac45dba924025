"""`pull REF --out DIR`: verify, check the release's versions agree, then write its files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from floe.artifact.integrity import check_versions_agree
from floe.artifact.pack import Unpacked, check_destination, unpack_artifact
from floe.artifact.transfer import ByteProgress, graph_size, resolve
from floe.artifact.verify import DownloadTrust, trust_origin, verify_download
from floe.events import NULL_EVENTS, Events
from floe.oci.options import RegistryOptions
from floe.oci.reference import Reference
from floe.oci.resolve import open_target
from floe.trust.decision import Decision


@dataclass(frozen=True)
class PullRequest:
    ref: str
    out_dir: Path
    force: bool = False
    trust: DownloadTrust = field(default_factory=DownloadTrust)
    options: RegistryOptions | None = None


@dataclass(frozen=True)
class PullResult:
    reference: Reference
    digest: str
    out_dir: Path
    unpacked: Unpacked
    decision: Decision | None  # None: --no-require-signed let an unsigned artifact through

    @property
    def verified(self) -> bool:
        return self.decision is not None and self.decision.report.ok

    @property
    def signer(self) -> str | None:
        return self.decision.signer if self.decision is not None else None

    @property
    def trust(self) -> str:
        return trust_origin(self.decision)


def pull_to_dir(request: PullRequest, events: Events = NULL_EVENTS) -> PullResult:
    """Fetch REF into `out_dir`; nothing is written unless every check passed."""
    check_destination(request.out_dir, request.force)  # before any network work
    target, ref = open_target(request.ref, request.options)
    desc = resolve(target, ref)
    decision = verify_download(target, ref, desc, request.trust, events)
    check_versions_agree(target, desc, ref.tag)
    progress = ByteProgress(events, graph_size(target, desc))
    unpacked = unpack_artifact(
        target, desc, request.out_dir, require_floe=False, force=request.force,
        on_progress=progress,
    )  # fmt: skip
    return PullResult(ref, desc.digest, request.out_dir, unpacked, decision)
