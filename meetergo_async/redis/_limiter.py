"""The limiter of one client on a shared budget: turns from Redis, news back to it.

Each client given a ``RedisBudget`` has one ``RedisLimiter``, a ``Pacer``. A task's turn
is a slot that the pump (``_pump``) got from the budget's script: the task sleeps
the slot's wait and sends, unless a block began meanwhile (then it asks again). What an
answer teaches (its status, ``Retry-After``, ``X-RateLimit-Limit``) is noted in the
journal (``_journal``) and goes to Redis with the pump's next call. While Redis does
not answer, the turns come from the fallback (``_fallback``), or calls fail.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

import attrs
from redis.exceptions import RedisError

from .._http import parse_throttlers, tightest_throttler
from ..errors import BudgetUnavailableError
from ..pacing import Priority, Ticket
from ..pacing._factory import sliding_window_limiter
from ..pacing._protocol import TOO_LONG_TO_PAUSE
from ._binding import Binding
from ._fallback import Fallback
from ._journal import Journal
from ._pump import Pump
from ._script import Update, forecast_from
from ._waiting import Grant

__all__ = ["RedisLimiter", "RedisTicket"]

log = logging.getLogger(__name__)


@attrs.frozen
class RedisTicket(Ticket):
    """A turn on the shared budget: its slot (``member``) and the budget's block count then.

    ``inner`` is the fallback limiter's own ticket when Redis did not answer.
    """

    member: str = ""
    stamp: int = 0
    inner: Ticket | None = None


class RedisLimiter:
    """Paces one client on the budget shared through Redis (a ``Pacer``).

    Args:
        binding: the budget's keys and rules.
        clock: the monotonic clock (for ages and the fallback; waits come from Redis).
        sleep: the awaitable sleep.
        max_pause: the longest ``Retry-After`` that pauses the whole budget.
        flight: the most seconds an attempt stays in flight (the client's timeout).
    """

    def __init__(
        self,
        binding: Binding,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        max_pause: float,
        flight: float,
    ) -> None:
        self._b = binding
        self._clock = clock
        self._sleep = sleep
        self._max_pause = max_pause
        self._process = secrets.token_hex(8)
        self._journal = Journal(binding.window.seconds, flight)
        local = partial(sliding_window_limiter, clock=clock, sleep=sleep, max_pause=max_pause)
        self._fallback = Fallback(binding, local, clock)
        self._pump = Pump(
            binding,
            self._journal,
            self._fallback,
            process=self._process,
            flight=flight,
            clock=clock,
            sleep=sleep,
        )
        self.rate_limited = 0
        """How many 429 answers the client has seen."""

    @property
    def round_trips(self) -> int:
        """How many calls to Redis answered."""
        return self._pump.round_trips

    @property
    def rate(self) -> float | None:
        """The long-run pace in force (requests a second)."""
        local = self._fallback.rate if self._fallback.active else None
        return self._pump.limit / self._b.window.seconds if local is None else local

    def _down(self) -> bool:
        """Redis did not answer lately, and it is not yet time to ask it again."""
        return self._fallback.active and self._clock() < self._fallback.retry_at

    def try_acquire(
        self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> Ticket | None:
        """A turn at once only while Redis is down (from the fallback), or unheld; else ``None``.

        ``hold=False`` during a block: the turn of a call that may send only once, at once.
        """
        if not hold and self._pump.blocked and not self._down():
            return self._unheld_ticket()
        if not self._down() or self._b.raise_when_down:
            return None  # acquire asks Redis, or raises
        inner = self._fallback.try_acquire(hold=hold, lane=lane)
        return None if inner is None else self._local_ticket(inner)

    async def acquire(self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Wait for a turn: a slot of the shared budget, or the fallback's while Redis is down.

        ``hold=False`` (a call that may send only once): a block does not hold it.

        Raises:
            BudgetUnavailableError: Redis did not answer and the budget is set to raise.
        """
        if not hold and self._pump.blocked and not self._down():
            return self._unheld_ticket()
        held = self._pump.blocked
        while True:
            if self._down():
                if self._b.raise_when_down:
                    raise BudgetUnavailableError(self._fallback.reason)
                return self._local_ticket(await self._fallback.acquire(hold=hold, lane=lane))
            replies = self._pump.blocked_replies
            grant = await self._pump.ask(lane)
            held = held or self._pump.blocked_replies > replies
            if grant is None:
                continue  # Redis did not answer: the fallback's turn
            ticket = await self._use(grant, held)
            if ticket is not None:
                return ticket

    async def _use(self, grant: Grant, held: bool) -> Ticket | None:
        """Wait for the granted slot; ``None`` if a block began meanwhile (ask again)."""
        if grant.wait > 0:
            try:
                await self._sleep(grant.wait)
            except asyncio.CancelledError:
                self._pump.give_back(grant.member)
                raise
            if self._pump.blocks > grant.stamp // 2:
                self._pump.give_back(grant.member)
                return None
        now = self._clock()
        self._journal.start(grant.member, now)
        probe = grant.stamp % 2 == 1
        return RedisTicket(
            grant.seq, now, probe=probe, held=held, member=grant.member, stamp=grant.stamp
        )

    def _unheld_ticket(self) -> RedisTicket:
        """A turn during a block for a request the block must not hold: it probes it too.

        The server refuses it uncounted, or answers it (the block is over); either way its
        answer goes to the budget as a probe's would.
        """
        self._pump.seq += 1
        seq = self._pump.seq
        member = f"{self._process}:{seq}"
        now = self._clock()
        self._journal.start(member, now)
        stamp = 2 * self._pump.blocks + 1
        return RedisTicket(seq, now, probe=True, member=member, stamp=stamp)

    def _local_ticket(self, inner: Ticket) -> RedisTicket:
        self._pump.seq += 1
        seq = self._pump.seq
        member = f"{self._process}:{seq}"
        self._journal.start(member, inner.sent_at)
        return RedisTicket(seq, inner.sent_at, probe=inner.probe, member=member, inner=inner)

    def paused(self) -> bool:
        """Whether a 429 holds the budget's clients back: the last reply said so, or locally."""
        if self._fallback.active:
            return self._fallback.paused()
        return self._pump.blocked

    def pause(self, seconds: float) -> None:
        """The retry layer's wait after a 429: the budget already knows of the 429."""

    def on_attempt_done(self, ticket: Ticket | None = None) -> None:
        """An attempt ended without an answer: its request may count from now on."""
        if not isinstance(ticket, RedisTicket):
            return
        now = self._clock()
        sent = self._journal.end(ticket.member, now)
        if ticket.inner is not None:
            self._fallback.on_attempt_done(ticket.inner)
        elif sent is not None:
            self._journal.report(Update("A", ticket.member, now, sent, stamp=ticket.stamp))
            self._pump.kick(urgent=ticket.probe)

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """Tell the budget what an answer taught: sent with the next call to Redis."""
        if status == 429:
            self.rate_limited += 1
        if not isinstance(ticket, RedisTicket):
            return
        now = self._clock()
        sent = self._journal.end(ticket.member, now)
        if ticket.inner is not None:
            self._fallback.on_response(ticket.inner, status, headers, retry_after)
            return
        if sent is None:
            return
        retry_ms = self._retry_ms(status, retry_after)
        told = _told(headers)
        if told > 0:  # known here now; to the others with the next call
            self._pump.limit = min(self._b.window.limit, told)
        self._journal.report(
            Update("A", ticket.member, now, sent, status, retry_ms, told, ticket.stamp)
        )
        refused = status == 429 and retry_ms != -2
        if refused:
            self._pump.blocked = True  # the budget's next reply will say so too
        self._pump.kick(urgent=refused or ticket.probe or not self._pump.heard)

    def _retry_ms(self, status: int, retry_after: float | None) -> int:
        if status != 429 or retry_after is None:
            return -1
        if retry_after > self._max_pause:
            log.warning(TOO_LONG_TO_PAUSE, retry_after, self._max_pause)
            return -2
        return math.ceil(retry_after * 1000)

    async def forecast(self, count: int) -> float | None:
        """Seconds until the ``count``-th next request may go on the budget as it stands.

        Read from Redis (one round trip, nothing changed); from the fallback while Redis
        does not answer; ``None`` when neither can tell.
        """
        if self._down():
            return await self._fallback.forecast(count)
        try:
            raw = await self._pump.look()
        except (RedisError, OSError, TimeoutError, ValueError):
            return None
        return forecast_from(raw, self._b.window.seconds, count)

    async def aclose(self) -> None:
        """Tell Redis the last news and that this client leaves; close what it opened."""
        await self._pump.aclose()


def _told(headers: Mapping[str, str]) -> int:
    """``X-RateLimit-Limit`` of the only throttler; 0 when not usable; -1 without headers."""
    throttlers = parse_throttlers(headers)
    tightest = tightest_throttler(throttlers)
    if tightest is None or tightest.remaining is None:
        return -1
    if len(throttlers) == 1 and tightest.limit is not None:
        return tightest.limit
    return 0
