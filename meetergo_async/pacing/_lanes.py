"""Room for people while a bulk job fills the key: the slots the bulk lane leaves free.

Part of the sliding-window limiters (in-process here, in Lua for the shared budget);
written by hand, as no limiter library knows the server's sliding log. Priority decides who
takes a free slot; it cannot make one free. On a sliding log a slot comes back only when a
request stops counting, a whole window after it was taken, and a bulk job takes freed slots
the moment they free: a log filled in one burst frees in one burst, a window later, and a
single call arriving in between waits for it (up to a minute on meetergo), priority or not.
So while interactive calls are seen (sent within the last window), the bulk lane leaves
free enough slots for the calls expected before the log frees slots again, at least one
(``Lanes.headroom``). The calls expected are those seen in the last window and one
more (while people start to come, what was seen so far is fewer than will). The slots that
come back for them are the calls' own, each a window after its answer (a bulk job takes
its own back as they free). The count is exact arithmetic (``reserve``): the most by which
the calls expected until some moment of the coming window outnumber the slots coming back
until then. After a burst this holds back slots for
the window's calls; in steady state one stays free and a call takes it at once. A window
without interactive calls gives it all back, so a bulk job alone runs as fast as before.

What it costs a bulk job while people are around: the free slot (one of the limit, in each
window), and after a burst the slots held for the calls expected. Slots the calls take are
work done on the key, not lost. What it cannot do: a call that comes during a bulk job's
first window after a quiet spell waits for that window's first slots to come back, as
every slot was taken before anyone could be seen. Leaving slots free just in case would
cost every bulk job alone as much (up to a window, when its last requests just miss a
burst).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Final, NamedTuple

__all__ = ["Lanes", "Reserve", "reserve"]

_EPSILON: Final = 1e-9


class Reserve(NamedTuple):
    """Slots to leave free, and the seconds until fewer may do (``inf``: not before news)."""

    slots: int
    recheck: float


def reserve(now: float, window: float, expected: float, expiries: Iterable[float]) -> Reserve:
    """The slots to leave free now for ``expected`` interactive calls per ``window``: one or more.

    ``expiries``: when the log's entries stop counting, ascending (past ones are skipped).
    """
    if expected <= 0:
        return Reserve(1, math.inf)
    rate = expected / window
    horizon = now + window
    most = 0.0
    whole = True  # ``most`` is what the whole window's calls need, not those until an expiry
    freed = 0
    entering = math.inf  # when the first expiry beyond the horizon comes within it
    for expiry in expiries:
        if expiry <= now:
            continue
        if expiry > horizon:
            entering = expiry - window
            break
        if rate * window - freed <= most:
            return _slots(most, False, rate, entering)  # no later moment can need more
        if rate * (expiry - now) - freed > most:
            most, whole = rate * (expiry - now) - freed, False
        freed += 1
    if rate * window - freed >= most:  # what the whole window's calls need
        most, whole = rate * window - freed, True
    return _slots(most, whole, rate, entering - now)


def _slots(most: float, whole: bool, rate: float, entering: float) -> Reserve:
    needed = max(1, math.ceil(most - _EPSILON))
    if whole:  # fewer once another expiry comes within the window
        return Reserve(needed, max(entering, _EPSILON))
    # The calls expected until a given expiry shrink as time passes: one slot fewer is
    # needed once ``most`` falls to ``needed - 1``.
    return Reserve(needed, max(most - (needed - 1), _EPSILON) / rate)


class Lanes:
    """Interactive calls let through lately, and when their slots come back."""

    def __init__(self) -> None:
        self._sent: deque[float] = deque()  # interactive requests sent, within a window
        self._flying: set[int] = set()  # those not ended yet, by number
        self._expiries: deque[float] = deque()  # when the ended ones stop counting

    def interactive_sent(self, now: float, seq: int) -> None:
        """Interactive request ``seq`` was let through."""
        self._sent.append(now)
        self._flying.add(seq)

    def ended(self, seq: int, expiry: float) -> None:
        """Request ``seq`` ended; it stops counting at ``expiry`` (if it is interactive)."""
        if seq in self._flying:
            self._flying.discard(seq)
            self._expiries.append(expiry)

    def seen(self, now: float, window: float) -> int:
        """Interactive requests sent within the last ``window`` seconds."""
        sent = self._sent
        while sent and sent[0] <= now - window:
            sent.popleft()
        return len(sent)

    def headroom(self, now: float, window: float) -> Reserve:
        """The slots a bulk request leaves free now.

        Only the interactive requests' own slots count as coming back for the calls: a bulk
        job takes back the slots of its own requests as they free.
        """
        seen = self.seen(now, window)
        if not seen:
            return Reserve(0, math.inf)
        expiries = self._expiries
        while expiries and expiries[0] <= now:
            expiries.popleft()
        found = reserve(now, window, seen + 1, expiries)  # and the next one
        fewer_seen = self._sent[0] + window - now  # the oldest call seen leaves the window
        return Reserve(found.slots, min(found.recheck, fewer_seen))
