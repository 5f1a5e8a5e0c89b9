"""The one gate of every in-process limiter: the queue, the lock and the wake-ups.

A ``Gate`` turns a synchronous ``Policy`` (which only says how long to wait) into the
``Pacer`` the client awaits. Waiters are served first come, first served: one at a time
holds the lock and sleeps until the policy lets it go, waking early when an answer or a
failure may have made room. A turn that is free at once is taken without the lock
(``try_acquire``) unless someone is queued, so nobody overtakes a waiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import attrs

from .._wait import Signal, wait_for_change
from ._protocol import Policy, Ticket

__all__ = ["Gate"]


class Gate:
    """Paces the requests of one client by ``policy``; shared by all of its tasks (a ``Pacer``).

    Args:
        policy: decides when each request may go.
        clock: a monotonic clock in seconds.
        sleep: an awaitable sleep.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self._queued = 0  # tasks inside ``acquire``: the lock-free path must not overtake them
        self._unheld = 0  # tasks waiting outside the queue (``hold=False``)
        self._changed = Signal()

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the client has seen."""
        return self.policy.rate_limited

    @property
    def rate(self) -> float | None:
        """The long-run pace in force (requests a second), ``None`` when unpaced."""
        return self.policy.rate

    def try_acquire(self, *, hold: bool = True) -> Ticket | None:
        """Take a turn at once if nobody is queued and the policy allows it; else ``None``.

        ``hold=False``: a pause after a 429 does not hold it, nor do those queued behind it.
        """
        if self._queued and hold:
            return None
        now = self._clock()
        return self.policy.grant(now) if self.policy.wait(now, hold) == 0.0 else None

    async def acquire(self, *, hold: bool = True) -> Ticket:
        """Wait for this client's turn; first come, first served; cancel-safe.

        ``hold=False`` (a call that may send only once): it waits only for the rate limit,
        not for a pause after a 429, and not behind those queued for one.
        """
        if not hold:
            return await self._acquire_unheld()
        self._queued += 1
        try:
            async with self._lock:
                held = False
                while (wait := self.policy.wait(now := self._clock())) != 0.0:
                    held = held or self.policy.paused(now)
                    await wait_for_change(self._changed.event, self._sleep, wait)
                ticket = self.policy.grant(self._clock())
                return attrs.evolve(ticket, held=True) if held else ticket
        finally:
            self._queued -= 1

    async def _acquire_unheld(self) -> Ticket:
        self._unheld += 1
        try:
            while (wait := self.policy.wait(self._clock(), False)) != 0.0:
                await wait_for_change(self._changed.event, self._sleep, wait)
            return self.policy.grant(self._clock())
        finally:
            self._unheld -= 1

    def on_attempt_done(self, ticket: Ticket | None = None) -> None:
        """Note that an attempt ended without an answer (failed or cancelled)."""
        if self.policy.ended(ticket, self._clock()) and (self._queued or self._unheld):
            self._changed.notify()

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """Learn from one answer; wake the waiter if a turn may have come."""
        changed = self.policy.answered(ticket, status, headers, retry_after, self._clock())
        if changed and (self._queued or self._unheld):  # nobody else listens
            self._changed.notify()

    def pause(self, seconds: float) -> None:
        """The retry layer is about to wait ``seconds`` after a 429."""
        self.policy.pause(seconds, self._clock())

    def paused(self) -> bool:
        """Whether the whole client is held back now."""
        return self.policy.paused(self._clock())
