"""A block in progress: a 429 holds the whole client back until a probe gets through.

Part of the sliding-window policy (``_window``, rule 3). With ``Retry-After`` the client
waits as long as it says. Without it, probes go one at a time with growing waits
(``BLOCK_PROBE_FIRST``, times ``BLOCK_PROBE_GROWTH``, at most ``BLOCK_PROBE_CAP`` of a
window), one of them when a block of a whole window would end.
"""

from __future__ import annotations

from typing import Final

__all__ = ["BLOCK_PROBE_CAP", "BLOCK_PROBE_FIRST", "BLOCK_PROBE_GROWTH", "Block"]

BLOCK_PROBE_FIRST: Final = 0.25
"""Seconds from a 429 without ``Retry-After`` to the first probe of the block."""
BLOCK_PROBE_GROWTH: Final = 4.0
"""Each refused probe multiplies the wait before the next one."""
BLOCK_PROBE_CAP: Final = 0.5
"""Probes of a block are never further apart than this part of a window."""


class Block:
    """A refusal in progress: when it began, what the server had accepted, the next probe."""

    __slots__ = ("accepted", "backoff", "probe", "refused_at", "seen")

    def __init__(self, seen: int, accepted: int, refused_at: float) -> None:
        self.seen = seen  # requests granted when the first refusal came back: later are probes
        self.accepted = accepted  # ours the server counted when it refused
        self.refused_at = refused_at  # when the first refusal came back
        self.backoff = BLOCK_PROBE_FIRST
        self.probe: int | None = None  # the probe in flight

    def held_until(self, now: float, retry_after: float | None, window: float) -> float:
        """Until when a refusal answered at ``now`` holds the client (``window``: seconds)."""
        if retry_after is not None:
            return now + retry_after  # whole seconds rounded up, from the answer: not early
        until = now + self.backoff
        self.backoff = min(BLOCK_PROBE_GROWTH * self.backoff, BLOCK_PROBE_CAP * window)
        expected_end = self.refused_at + window  # a block of one window
        return min(until, expected_end) if now < expected_end else until
