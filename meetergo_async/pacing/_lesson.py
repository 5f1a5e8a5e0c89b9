"""The limit a server without rate-limit headers teaches through its 429s: ``Lesson``."""

from __future__ import annotations

import logging
import math
from typing import Final

from ._log import COUNT_SLACK

__all__ = ["RECOVERY_STEP", "RECOVERY_WINDOWS", "Lesson"]

log = logging.getLogger(__name__)

RECOVERY_STEP: Final = 0.1
"""How much of the configured limit a taught limit climbs back per ``RECOVERY_WINDOWS``."""
RECOVERY_WINDOWS: Final = 2
"""Clean windows (no 429) before a taught limit climbs back a step."""


class Lesson:
    """The limit that 429s taught, without headers; it climbs back unless confirmed.

    The first 429 of a block teaches how many requests the server had accepted in the
    window, unless more had been accepted in a window before (then a neighbour caused it).
    A taught limit climbs back by ``RECOVERY_STEP`` of the configured one every
    ``RECOVERY_WINDOWS`` clean windows; above the level once refused, requests go one at a
    time; a second refusal at that level confirms the limit for good.
    """

    def __init__(self, configured: int | None, now: float, *, climbs_back: bool = True) -> None:
        self.configured = configured
        self.climbs_back = climbs_back
        self.limit: int | None = None
        self.refused_at: int | None = None
        self.confirmed = False
        self._best = 0  # most requests surely accepted within one window, no 429 between
        self._clean_since = now

    def _same(self, a: int, b: int) -> bool:
        return abs(a - b) <= COUNT_SLACK * (self.configured or max(a, b)) + 1

    def blocked(self, accepted: int, now: float, seconds: float) -> None:
        """A block ended; ``accepted`` requests of this client were counted when it began."""
        self._clean_since = now
        if accepted == 0 or (accepted < self._best and not self._same(accepted, self._best)):
            return  # none of ours, or more of ours once, were accepted: a neighbour's doing
        refused = self.refused_at
        self.confirmed = refused is not None and self._same(accepted + 1, refused)
        self.limit = max(1, accepted)
        self.refused_at = None if self.confirmed else accepted + 1
        log.info("429 without rate-limit headers: pacing to %d per %gs", self.limit, seconds)

    def quiet(self, surely_accepted: int, now: float, seconds: float) -> None:
        """An accepted answer outside a block: remember the best window, climb back."""
        self._best = max(self._best, surely_accepted)
        refused = self.refused_at
        if refused is not None and surely_accepted >= refused:
            self.refused_at = None  # more were accepted than once refused: a neighbour's doing
        if self.limit is None or self.confirmed or not self.climbs_back:
            return
        assert self.configured is not None  # only a configured limit is climbed back to
        if now - self._clean_since >= RECOVERY_WINDOWS * seconds:
            step = max(1, math.ceil(RECOVERY_STEP * self.configured))
            self.limit = None if self.limit + step >= self.configured else self.limit + step
            self._clean_since = now

    def forget(self) -> None:
        """The server's headers tell the limit now."""
        self.limit = None
        self.refused_at = None
