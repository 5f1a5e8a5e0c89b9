"""Others on the same key: what the server's ``X-RateLimit-Remaining`` says they leave us.

Part of the sliding-window limiter (``_window``, rule 2). When an answer shows the server
counting more than this client can have sent, another user of the key is active. While it
is sending, the client claims only ``NEIGHBOUR_SHARE`` of the free slots, less as many as
it has requests in flight (the neighbour may send as many meanwhile), and never more than
the neighbour leaves at its busiest (both see each other's expiring slots as free).
It counts as sending for a window after it was seen growing, and for as long as answers
show its requests surely counted (many of ours in flight can hide its growth, and its
busiest count holds for a window). Once it has stopped, the client claims all free slots
but one, which re-reads the count every ``REFRESH`` seconds: the neighbour's requests
expire, and only an answer tells when.
"""

from __future__ import annotations

import math
from collections import deque

from ._log import COUNT_SLACK, Hit, OwnLog

__all__ = ["NEIGHBOUR_SHARE", "REFRESH", "Neighbours"]

NEIGHBOUR_SHARE = 0.5
"""The part of the free slots claimed while another user of the key is sending."""
REFRESH = 0.25
"""Seconds between re-reads of the server's count while a stopped neighbour's slots expire."""


class Neighbours:
    """What others on the key leave this client: a cap (``quota``) from the last answer."""

    def __init__(self, log: OwnLog) -> None:
        self._log = log
        self.quota: int | None = None
        self._quota_until = -math.inf
        self.reserve = 0  # slots surely free on the server, less ours sent since
        self._observed_at = -math.inf
        self._fewest: int | None = None  # the fewest others' requests it can have counted
        # The most of others' requests seen counted within the last window: a sliding maximum,
        # (until, count) pairs with counts falling, so the first holds it.
        self._peaks: deque[tuple[float, int]] = deque()
        self._busy_until = -math.inf  # until then, they were sending
        self._present_until = -math.inf
        self.contradictions = 0
        """Answers that left more room than a sliding log could (a bucket refilling, or a
        fixed window starting anew): ours the server surely counted were not counted."""

    def cap(self, now: float) -> int | None:
        """The most of ours that may count now, as far as others are concerned."""
        return self.quota if now < self._quota_until else None

    def binds(self, now: float, limit: int | None) -> bool:
        """Whether the others' share holds this client below its own ``limit`` now."""
        quota = self.cap(now)
        return quota is not None and (limit is None or quota < limit)

    def forget(self) -> None:
        """A block ended: the server's count starts afresh."""
        self.quota = None

    def _peak(self, now: float) -> int:
        peaks = self._peaks
        while peaks and peaks[0][0] <= now:
            peaks.popleft()
        return peaks[0][1] if peaks else 0

    def refresh_in(self, now: float, in_flight: bool) -> float | None:
        """Seconds until one request may re-read the count (0.0: now), or ``None``."""
        if self.reserve < 1 or in_flight or self.cap(now) is None:
            return None
        return max(max(self._observed_at + REFRESH, self._busy_until) - now, 0.0)

    def observe(self, hit: Hit, server: int, remaining: int, now: float) -> None:
        """Learn from an answer: the server's limit, and what it said remains."""
        seconds = self._log.seconds
        live = self._log.live(now)
        counted = 1 + self._log.counted_before(hit, now)  # ours it surely counted
        # Others' requests it counted: at least beyond all of ours that may count, at most
        # beyond ours it surely counted.
        may_count = self._log.live_at(hit.sent, now)  # it reached the server after its sending
        self._track(server - remaining - may_count, server - remaining - counted, server, now)
        if now >= self._present_until:
            self.quota = None  # alone on the key: the log alone keeps under the limit
            return
        # Free: what the server had free, plus ours it surely counted, minus all of ours
        # that may count (ours not yet counted, or answered out of order, are not free).
        free = max(0, remaining + counted - live)
        busy = now < self._busy_until
        if busy:
            # While ours are on their way, the others may send as many: those are not free.
            claim = math.floor(NEIGHBOUR_SHARE * max(0, free - len(self._log.in_flight)))
            self.quota = min(live + claim, server - self._peak(now))
        else:
            self.quota = live + max(0, free - 1)
        self._quota_until = now + seconds
        # Each answer bounds what is free now from below; while nobody else sends, the best
        # bound holds.
        bound = remaining - self._log.maybe_after(hit)
        self.reserve = bound if busy else max(self.reserve, bound)
        self._observed_at = now

    def _track(self, at_least: int, at_most: int, server: int, now: float) -> None:
        """Note the others' requests the server counts: whether any, and whether growing.

        Others that send nothing only lose requests as they expire, so at least as many as
        they had at most before means they sent since (beyond ``COUNT_SLACK`` of noise). Their
        requests surely counted mean they sent within a window: maybe still sending.
        """
        seconds = self._log.seconds
        if at_most < -(COUNT_SLACK * server + 1):
            self.contradictions += 1
        peaks = self._peaks
        while peaks and peaks[-1][1] <= at_least:
            peaks.pop()
        peaks.append((now + seconds, at_least))
        fewest = self._fewest
        noise = COUNT_SLACK * server + 1
        if fewest is None and at_least > 0:  # new to us: sending or not, the next answers tell
            self._busy_until = now + REFRESH
            self._present_until = now + seconds
        elif fewest is not None and at_least > fewest + noise:
            self._busy_until = now + seconds
            self._present_until = now + seconds
            fewest = None  # count afresh from here
        elif at_least > noise:  # they sent within a window: maybe still sending
            self._busy_until = max(self._busy_until, now + REFRESH)
            self._present_until = max(self._present_until, now + seconds)
        self._fewest = at_most if fewest is None else min(fewest, at_most)
