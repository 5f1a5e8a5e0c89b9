"""What the sliding-window limiter remembers: its own requests, and a limit taught by 429s.

``OwnLog`` keeps this client's requests that the server may still count, with two bounds:
a request counts on the server from its arrival for ``seconds``; the arrival is unknown but
lies between when it was sent and when its answer came. So it may still count until
``seconds`` after its answer (the log's conservative expiry, used for pacing), and surely
still counts while less than ``seconds`` have passed since it was sent (used for learning).

``Lesson`` is the limit a server without rate-limit headers teaches through its 429s.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import deque

__all__ = ["EXPIRY_MARGIN", "Hit", "Lesson", "OwnLog"]

log = logging.getLogger(__name__)

EXPIRY_MARGIN = 0.02
"""Seconds added to each expiry: the server's timers may fire a little late."""
RECOVERY_STEP = 0.1
"""How much of the configured limit a taught limit climbs back per ``RECOVERY_WINDOWS``."""
RECOVERY_WINDOWS = 2
"""Clean windows (no 429) before a taught limit climbs back a step."""
FORGOTTEN_MEMORY = 2.0
"""Seconds the log remembers when the requests it forgot stopped counting (answers that
arrive late still compare with what counted when they reached the server)."""
COUNT_SLACK = 0.02
"""Counts that differ by at most this part of the limit, plus one, are the same count."""


class Hit:
    """One request of this client: when it was sent, answered, and how (0: no answer)."""

    __slots__ = ("ended", "mark", "sent", "seq", "status")

    def __init__(self, seq: int, sent: float, mark: int) -> None:
        self.seq = seq
        self.sent = sent
        self.mark = mark  # how many requests had ended when it was sent
        self.ended = math.inf  # in flight
        self.status = 0

    @property
    def accepted(self) -> bool:
        """Answered below 400: the server counted it."""
        return 0 < self.status < 400


class OwnLog:
    """This client's requests in flight, and those ended within a window (in end order)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.in_flight: dict[int, Hit] = {}
        self.done: deque[Hit] = deque()
        self._gone: deque[float] = deque()  # when those forgotten lately stopped counting
        # When each accepted one was sent, in order: answers come back out of order, but
        # nearly in order, so inserting is cheap; counting is a bisection, not a scan.
        self._accepted_sent: list[float] = []
        self._first = 0  # those before this index were sent too long ago
        self._horizon = -math.inf  # sent before this: no longer surely counted
        self.ended = 0  # requests ended so far

    def start(self, seq: int, now: float) -> None:
        """Note a request sent now."""
        self.in_flight[seq] = Hit(seq, now, self.ended)

    def end(self, seq: int, status: int, now: float, *, keep: bool) -> Hit | None:
        """Note that request ``seq`` ended with ``status``; ``keep`` it in the log."""
        hit = self.in_flight.pop(seq, None)
        if hit is not None:
            hit.ended, hit.status = now, status
            self.ended += 1
            if keep:
                self.keep(hit)
        return hit

    def keep(self, hit: Hit) -> None:
        """Keep an ended request in the log (it ended last)."""
        self.done.append(hit)
        if hit.accepted and hit.sent > self._horizon:
            bisect.insort(self._accepted_sent, hit.sent, lo=self._first)

    def live(self, now: float) -> int:
        """Requests the server may still count (the conservative bound); forgets the rest."""
        done, expiry, gone = self.done, self.seconds + EXPIRY_MARGIN, self._gone
        while done and done[0].ended + expiry <= now:
            gone.append(done.popleft().ended + expiry)
        while gone and gone[0] <= now - FORGOTTEN_MEMORY:
            gone.popleft()
        return len(self.in_flight) + len(done)

    def live_at(self, moment: float, now: float) -> int:
        """Those the server may have counted at ``moment``, a little before ``now``."""
        return self.live(now) + sum(1 for expired in self._gone if expired > moment)

    def next_expiry(self) -> float | None:
        """When the oldest ended request stops counting, or ``None`` if none has ended."""
        return self.done[0].ended + self.seconds + EXPIRY_MARGIN if self.done else None

    def counted_before(self, hit: Hit, now: float) -> int:
        """Those answered before ``hit`` was sent and surely still counted when it arrived."""
        horizon = now - self.seconds
        return sum(1 for h in self.done if h.ended <= hit.sent and h.sent > horizon)

    def maybe_after(self, hit: Hit) -> int:
        """Ours that may have reached the server after ``hit`` did (it just ended).

        Those in flight now, and those that ended after it was sent.
        """
        return len(self.in_flight) + self.ended - 1 - hit.mark

    def surely_accepted(self, now: float) -> int:
        """Those the server accepted and surely still counts now."""
        sent = self._accepted_sent
        self._horizon = max(self._horizon, now - self.seconds)
        self._first = bisect.bisect_right(sent, self._horizon, lo=self._first)
        if self._first > len(sent) // 2:  # forget the old ones now and then, not each time
            del sent[: self._first]
            self._first = 0
        return len(sent) - self._first

    def restart(self, first: Hit) -> None:
        """The server started a fresh log with ``first``: forget everything before it."""
        self.done = deque([first])
        self._gone.clear()
        self._accepted_sent, self._first = ([first.sent] if first.accepted else []), 0


class Lesson:
    """The limit that 429s taught, without headers; it climbs back unless confirmed.

    The first 429 of a block teaches how many requests the server had accepted in the
    window, unless more had been accepted in a window before (then a neighbour caused it).
    A taught limit climbs back by ``RECOVERY_STEP`` of the configured one every
    ``RECOVERY_WINDOWS`` clean windows; above the level once refused, requests go one at a
    time; a second refusal at that level confirms the limit for good.
    """

    def __init__(self, configured: int, now: float) -> None:
        self.configured = configured
        self.limit: int | None = None
        self.refused_at: int | None = None
        self.confirmed = False
        self._best = 0  # most requests surely accepted within one window, no 429 between
        self._clean_since = now

    def _same(self, a: int, b: int) -> bool:
        return abs(a - b) <= COUNT_SLACK * self.configured + 1

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
        if self.limit is None or self.confirmed:
            return
        if now - self._clean_since >= RECOVERY_WINDOWS * seconds:
            step = max(1, math.ceil(RECOVERY_STEP * self.configured))
            self.limit = None if self.limit + step >= self.configured else self.limit + step
            self._clean_since = now

    def forget(self) -> None:
        """The server's headers tell the limit now."""
        self.limit = self.refused_at = None
