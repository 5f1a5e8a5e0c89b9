"""What one process of a shared budget remembers: its requests that may still count, and news.

Redis holds the budget; the process keeps two things of its own, on its own clock:

- **news** (``pending``): what it learned since its last call to Redis (answers, slots given
  back). It goes with the next call, which a process makes anyway to reserve its next
  slot, so an answer costs no round trip of its own;
- **history**: its requests that the server may still count (in flight, or answered less
  than a window ago). Redis gets it whole when it may lack some: after Redis was down (the
  process paced itself meanwhile) or lost its data (a restart without persistence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from ..pacing._log import EXPIRY_MARGIN
from ._script import Update

__all__ = ["Journal"]


class Journal:
    """One process's history and news about its requests (times on the process's clock)."""

    def __init__(self, window: float, flight: float) -> None:
        self._window = window
        self._flight = flight
        self.in_flight: dict[str, float] = {}  # member -> when sent
        self._ended: deque[tuple[str, float, float]] = deque()  # (member, sent, ended)
        self.pending: dict[str, Update] = {}

    def start(self, member: str, sent: float) -> None:
        """Note a request sent."""
        self.in_flight[member] = sent

    def end(self, member: str, now: float) -> float | None:
        """Note that request ``member`` ended now; return when it was sent (``None``: unknown)."""
        sent = self.in_flight.pop(member, None)
        if sent is not None:
            self._ended.append((member, sent, now))
        return sent

    def report(self, update: Update) -> None:
        """Keep ``update`` for the next call to Redis."""
        self.pending[update.member] = update

    def take(self, now: float, *, full: bool) -> list[Update]:
        """The news for a call to Redis, after the whole history when ``full``."""
        self._forget(now)
        news = list(self.pending.values())
        self.pending.clear()
        if not full:
            return news
        history = [Update("S", member, sent=sent) for member, sent in self.in_flight.items()]
        history += [Update("E", member, ended, sent) for member, sent, ended in self._ended]
        return history + news

    def give_back(self, updates: Iterable[Update]) -> None:
        """A call failed: keep its news (not the history) for the next one, before newer news."""
        kept = {u.member: u for u in updates if u.kind in "AR"}
        kept.update(self.pending)
        self.pending = kept

    def _forget(self, now: float) -> None:
        """Drop what can no longer count on the server."""
        horizon = now - self._window - EXPIRY_MARGIN
        ended = self._ended
        while ended and ended[0][2] <= horizon:
            ended.popleft()
        if any(u.kind == "A" and u.ended <= horizon for u in self.pending.values()):
            self.pending = {
                m: u for m, u in self.pending.items() if u.kind != "A" or u.ended > horizon
            }
