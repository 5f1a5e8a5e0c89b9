"""Many updates at once: lazy input, bounded concurrency, exactly one result per item.

Updates to the same connection are applied in input order: an item starts only after the
item before it for the same connection id has ended. It waits for that without a worker
(``_bulk_order``), so the other connections' items keep running meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from typing import Any, Final, TypeAlias

from ._bulk_order import ConnectionOrder, Job, Parts
from .errors import ArgumentTypeError, MeetergoError
from .models import (
    CalendarConnection,
    CalendarConnectionUpdate,
    UpdateRequest,
    UpdateResult,
    validate_update_request,
)
from .pacing import Priority

__all__ = ["MAX_WAITING_PER_WORKER", "BulkItem", "iter_bulk", "run_bulk"]

BulkItem: TypeAlias = UpdateRequest | tuple[str, CalendarConnectionUpdate]
RunOne: TypeAlias = Callable[
    [str, CalendarConnectionUpdate, str | None, str | None, Priority],
    Awaitable[tuple[CalendarConnection, int]],
]
"""Send one update: ``(connection_id, update, owner_user_id, as_user, priority)``."""

MAX_WAITING_PER_WORKER: Final = 8
"""Items that may wait for an earlier item of their connection, per worker; beyond that
the input is not read until some of them have started."""


def to_parts(item: object, priority: Priority) -> Parts:
    """Accept an ``UpdateRequest`` or a ``(connection_id, update)`` pair; give its parts.

    A pair is checked as ``UpdateRequest`` would check it, without building one. An item
    without a priority of its own takes ``priority``, the run's.

    Raises:
        TypeError, ValueError: the item is neither, or its values are invalid.
    """
    if isinstance(item, UpdateRequest):
        lane = priority if item.priority is None else item.priority
        return item.connection_id, item.update, item.owner_user_id, item.as_user, lane
    if isinstance(item, tuple) and len(item) == 2:
        validate_update_request(item[0], item[1], None, None)
        return item[0], item[1], None, None, priority
    raise ArgumentTypeError(
        "items",
        "each of {name} must be an UpdateRequest or a (connection_id, update) tuple, "
        f"got {type(item).__name__}",
    )


def _item_id(item: object) -> str | None:
    raw = item.connection_id if isinstance(item, UpdateRequest) else None
    if isinstance(item, tuple) and item:
        raw = item[0]
    return raw if isinstance(raw, str) else None


def _result(index: int, connection_id: str, error: BaseException) -> UpdateResult:
    if isinstance(error, MeetergoError):
        return UpdateResult(index, connection_id, error=error, attempts=error.attempts)
    if isinstance(error, TypeError | ValueError):
        # An argument refused before sending (e.g. as_user with a personal access token).
        return UpdateResult(index, connection_id, error=error, attempts=0)
    return UpdateResult(index, connection_id, error=error, attempts=1)


class _Source:
    """The shared input: hands each worker the next ``(index, item)``, reading lazily."""

    def __init__(self, items: Iterable[Any] | AsyncIterable[Any]) -> None:
        self._sync = None if isinstance(items, AsyncIterable) else iter(items)
        self._async = aiter(items) if isinstance(items, AsyncIterable) else None
        self._lock = asyncio.Lock()  # an async generator must not be advanced twice at once
        self._index = 0
        self.done = False
        self.error: BaseException | None = None

    async def next(self) -> tuple[int, Any] | None:
        """The next item with its input position, or ``None`` at the end (or on an error)."""
        async with self._lock:
            if self.done:
                return None
            try:
                if self._sync is not None:
                    item = next(self._sync)
                else:
                    assert self._async is not None
                    item = await anext(self._async)
            except (StopIteration, StopAsyncIteration):
                self.done = True
                return None
            except Exception as error:  # noqa: BLE001 - raised after the items in flight end
                self.done = True
                self.error = error
                return None
            self._index += 1
            return self._index - 1, item


class _Crew:
    """What the workers of one bulk run share: the input, the lanes, the sender, the output.

    With ``room``, a result needs room before its item starts: at most one result per
    worker waits unconsumed, so the input is never read far ahead of the consumer. An item
    that waits for an earlier one of its connection holds no room until it starts.
    """

    def __init__(
        self,
        items: Iterable[Any] | AsyncIterable[Any],
        run_one: RunOne,
        deliver: Callable[[UpdateResult], None],
        workers: int,
        room: asyncio.Semaphore | None = None,
        priority: Priority = Priority.BULK,
    ) -> None:
        self.source = _Source(items)
        self._priority = priority
        self._order = ConnectionOrder(MAX_WAITING_PER_WORKER * workers)
        self._run_one = run_one
        self._deliver = deliver
        self._room = room

    async def work(self) -> None:
        """Take items until the input ends; hand each one's result to ``deliver``."""
        room = self._room
        while True:
            await self._order.room()
            if room is not None:
                await room.acquire()
            taken = await self.source.next()
            if taken is None:
                if room is not None:
                    room.release()
                return
            index, item = taken
            try:
                parts = to_parts(item, self._priority)
            except (TypeError, ValueError) as error:
                self._deliver(UpdateResult(index, _item_id(item), error=error, attempts=0))
                continue
            if self._order.enter((index, parts)):
                await self._run_lane((index, parts))
            elif room is not None:
                room.release()

    async def _run_lane(self, job: Job) -> None:
        """Run ``job``, then each item that waited behind it for its connection, in order."""
        connection_id = job[1][0]
        current: Job | None = job
        while current is not None:
            index, (_, update, owner_user_id, as_user, lane) = current
            try:
                sent = await self._run_one(connection_id, update, owner_user_id, as_user, lane)
            except Exception as error:  # noqa: BLE001 - one item's failure never stops the others
                self._deliver(_result(index, connection_id, error))
            else:
                self._deliver(UpdateResult(index, connection_id, sent[0], attempts=sent[1]))
            current = self._order.leave(connection_id)
            if current is not None and self._room is not None:
                await self._room.acquire()


async def _feed(crew: _Crew, out: asyncio.Queue[UpdateResult | None]) -> None:
    try:
        await crew.work()
    finally:
        out.put_nowait(None)  # this worker's end marker


async def _finish(items: object, workers: list[asyncio.Task[None]]) -> None:
    """Cancel the workers still running, wait for them, and close an abandoned input."""
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    # An abandoned generator is closed now, so its own cleanup (files) runs at once.
    if isinstance(items, AsyncGenerator):
        await items.aclose()
    elif isinstance(items, Generator):
        items.close()


async def run_bulk(
    items: Iterable[Any] | AsyncIterable[Any],
    run_one: RunOne,
    max_concurrency: int,
    priority: Priority = Priority.BULK,
) -> list[UpdateResult]:
    """Like ``iter_bulk``, but collect the results into a list in input order.

    Every result is kept anyway, so the workers store them directly: no queue, and no
    consumer to wake per result.
    """
    results: list[UpdateResult | None] = []

    def store(result: UpdateResult) -> None:
        if result.index >= len(results):
            results.extend([None] * (result.index + 1 - len(results)))
        results[result.index] = result

    crew = _Crew(items, run_one, store, max_concurrency, priority=priority)
    workers = [asyncio.create_task(crew.work()) for _ in range(max_concurrency)]
    try:
        await asyncio.gather(*workers)
    finally:
        await _finish(items, workers)
    if crew.source.error is not None:
        raise crew.source.error
    return [r for r in results if r is not None]


async def iter_bulk(
    items: Iterable[Any] | AsyncIterable[Any],
    run_one: RunOne,
    max_concurrency: int,
    priority: Priority = Priority.BULK,
) -> AsyncGenerator[UpdateResult, None]:
    """Yield one ``UpdateResult`` per item, as each completes.

    ``max_concurrency`` workers share the input and take the next item only when they are
    free, so a generator of any length is never drained ahead of the work and nothing is
    held per item. Items for the same connection id run one at a time in input order: one
    that must wait for an earlier item of its id waits without a worker (at most
    ``MAX_WAITING_PER_WORKER`` per worker wait; then reading pauses), so other ids keep
    running. An invalid item yields its ``TypeError``/``ValueError`` and sends
    nothing. If reading the input raises, the items already started finish and are
    yielded, then that error propagates. Closing or cancelling the iterator cancels the
    requests in flight and waits for them to end.
    """
    out: asyncio.Queue[UpdateResult | None] = asyncio.Queue()
    room = asyncio.Semaphore(max_concurrency)
    crew = _Crew(items, run_one, out.put_nowait, max_concurrency, room, priority)
    workers = [asyncio.create_task(_feed(crew, out)) for _ in range(max_concurrency)]
    running = len(workers)
    try:
        while running:
            result = await out.get()
            if result is None:
                running -= 1
            else:
                room.release()
                yield result
    finally:
        await _finish(items, workers)
    if crew.source.error is not None:
        raise crew.source.error
