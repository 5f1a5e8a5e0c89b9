"""The time left of a long run: the limiter's projection or the recent pace, the later wins.

Rows left at the recent pace is badly wrong when the rate limit holds the run: at 100
requests a minute, the first hundred go in a second, and the pace then promises the rest in
seconds while they wait for the window. The limiter knows better: ``MeetergoClient.forecast``
says when the last row not yet sent may go, by what its log (or the shared budget) holds now.
A ``Projection`` asks it when a line or the bar is due, not for every row, and adds the time
an answer takes lately. ``eta`` takes the later of the two: neither promises faster than the
other allows. What neither knows (retries to come, other clients of the key that do not share
its budget) is left out.
"""

from __future__ import annotations

import collections
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Final

from meetergo_async import AttemptEvent, Event, MeetergoError

LATENCY_SAMPLES: Final = 20
"""The answer time added to a projection is the median of this many recent answers."""


def eta(now: float, ready_at: float | None, rows_left: int, pace: float) -> float | None:
    """Seconds left: the later of the projection and ``rows_left`` at ``pace``.

    Args:
        now: the clock now.
        ready_at: when, by the limiter's last projection, the last row will be answered
            (on the same clock); ``None`` when unknown.
        rows_left: the rows not yet finished.
        pace: rows finished a second, lately (``0`` when unknown).

    Returns:
        ``None`` when nothing is left, or when neither the projection nor a pace is known.
    """
    if rows_left <= 0:
        return None
    known = [rows_left / pace] if pace > 0 else []
    if ready_at is not None:
        known.append(max(0.0, ready_at - now))
    return max(known) if known else None


class Projection:
    """When the limiter lets the last unsent row go, plus an answer's time, as last asked.

    The client takes ``on_event`` when it is made, before what counts the rows exists: so
    ``forecast`` and ``unsent`` are given by ``bind``; until then it projects nothing.

    Args:
        clock: the monotonic clock that ``eta``'s ``now`` comes from.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._forecast: Callable[[int], Awaitable[float | None]] | None = None
        self._unsent: Callable[[], int] = lambda: 0
        self._latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_SAMPLES)
        self.ready_at: float | None = None
        """The projected end on ``clock``; ``None`` when unknown or when every row is sent."""

    def bind(
        self, forecast: Callable[[int], Awaitable[float | None]], unsent: Callable[[], int]
    ) -> None:
        """Ask ``forecast`` (``MeetergoClient.forecast``) about the ``unsent()`` rows not yet
        sent (those waiting for a turn included)."""
        self._forecast = forecast
        self._unsent = unsent

    def on_event(self, event: Event) -> None:
        """The client's ``on_event`` hook: note how long each answer took."""
        if isinstance(event, AttemptEvent) and event.status is not None:
            self._latencies.append(event.latency)

    @property
    def answer_time(self) -> float:
        """The median time of the recent answers (``0`` before the first)."""
        return statistics.median(self._latencies) if self._latencies else 0.0

    async def refresh(self) -> None:
        """Ask the limiter again; a limiter that cannot tell leaves the pace alone."""
        count = self._unsent()
        if count <= 0 or self._forecast is None:
            self.ready_at = None
            return
        try:
            seconds = await self._forecast(count)
        except MeetergoError:  # a shared budget that cannot be read: the pace will do
            seconds = None
        self.ready_at = None if seconds is None else self._clock() + seconds + self.answer_time
