"""The time left of a long run: the limiter's projection or the recent pace, the later wins.

Rows left at the recent pace is badly wrong when the rate limit holds the run: at 100
requests a minute, the first hundred go in a second, and the pace then promises the rest in
seconds while they wait for the window. The limiter knows better: ``MeetergoClient.forecast``
says when the last row not yet sent may go, by what its log (or the shared budget) holds now.
A ``Projection`` asks it when a line or the bar is due, not for every row, and adds the time
an answer takes lately. ``eta`` takes the later of the two: neither promises faster than the
other allows. What neither knows (retries to come, other clients of the key that do not share
its budget) is left out.

The pace set against the projection is the pace while requests were out (``busy_pace``):
the time spent waiting for the limit is the projection's to count. The pace over the clock
counts it as well, and at 100 requests a minute, 100 rows done in the first second and none
for a minute would double the time left (``bench/eta.py`` measured it). Without a
projection the pace over the clock is the one to go by.
"""

from __future__ import annotations

import collections
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Final

from meetergo_async import AttemptEvent, Event, MeetergoError

LATENCY_SAMPLES: Final = 20
"""The answer time added to a projection is the median of this many recent answers."""
BUSY_SPAN: Final = 60.0
"""``busy_pace`` is measured over about this many seconds with requests out."""


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


def time_left(
    now: float, projection: Projection | None, rows_left: int, pace: float
) -> float | None:
    """``eta`` by ``projection`` when it has one, with its ``busy_pace``; else by ``pace``
    (the pace over the clock)."""
    if projection is None or projection.ready_at is None:
        return eta(now, None, rows_left, pace)
    return eta(now, projection.ready_at, rows_left, projection.busy_pace)


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
        self._busy = 0.0  # seconds with at least one request out
        self._busy_until = -math.inf
        self._answers = 0
        self._samples: collections.deque[tuple[float, int]] = collections.deque([(0.0, 0)])
        self.ready_at: float | None = None
        """The projected end on ``clock``; ``None`` when unknown."""
        self.busy_pace = 0.0
        """Answers a second of the time with requests out, lately, as of the last refresh."""

    def bind(
        self, forecast: Callable[[int], Awaitable[float | None]], unsent: Callable[[], int]
    ) -> None:
        """Ask ``forecast`` (``MeetergoClient.forecast``) about the ``unsent()`` rows not yet
        sent (those waiting for a turn included)."""
        self._forecast = forecast
        self._unsent = unsent

    def on_event(self, event: Event) -> None:
        """The client's ``on_event`` hook: note how long each answer took."""
        if not isinstance(event, AttemptEvent):
            return
        # Events come as attempts end: the union of their spans grows by what is new.
        end = self._clock()
        self._busy += max(0.0, end - max(end - event.latency, self._busy_until))
        self._busy_until = max(self._busy_until, end)
        if event.status is not None:
            self._latencies.append(event.latency)
            self._answers += 1

    @property
    def answer_time(self) -> float:
        """The median time of the recent answers (``0`` before the first)."""
        return statistics.median(self._latencies) if self._latencies else 0.0

    async def refresh(self) -> None:
        """Ask the limiter again; a limiter that cannot tell leaves the pace alone."""
        self._measure_pace()
        count = self._unsent()
        if self._forecast is None:
            return
        if count <= 0:  # every row is out: what is left is their answers
            self.ready_at = self._clock() + self.answer_time
            return
        try:
            seconds = await self._forecast(count)
        except MeetergoError:  # a shared budget that cannot be read: the pace will do
            seconds = None
        self.ready_at = None if seconds is None else self._clock() + seconds + self.answer_time

    def _measure_pace(self) -> None:
        samples = self._samples
        samples.append((self._busy, self._answers))
        while len(samples) > 2 and self._busy - samples[1][0] >= BUSY_SPAN:
            samples.popleft()
        busy, answers = samples[0]
        spent = self._busy - busy
        self.busy_pace = (self._answers - answers) / spent if spent > 0 else 0.0
