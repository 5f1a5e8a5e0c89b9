"""What the sliding-window policy remembers of its own requests: ``OwnLog``.

``OwnLog`` keeps this client's requests that the server may still count, with two bounds:
a request counts on the server from its arrival for ``seconds``; the arrival is unknown but
lies between when it was sent and when its answer came. So it may still count until
``seconds`` after its answer (the log's conservative expiry, used for pacing), and surely
still counts while less than ``seconds`` have passed since it was sent (used for learning).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Final

__all__ = ["COUNT_SLACK", "EXPIRY_MARGIN", "Hit", "OwnLog"]

EXPIRY_MARGIN: Final = 0.02
"""Seconds added to each expiry: the server's timers may fire a little late."""
FORGOTTEN_MEMORY: Final = 2.0
"""Seconds the log remembers when the requests it forgot stopped counting (answers that
arrive late still compare with what counted when they reached the server)."""
COUNT_SLACK: Final = 0.02
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
            hit.ended = now
            hit.status = status
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
        done = self.done
        gone = self._gone
        expiry = self.seconds + EXPIRY_MARGIN
        while done and done[0].ended + expiry <= now:
            gone.append(done.popleft().ended + expiry)
        while gone and gone[0] <= now - FORGOTTEN_MEMORY:
            gone.popleft()
        return len(self.in_flight) + len(done)

    def live_at(self, moment: float, now: float) -> int:
        """Those the server may have counted at ``moment``, a little before ``now``."""
        return self.live(now) + sum(1 for expired in self._gone if expired > moment)

    def expiries(self, now: float) -> list[float]:
        """When each request the server may count stops counting, soonest first (one in
        flight: a window after now, as if answered now)."""
        expiry = self.seconds + EXPIRY_MARGIN
        return [h.ended + expiry for h in self.done] + [now + expiry] * len(self.in_flight)

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
        self._accepted_sent = [first.sent] if first.accepted else []
        self._first = 0
