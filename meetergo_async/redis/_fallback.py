"""While Redis does not answer: a client paces itself on its share of the limit, or fails.

Part of the shared budget's limiter (``_limiter``). The first failure of an outage
logs one warning; from then on the client asks Redis again every ``RETRY_SECONDS`` (each
try bounded by the budget's ``timeout``) and returns to the shared budget when it answers.
Meanwhile, with ``on_unavailable="local"``, an in-process sliding-window limiter paces it
at the limit divided by ``local_share`` (by default the number of clients seen on the
budget recently), so N processes on their own do not send N times the budget.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Final

from ..pacing import Forecaster, Pacer, Priority, SlidingWindow, Ticket
from ._binding import Binding

__all__ = ["RETRY_SECONDS", "Fallback"]

log = logging.getLogger(__name__)

RETRY_SECONDS: Final = 1.0
"""Seconds between tries to reach Redis again while it does not answer."""


class Fallback:
    """A client's pacing while Redis is down: when to try Redis again, and the local limiter.

    ``local`` makes the in-process limiter for a window (the client's clock and sleep).
    """

    def __init__(
        self,
        binding: Binding,
        local: Callable[[SlidingWindow], Pacer],
        clock: Callable[[], float],
    ) -> None:
        self._b = binding
        self._local = local
        self._clock = clock
        self.active = False
        self.retry_at = -math.inf
        self.reason = ""
        self.processes = 1
        """Clients seen on the budget recently, as Redis last said."""
        self._limiter: Pacer | None = None
        self._window: SlidingWindow | None = None

    def start(self, exc: BaseException, limit: int) -> None:
        """Redis did not answer: pace locally (or fail) until ``retry_at``, then try again."""
        self.retry_at = self._clock() + RETRY_SECONDS
        self.reason = f"the shared rate budget in Redis did not answer ({_describe(exc)})"
        if self.active:
            log.debug("Redis still does not answer (%s)", _describe(exc))
            return
        self.active = True
        if self._b.raise_when_down:
            log.warning("%s: calls fail with BudgetUnavailableError until it does", self.reason)
            return
        share = self._b.local_share or self.processes
        own = max(1, limit // share)
        window = SlidingWindow(own, self._seconds)
        if self._limiter is None or self._window != window:
            self._limiter = self._local(window)
            self._window = window
        log.warning(
            "%s: this client paces itself at %d requests per %gs (1/%d of %d) until it does",
            self.reason,
            own,
            self._seconds,
            share,
            limit,
        )

    def stop(self) -> None:
        """Redis answers again."""
        self.active = False
        log.info("Redis answers again: the shared rate budget paces this client again")

    @property
    def _seconds(self) -> float:
        return self._b.window.seconds

    @property
    def rate(self) -> float | None:
        """The local limiter's pace."""
        return None if self._limiter is None else self._limiter.rate

    def paused(self) -> bool:
        """Whether the local limiter holds the client back after a 429."""
        return self._limiter is not None and self._limiter.paused()

    def try_acquire(self, *, hold: bool, lane: Priority) -> Ticket | None:
        """A local turn at once, or ``None``."""
        assert self._limiter is not None
        return self._limiter.try_acquire(hold=hold, lane=lane)

    async def acquire(self, *, hold: bool, lane: Priority) -> Ticket:
        """Wait for a local turn."""
        assert self._limiter is not None
        return await self._limiter.acquire(hold=hold, lane=lane)

    async def forecast(self, count: int) -> float | None:
        """The local limiter's forecast, or ``None`` before it has started."""
        if not isinstance(self._limiter, Forecaster):
            return None
        return await self._limiter.forecast(count)

    def on_attempt_done(self, ticket: Ticket) -> None:
        """A local turn's attempt ended without an answer."""
        if self._limiter is not None:
            self._limiter.on_attempt_done(ticket)

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """A local turn's attempt was answered."""
        if self._limiter is not None:
            self._limiter.on_response(ticket, status, headers, retry_after)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
