"""Wake-ups: an event that wakes everyone waiting on it once, and a sleep that ends early.

The limiters' gate and the outage state both park tasks until either a time comes or
something changes (an answer arrived); these two small pieces are what they share.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["Signal", "wait_for_change"]


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
