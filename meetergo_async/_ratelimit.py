"""Pacing: the limiter protocol every request of a client goes through, and its factory.

A limiter grants turns (``Ticket``) and learns from each attempt's end. Two in-process
policies implement it: ``_window`` for a sliding-window limit (``SlidingWindow``, the
default: meetergo's throttler counts that way) and ``_bucket`` for a token bucket
(``RateLimit``). A budget shared between processes (``SharedBudget``, e.g. the Redis one in
``meetergo_async.redis``) makes its own limiter per client; such a limiter may hold
connections, which ``close_limiter`` releases when the client closes.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from ._config import DEFAULT_TIMEOUT, RateLimit, SharedBudget, SlidingWindow

__all__ = ["Pacer", "Signal", "Ticket", "close_limiter", "make_limiter", "wait_for_change"]


@attrs.frozen
class Ticket:
    """Proof that a request was let through: its sequence number and when it was sent.

    ``probe``: it tests whether a client-wide pause is over; its refusal is the pause going
    on, not a failure of the call it belongs to.
    """

    seq: int
    sent_at: float
    probe: bool = False


class Pacer(Protocol):
    """What the client needs of a limiter."""

    rate_limited: int

    @property
    def rate(self) -> float | None:
        """The long-run pace in force, requests a second, or ``None`` when unpaced."""

    def try_acquire(self) -> Ticket | None:
        """A turn at once, or ``None`` when the caller must ``acquire``."""

    async def acquire(self) -> Ticket:
        """Wait for a turn."""

    def on_attempt_done(self, ticket: Ticket | None = None) -> None:
        """An attempt ended without an answer (failed or cancelled)."""

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """An attempt was answered."""

    def pause(self, seconds: float) -> None:
        """The retry layer is about to wait ``seconds`` after a 429."""


class Signal:
    """An event that wakes everyone waiting on it once, then starts afresh."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def notify(self) -> None:
        """Wake the current waiters."""
        self.event.set()
        self.event = asyncio.Event()


async def wait_for_change(
    event: asyncio.Event, sleep: Callable[[float], Awaitable[None]], seconds: float | None
) -> None:
    """Sleep ``seconds`` (``None``: until ``event``), waking early when ``event`` is set."""
    waiting: list[asyncio.Future[object]] = [asyncio.ensure_future(event.wait())]
    if seconds is not None:
        waiting.append(asyncio.ensure_future(sleep(seconds)))
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waiting:
            future.cancel()


@runtime_checkable
class _Closing(Protocol):
    async def aclose(self) -> None: ...


def make_limiter(
    rate_limit: RateLimit | SlidingWindow | SharedBudget | None,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    max_pause: float = math.inf,
    api_key: str = "",
    attempt_timeout: float = DEFAULT_TIMEOUT,
) -> Pacer:
    """Build the limiter for ``rate_limit`` (``None``: unpaced, 429s still pause).

    A ``SharedBudget`` makes it, bound to ``api_key``; an attempt stays in flight at most
    ``attempt_timeout`` seconds.
    """
    # Imported here: both policies import Ticket from this module.
    from ._bucket import Limiter
    from ._window import SlidingWindowLimiter

    if isinstance(rate_limit, SharedBudget):
        return rate_limit.limiter_for(
            api_key, clock=clock, sleep=sleep, max_pause=max_pause, attempt_timeout=attempt_timeout
        )
    if isinstance(rate_limit, RateLimit):
        return Limiter(rate_limit, clock=clock, sleep=sleep, max_pause=max_pause)
    return SlidingWindowLimiter(rate_limit, clock=clock, sleep=sleep, max_pause=max_pause)


async def close_limiter(limiter: Pacer) -> None:
    """Release what ``limiter`` holds (a shared budget's connections); others hold nothing."""
    if isinstance(limiter, _Closing):
        await limiter.aclose()
