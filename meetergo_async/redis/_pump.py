"""A client's conversation with the shared budget in Redis: one call at a time, batched.

Part of the shared budget's limiter (``_limiter``). Tasks that want a turn queue
here; one task at a time (the *pump*) calls the budget's script with all the news of the
client and asks for as many slots as tasks wait, so a request costs at most one round trip
and usually less. Each granted slot comes with its wait, on Redis's clock. News that
others wait for (urgent) goes at once; other news rides with the next call, or goes on its
own after ``FLUSH_DELAY``. When Redis does not answer, the waiting tasks are handed to the
fallback (``_fallback``), or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from ..errors import BudgetUnavailableError
from ..pacing import Priority
from ._binding import Binding
from ._fallback import Fallback
from ._journal import Journal
from ._script import Reply, Update, arguments, forecast_source, parse_reply, source
from ._waiting import Batch, Grant, Waiting

__all__ = ["FLUSH_DELAY", "HEARTBEAT", "Pump"]

FLUSH_DELAY: Final = 0.1
"""Seconds news waits for a call that asks for a slot anyway, before going on its own."""
HEARTBEAT: Final = 1.0
"""Seconds between a client's reports that it uses the budget (for ``local_share``)."""
MAX_BATCH: Final = 64
"""Most slots asked for in one call."""
# RedisClusterException is not a RedisError: a RedisCluster client raises it when no node
# answers (RedisClusterUnreachableError) or no node serves the slot (SlotNotCoveredError).
_FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError, ValueError)


class Pump:
    """Asks Redis for the slots a client's tasks wait for, and tells it the client's news.

    What the last reply said is kept: ``limit`` in force, ``blocks`` begun, ``blocked``
    (a block, or a pause after a 429, is on), ``heard`` (the budget has had an answer).
    """

    def __init__(
        self,
        binding: Binding,
        journal: Journal,
        fallback: Fallback,
        *,
        process: str,
        flight: float,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self._b = binding
        self._journal = journal
        self._fallback = fallback
        self._process = process
        self._flight = flight
        self._clock = clock
        self._sleep = sleep
        self.seq = 0
        self._waiting = Waiting()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._urgent = False
        self._idle = False
        self._closed = False
        self._script: Any = None
        self._look: Any = None  # the read-only script of forecasts
        self._redis: Any = None
        self._owned = False
        self._generation = ""
        self._full = False  # the next call carries the whole history
        self._hello_at = -math.inf
        self.limit = binding.window.limit
        self.blocks = 0
        self.blocked = False
        self.blocked_replies = 0
        """How many replies said a block was on: a task that waited across one was held."""
        self.heard = False
        self.round_trips = 0
        """How many calls to Redis answered."""

    async def ask(self, lane: Priority = Priority.INTERACTIVE) -> Grant | None:
        """Wait for a slot of ``lane``; ``None`` when Redis did not answer (the fallback's turn).

        Raises:
            BudgetUnavailableError: Redis did not answer and the budget is set to raise.
        """
        future: asyncio.Future[Grant | None] = asyncio.get_running_loop().create_future()
        self._waiting.add(lane, future)
        self.kick(waiter=True)
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                grant = future.result()
                if grant is not None:
                    self.give_back(grant.member)
            raise

    def give_back(self, member: str) -> None:
        """A slot is not used: free it in the budget with the next call."""
        self._journal.in_flight.pop(member, None)
        self._journal.report(Update("R", member))
        self.kick()

    def kick(self, *, urgent: bool = False, waiter: bool = False) -> None:
        """Make sure a call comes: at once for ``urgent`` news, else soon."""
        if self._closed:
            return
        self._urgent = self._urgent or urgent
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        elif urgent or (waiter and self._idle):
            self._wake.set()

    async def _run(self) -> None:
        try:
            while not self._closed and (self._waiting or self._journal.pending):
                if not self._waiting and not self._urgent:
                    self._idle = True
                    await self._pause_for(FLUSH_DELAY)  # a waiter or urgent news wakes it
                    self._idle = False
                if not await self._exchange():
                    return
        finally:
            self._task = None

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
        batch = self._waiting.take(MAX_BATCH)
        self._urgent = False
        answer = await self._call(len(batch.interactive), len(batch.bulk))
        if answer is None:
            self._unavailable(batch)
            return False
        first, reply = answer
        for member in batch.hand_out(
            self._process, first, reply.waits, reply.interactive, reply.stamp
        ):
            self.give_back(member)  # its task was cancelled meanwhile
        if any(not f.done() for f in batch):
            self._waiting.put_back(batch)
            await self._pause_for(reply.retry or 0.0)  # only urgent news wakes it
        return True

    async def _call(self, wanted: int, wanted_bulk: int) -> tuple[int, Reply] | None:
        """Run the script (twice when Redis asks for the history); ``None`` on failure.

        ``wanted`` interactive slots, then ``wanted_bulk`` bulk ones.
        """
        for _ in range(2):
            now = self._clock()
            first = self.seq + 1
            self.seq += wanted + wanted_bulk
            updates = self._journal.take(now, full=self._full)
            hello = 1 if now - self._hello_at >= HEARTBEAT else 0
            try:
                reply = await self._run_script((wanted, wanted_bulk), first, updates, hello, now)
            except Exception as exc:  # noqa: BLE001 - Redis's, or a bug: no call may wait for ever
                self._journal.give_back(updates)
                self._full = True
                self._fallback.start(exc, self.limit)
                return None
            except asyncio.CancelledError:  # the client closes: its farewell takes the news
                self._journal.give_back(updates)
                raise
            self._learn(reply, now if hello else None)
            if not reply.resync:
                break
            self._full = True  # Redis lost the budget: give it this client's history
        return first, reply  # after a second resync: nothing granted, ask again at once

    async def _run_script(
        self, wanted: tuple[int, int], first: int, updates: list[Update], hello: int, now: float
    ) -> Reply:
        args = arguments(
            limit=self._b.window.limit,
            window=self._b.window.seconds,
            flight=self._flight,
            presence=self._b.presence,
            process=self._process,
            generation=self._generation,
            full=self._full,
            wanted=wanted[0],
            wanted_bulk=wanted[1],
            hello=hello,
            first=first,
            updates=updates,
            now=now,
        )
        self._connect()
        try:
            raw = await self._evaluate(args)
        except RedisConnectionError:
            # A connection Redis closed (a restart): the next one is new. A Redis that is
            # down refuses it at once.
            raw = await self._evaluate(args)
        return parse_reply(raw)

    def _connect(self) -> None:
        if self._script is None:
            self._redis, self._owned = self._b.connect()
            self._script = self._redis.register_script(source())

    async def look(self) -> Any:
        """Run the read-only script that tells how the budget stands (``_forecast.lua``)."""
        self._connect()
        if self._look is None:
            self._look = self._redis.register_script(forecast_source())
        keys = [self._b.keys.log, self._b.keys.state]
        async with asyncio.timeout(self._b.timeout):
            return await self._look(keys=keys, args=[self._b.window.limit])

    async def _evaluate(self, args: list[str | int | float]) -> Any:
        async with asyncio.timeout(self._b.timeout):
            raw = await self._script(keys=list(self._b.keys), args=args)
        self.round_trips += 1
        return raw

    def _learn(self, reply: Reply, hello_at: float | None) -> None:
        if reply.generation != self._generation:
            self._generation = reply.generation
            self.blocks = reply.blocks
        self.blocks = max(self.blocks, reply.blocks)
        self.blocked = reply.stamp % 2 == 1
        self.blocked_replies += self.blocked
        self.limit = reply.limit
        self.heard = reply.heard
        self._fallback.processes = max(1, reply.processes)
        if hello_at is not None:
            self._hello_at = hello_at
        if not reply.resync:
            self._full = False
            if self._fallback.active:
                self._fallback.stop()

    def _unavailable(self, batch: Batch) -> None:
        """Hand every waiting task to the fallback, or fail it."""
        futures = [*batch, *self._waiting.drain()]
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for future in self._waiting.drain():
            future.cancel()
        if self._script is None:
            return
        if not self._fallback.active:
            now = self._clock()
            updates = self._journal.take(now, full=self._full)
            with contextlib.suppress(*_FAILURES):
                await self._run_script((0, 0), self.seq + 1, updates, -1, now)
        if self._owned:
            await self._redis.aclose()
