"""The one gate of every in-process limiter: the queues, the turns and the wake-ups.

A ``Gate`` turns a synchronous ``Policy`` (which only says how long to wait) into the
``Pacer`` the client awaits. Waiters queue in two lanes (``Priority``): interactive ones
before bulk ones, first come, first served within a lane. Only the head of the line asks the
policy and sleeps until it lets it go, waking early when an answer or a failure may have
made room, or when an interactive waiter arrives to take its place at the head; the others
wait for their turn. A turn that is free at once is taken without queueing
(``try_acquire``) unless someone waits in the same lane or a more urgent one, so nobody
overtakes a waiter of its own lane.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

import attrs

from .._wait import Signal, wait_for_change
from ._config import Priority
from ._protocol import Policy, Ticket

__all__ = ["Gate"]

_LANES = (Priority.INTERACTIVE, Priority.BULK)  # the order in which the lanes are served


class _Waiter:
    """A task in line for a turn: set ``turn`` when it becomes the head of the line."""

    __slots__ = ("turn",)

    def __init__(self) -> None:
        self.turn = asyncio.Event()


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
        self._lines: dict[Priority, deque[_Waiter]] = {lane: deque() for lane in _LANES}
        self._queued = 0  # tasks in line: the free path must not overtake them
        self._unheld = 0  # tasks waiting outside the lines (``hold=False``)
        self._changed = Signal()

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the client has seen."""
        return self.policy.rate_limited

    @property
    def rate(self) -> float | None:
        """The long-run pace in force (requests a second), ``None`` when unpaced."""
        return self.policy.rate

    def try_acquire(
        self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> Ticket | None:
        """Take a turn at once if nobody of this lane or a more urgent one waits; else ``None``.

        ``hold=False``: a pause after a 429 does not hold it, nor do those queued behind it.
        """
        if hold and self._queued and self._ahead(lane):
            return None
        now = self._clock()
        if self.policy.wait(now, hold, lane) != 0.0:
            return None
        return self.policy.grant(now, lane)

    def _ahead(self, lane: Priority) -> bool:
        """Whether someone waits in ``lane`` or in a more urgent one."""
        for other in _LANES:
            if self._lines[other]:
                return True
            if other is lane:
                return False
        return False

    def _head(self) -> _Waiter | None:
        for lane in _LANES:
            if self._lines[lane]:
                return self._lines[lane][0]
        return None

    async def acquire(self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Wait for this client's turn: interactive first, then first come, first served.

        Cancel-safe. ``hold=False`` (a call that may send only once): it waits only for the
        rate limit, not for a pause after a 429, and not behind those queued for one.
        """
        if not hold:
            return await self._acquire_unheld(lane)
        me = _Waiter()
        line = self._lines[lane]
        line.append(me)
        self._queued += 1
        if self._head() is me:
            self._changed.notify()  # an interactive waiter takes the head from a bulk one
        try:
            return await self._wait_in_line(me, lane)
        finally:
            line.remove(me)
            self._queued -= 1
            head = self._head()
            if head is not None:
                head.turn.set()

    async def _wait_in_line(self, me: _Waiter, lane: Priority) -> Ticket:
        held = False
        while True:
            if self._head() is not me:
                me.turn.clear()
                await me.turn.wait()
                continue
            now = self._clock()
            wait = self.policy.wait(now, True, lane)
            if wait == 0.0:
                ticket = self.policy.grant(now, lane)
                return attrs.evolve(ticket, held=True) if held else ticket
            held = held or self.policy.paused(now)
            await wait_for_change(self._changed.event, self._sleep, wait)

    async def _acquire_unheld(self, lane: Priority) -> Ticket:
        self._unheld += 1
        try:
            while (wait := self.policy.wait(self._clock(), False, lane)) != 0.0:
                await wait_for_change(self._changed.event, self._sleep, wait)
            return self.policy.grant(self._clock(), lane)
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

    async def forecast(self, count: int) -> float | None:
        """Seconds until the ``count``-th next request may go, by the policy's state now."""
        return self.policy.forecast(self._clock(), count)
