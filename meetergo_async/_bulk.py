"""Many updates at once: lazy input, bounded concurrency, exactly one result per item."""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
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
    except Exception as error:  # noqa: BLE001 - one item's failure must never stop the others
        return UpdateResult(index, request.connection_id, error=error, attempts=1)
    return UpdateResult(index, request.connection_id, connection=connection, attempts=attempts)


async def _enumerate(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncGenerator[Any, None]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def iter_bulk(
    items: Iterable[Any] | AsyncIterable[Any], run_one: RunOne, max_concurrency: int
) -> AsyncIterator[UpdateResult]:
    """Yield one ``UpdateResult`` per item, as each completes.

    The input is read only when a slot is free, so a generator of any length is never
    drained ahead of the work. An invalid item yields its ``TypeError``/``ValueError`` at
    once and sends nothing. If reading the input raises, the items already started finish
    and are yielded, then that error propagates. Closing or cancelling the iterator cancels
    the requests in flight and waits for them to end.
    """
    source = _enumerate(items)
    pending: set[asyncio.Task[UpdateResult]] = set()
    # Finished tasks land here: O(1) per item, where asyncio.wait would rescan all pending.
    finished: asyncio.Queue[asyncio.Task[UpdateResult]] = asyncio.Queue()
    index = 0
    source_error: BaseException | None = None
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < max_concurrency:
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    break
                except Exception as error:  # noqa: BLE001 - re-raised once in-flight items end
                    exhausted, source_error = True, error
                    break
                try:
                    request = to_request(item)
                except (TypeError, ValueError) as error:
                    yield UpdateResult(index, _item_id(item), error=error, attempts=0)
                else:
                    task = asyncio.create_task(_run_item(index, request, run_one))
                    task.add_done_callback(finished.put_nowait)
                    pending.add(task)
                index += 1
            if not pending:
                break
            task = await finished.get()
            pending.discard(task)
            yield task.result()
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await source.aclose()
    if source_error is not None:
        raise source_error
