"""The limiter of one client on a shared budget: its turns come from Redis, one call at a time.

Each client has one ``RedisLimiter``. Its tasks queue for turns; one of them at a time
(the *pump*) calls the budget's script with all the news of the process and asks for as
many slots as tasks wait, so a request costs at most one round trip and usually less. Each
granted slot comes with its wait (on Redis's clock): the task sleeps that long and sends.
When Redis does not answer, the client paces itself (``_redis_fallback``) or fails its calls,
and asks Redis again every ``RETRY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ._config import SlidingWindow
from ._http import parse_throttlers, tightest_throttler
from ._ratelimit import Ticket
from ._redis_fallback import Fallback
from ._redis_ledger import Ledger
from ._redis_script import Keys, Reply, Update, arguments, parse_reply, source
from ._window import _TOO_LONG
from .errors import BudgetUnavailableError

__all__ = ["Binding", "RedisLimiter", "RedisTicket"]

log = logging.getLogger("meetergo_async.redis")

FLUSH_DELAY: Final = 0.1
"""Seconds news waits for a call that asks for a slot anyway, before going on its own."""
HEARTBEAT: Final = 1.0
"""Seconds between a process's reports that it uses the budget (for ``local_share``)."""
MAX_BATCH: Final = 64
"""Most slots asked for in one call."""
_FAILURES = (RedisError, OSError, TimeoutError, ValueError)


@attrs.frozen
class RedisTicket(Ticket):
    """A turn on the shared budget: its slot (``member``) and the budget's block count then.

    ``inner`` is the fallback limiter's own ticket when Redis did not answer.
    """

    member: str = ""
    stamp: int = 0
    inner: Ticket | None = None


@attrs.frozen
class Binding:
    """What a budget gives each client's limiter: Redis, the keys, the rules."""

    connect: Callable[[], tuple[Any, bool]]
    """Returns the asyncio Redis client, and whether the limiter owns it (closes it)."""
    keys: Keys
    window: SlidingWindow
    raise_when_down: bool
    local_share: int | None
    timeout: float
    presence: float


@attrs.frozen
class _Grant:
    member: str
    seq: int
    wait: float
    stamp: int


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
        self._b, self._clock, self._sleep = binding, clock, sleep
        self._max_pause, self._flight = max_pause, flight
        self._process = secrets.token_hex(8)
        self._ledger = Ledger(binding.window.seconds, flight)
        self._fallback = Fallback(binding, clock=clock, sleep=sleep, max_pause=max_pause)
        self._seq = 0
        self._waiting: deque[asyncio.Future[_Grant | None]] = deque()
        self._pump: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._urgent = self._idle = self._closed = False
        self._script: Any = None
        self._redis: Any = None
        self._owned = False
        self._generation = ""
        self._full = False  # the next call carries the whole history
        self._limit = binding.window.limit
        self._blocks = 0
        self._heard = False
        self._hello_at = -math.inf
        self.rate_limited = 0
        """How many 429 answers the client has seen."""
        self.round_trips = 0
        """How many calls to Redis answered."""

    @property
    def rate(self) -> float | None:
        """The long-run pace in force (requests a second)."""
        if self._fallback.active:
            return self._fallback.rate
        return self._limit / self._b.window.seconds

    def try_acquire(self) -> Ticket | None:
        """A turn at once only while Redis is down (from the fallback); else ``None``."""
        if self._fallback.active and self._clock() < self._fallback.retry_at:
            if self._b.raise_when_down:
                return None  # acquire raises
            inner = self._fallback.try_acquire()
            return None if inner is None else self._local_ticket(inner)
        return None

    async def acquire(self) -> Ticket:
        """Wait for a turn: a slot of the shared budget, or the fallback's while Redis is down.

        Raises:
            BudgetUnavailableError: Redis did not answer and the budget is set to raise.
        """
        while True:
            if self._fallback.active and self._clock() < self._fallback.retry_at:
                if self._b.raise_when_down:
                    raise BudgetUnavailableError(self._fallback.reason)
                return self._local_ticket(await self._fallback.acquire())
            grant = await self._ask()
            if grant is None:
                continue  # Redis did not answer: the fallback's turn
            ticket = await self._use(grant)
            if ticket is not None:
                return ticket

    async def _ask(self) -> _Grant | None:
        future: asyncio.Future[_Grant | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._kick(waiter=True)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                grant = future.result()
                if grant is not None:
                    self._give_back(grant.member)
            raise

    async def _use(self, grant: _Grant) -> Ticket | None:
        """Wait for the granted slot; ``None`` if a block began meanwhile (ask again)."""
        if grant.wait > 0:
            try:
                await self._sleep(grant.wait)
            except asyncio.CancelledError:
                self._give_back(grant.member)
                raise
            if self._blocks > grant.stamp // 2:
                self._give_back(grant.member)
                return None
        now = self._clock()
        self._ledger.start(grant.member, now)
        probe = grant.stamp % 2 == 1
        return RedisTicket(grant.seq, now, probe=probe, member=grant.member, stamp=grant.stamp)

    def _local_ticket(self, inner: Ticket) -> RedisTicket:
        self._seq += 1
        member = f"{self._process}:{self._seq}"
        self._ledger.start(member, inner.sent_at)
        return RedisTicket(self._seq, inner.sent_at, probe=inner.probe, member=member, inner=inner)

    def _give_back(self, member: str) -> None:
        self._ledger.in_flight.pop(member, None)
        self._ledger.report(Update("R", member))
        self._kick()

    # -- what attempts tell ------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """The retry layer's wait after a 429: the budget already knows of the 429."""

    def on_attempt_done(self, ticket: Ticket | None = None) -> None:
        """An attempt ended without an answer: its request may count from now on."""
        if not isinstance(ticket, RedisTicket):
            return
        now = self._clock()
        sent = self._ledger.end(ticket.member, now)
        if ticket.inner is not None:
            self._fallback.on_attempt_done(ticket.inner)
        elif sent is not None:
            self._ledger.report(Update("A", ticket.member, now, sent, stamp=ticket.stamp))
            self._kick(urgent=ticket.probe)

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """Tell the budget what an answer taught: sent with the next call to Redis."""
        if status == 429:
            self.rate_limited += 1
        if not isinstance(ticket, RedisTicket):
            return
        now = self._clock()
        sent = self._ledger.end(ticket.member, now)
        if ticket.inner is not None:
            self._fallback.on_response(ticket.inner, status, headers, retry_after)
            return
        if sent is None:
            return
        retry_ms = self._retry_ms(status, retry_after)
        told = _told(headers)
        if told > 0:  # known here now; to the others with the next call
            self._limit = min(self._b.window.limit, told)
        self._ledger.report(
            Update("A", ticket.member, now, sent, status, retry_ms, told, ticket.stamp)
        )
        shared_news = (status == 429 and retry_ms != -2) or ticket.probe or not self._heard
        self._kick(urgent=shared_news)

    def _retry_ms(self, status: int, retry_after: float | None) -> int:
        if status != 429 or retry_after is None:
            return -1
        if retry_after > self._max_pause:
            log.warning(_TOO_LONG, retry_after, self._max_pause)
            return -2
        return math.ceil(retry_after * 1000)

    # -- the pump: one call to Redis at a time -------------------------------------------

    def _kick(self, *, urgent: bool = False, waiter: bool = False) -> None:
        if self._closed:
            return
        self._urgent = self._urgent or urgent
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())
        elif urgent or (waiter and self._idle):
            self._wake.set()

    async def _run_pump(self) -> None:
        try:
            while not self._closed and (self._waiting or self._ledger.pending):
                if not self._waiting and not self._urgent:
                    self._idle = True
                    await self._pause_for(FLUSH_DELAY)  # a waiter or urgent news wakes it
                    self._idle = False
                if not await self._exchange():
                    return
        finally:
            self._pump = None

    async def _pause_for(self, seconds: float) -> None:
        if seconds <= 0 or self._urgent or (self._idle and self._waiting):
            return
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _exchange(self) -> bool:
        """One call to Redis for the waiting tasks; ``False`` when Redis did not answer."""
        batch: list[asyncio.Future[_Grant | None]] = []
        while self._waiting and len(batch) < MAX_BATCH:
            future = self._waiting.popleft()
            if not future.done():
                batch.append(future)
        self._urgent = False
        answer = await self._call(len(batch))
        if answer is None:
            self._unavailable(batch)
            return False
        first, reply = answer
        for i, wait in enumerate(reply.waits):
            grant = _Grant(f"{self._process}:{first + i}", first + i, wait, reply.stamp)
            if batch[i].done():
                self._give_back(grant.member)  # its task was cancelled meanwhile
            else:
                batch[i].set_result(grant)
        left = [f for f in batch[len(reply.waits) :] if not f.done()]
        if left:
            self._waiting.extendleft(reversed(left))
            await self._pause_for(reply.retry or 0.0)  # only urgent news wakes it
        return True

    async def _call(self, wanted: int) -> tuple[int, Reply] | None:
        """Run the script (twice when Redis asks for the history); ``None`` on failure."""
        for _ in range(2):
            now = self._clock()
            first = self._seq + 1
            self._seq += wanted
            updates = self._ledger.take(now, full=self._full)
            hello = 1 if now - self._hello_at >= HEARTBEAT else 0
            try:
                reply = await self._run_script(wanted, first, updates, hello, now)
            except _FAILURES as exc:
                self._ledger.give_back(updates)
                self._went_down(exc)
                return None
            self._learn(reply, now if hello else None)
            if not reply.resync:
                break
            self._full = True  # Redis lost the budget: give it this process's history
        return first, reply  # after a second resync: nothing granted, ask again at once

    async def _run_script(
        self, wanted: int, first: int, updates: list[Update], hello: int, now: float
    ) -> Reply:
        args = arguments(
            limit=self._b.window.limit, window=self._b.window.seconds, flight=self._flight,
            presence=self._b.presence, process=self._process, generation=self._generation,
            full=self._full, wanted=wanted, hello=hello, first=first, updates=updates, now=now,
        )  # fmt: skip
        if self._script is None:
            self._redis, self._owned = self._b.connect()
            self._script = self._redis.register_script(source())
        try:
            raw = await self._evaluate(args)
        except RedisConnectionError:
            # A connection Redis closed (a restart): the next one is new. A Redis that is
            # down refuses it at once.
            raw = await self._evaluate(args)
        return parse_reply(raw)

    async def _evaluate(self, args: list[str | int | float]) -> Any:
        async with asyncio.timeout(self._b.timeout):
            raw = await self._script(keys=list(self._b.keys), args=args)
        self.round_trips += 1
        return raw

    def _learn(self, reply: Reply, hello_at: float | None) -> None:
        if reply.generation != self._generation:
            self._generation, self._blocks = reply.generation, reply.blocks
        self._blocks = max(self._blocks, reply.blocks)
        self._limit, self._heard = reply.limit, reply.heard
        self._fallback.processes = max(1, reply.processes)
        if hello_at is not None:
            self._hello_at = hello_at
        if not reply.resync:
            self._full = False
            if self._fallback.active:
                self._fallback.stop()

    def _went_down(self, exc: BaseException) -> None:
        self._full = True
        self._fallback.start(exc, self._limit)

    def _unavailable(self, batch: list[asyncio.Future[_Grant | None]]) -> None:
        """Hand every waiting task to the fallback, or fail it."""
        futures = [*batch, *self._waiting]
        self._waiting.clear()
        for future in futures:
            if future.done():
                continue
            if self._b.raise_when_down:
                future.set_exception(BudgetUnavailableError(self._fallback.reason))
            else:
                future.set_result(None)

    async def aclose(self) -> None:
        """Stop asking; tell Redis the news and that this client leaves; close what it opened."""
        if self._closed:
            return
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for future in self._waiting:
            future.cancel()
        self._waiting.clear()
        if self._script is None:
            return
        if not self._fallback.active:
            await self._farewell()
        if self._owned:
            await self._redis.aclose()

    async def _farewell(self) -> None:
        now = self._clock()
        updates = self._ledger.take(now, full=self._full)
        with contextlib.suppress(*_FAILURES):
            await self._run_script(0, self._seq + 1, updates, -1, now)


def _told(headers: Mapping[str, str]) -> int:
    """``X-RateLimit-Limit`` of the only throttler; 0 when not usable; -1 without headers."""
    throttlers = parse_throttlers(headers)
    tightest = tightest_throttler(throttlers)
    if tightest is None or tightest.remaining is None:
        return -1
    if len(throttlers) == 1 and tightest.limit is not None:
        return tightest.limit
    return 0
