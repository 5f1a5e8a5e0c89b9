"""Many updates at once: lazy input, bounded concurrency, exactly one result per item."""

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
from typing import Any, TypeAlias

from .errors import MeetergoError
from .models import CalendarConnection, CalendarConnectionUpdate, UpdateRequest, UpdateResult

__all__ = ["BulkItem", "iter_bulk"]

BulkItem: TypeAlias = UpdateRequest | tuple[str, CalendarConnectionUpdate]
RunOne: TypeAlias = Callable[[UpdateRequest], Awaitable[tuple[CalendarConnection, int]]]


def to_request(item: object) -> UpdateRequest:
    """Accept an ``UpdateRequest`` or a ``(connection_id, update)`` pair.

    Raises:
        TypeError, ValueError: the item is neither, or its values are invalid.
    """
    if isinstance(item, UpdateRequest):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return UpdateRequest(item[0], item[1])
    raise TypeError(
        "each item must be an UpdateRequest or a (connection_id, update) tuple, "
        f"got {type(item).__name__}"
    )


def _item_id(item: object) -> str | None:
    raw = item.connection_id if isinstance(item, UpdateRequest) else None
    if isinstance(item, tuple) and item:
        raw = item[0]
    return raw if isinstance(raw, str) else None


async def _run_item(index: int, request: UpdateRequest, run_one: RunOne) -> UpdateResult:
    try:
        connection, attempts = await run_one(request)
    except MeetergoError as error:
        return UpdateResult(index, request.connection_id, error=error, attempts=error.attempts)
    except (TypeError, ValueError) as error:
        # An argument refused before sending (e.g. as_user with a personal access token).
        return UpdateResult(index, request.connection_id, error=error, attempts=0)
    except Exception as error:  # noqa: BLE001 - one item's failure must never stop the others
        return UpdateResult(index, request.connection_id, error=error, attempts=1)
    return UpdateResult(index, request.connection_id, connection=connection, attempts=attempts)


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
        if self.done:
            return None
        try:
            if self._sync is not None:
                item = next(self._sync)
            else:
                async with self._lock:
                    if self.done:
                        return None
                    assert self._async is not None
                    item = await anext(self._async)
        except (StopIteration, StopAsyncIteration):
            self.done = True
            return None
        except Exception as error:  # noqa: BLE001 - raised after the items in flight end
            self.done, self.error = True, error
            return None
        self._index += 1
        return self._index - 1, item


async def _worker(
    source: _Source,
    run_one: RunOne,
    out: asyncio.Queue[UpdateResult | None],
    room: asyncio.Semaphore,
) -> None:
    try:
        while True:
            # A result needs room before the next item is read: at most one result per
            # worker waits unconsumed, so the input is never read far ahead of the consumer.
            await room.acquire()
            taken = await source.next()
            if taken is None:
                room.release()
                return
            index, item = taken
            try:
                request = to_request(item)
            except (TypeError, ValueError) as error:
                out.put_nowait(UpdateResult(index, _item_id(item), error=error, attempts=0))
            else:
                out.put_nowait(await _run_item(index, request, run_one))
    finally:
        out.put_nowait(None)  # this worker's end marker


async def iter_bulk(
    items: Iterable[Any] | AsyncIterable[Any], run_one: RunOne, max_concurrency: int
) -> AsyncGenerator[UpdateResult, None]:
    """Yield one ``UpdateResult`` per item, as each completes.

    ``max_concurrency`` workers share the input and take the next item only when they are
    free, so a generator of any length is never drained ahead of the work and nothing is
    held per item. An invalid item yields its ``TypeError``/``ValueError`` and sends
    nothing. If reading the input raises, the items already started finish and are
    yielded, then that error propagates. Closing or cancelling the iterator cancels the
    requests in flight and waits for them to end.
    """
    source = _Source(items)
    out: asyncio.Queue[UpdateResult | None] = asyncio.Queue()
    room = asyncio.Semaphore(max_concurrency)
    workers = [
        asyncio.create_task(_worker(source, run_one, out, room)) for _ in range(max_concurrency)
    ]
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
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        # An abandoned generator is closed now, so its own cleanup (files) runs at once.
        if isinstance(items, AsyncGenerator):
            await items.aclose()
        elif isinstance(items, Generator):
            items.close()
    if source.error is not None:
        raise source.error
