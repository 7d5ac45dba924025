"""The one trust decision: `decide(target, subject, TrustRequest) -> Decision`."""

from floe.trust.decision import Decision, TrustRequest, decide

__all__ = ["Decision", "TrustRequest", "decide"]
