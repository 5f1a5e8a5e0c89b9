"""The bulk methods of ``MeetergoClient``: many updates at once, one result for each.

A mixin of the client: what it needs of it is its settings, its lifecycle and the sending
of one item (``_update_one``); ``_bulk`` runs the items.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Iterable
from typing import TYPE_CHECKING

from ._bulk import BulkItem, iter_bulk, run_bulk
from ._validate import check_count
from .models import CalendarConnection, CalendarConnectionUpdate, UpdateResult
from .pacing import Priority
from .pacing._config import check_priority

if TYPE_CHECKING:
    from ._config import ClientSettings
    from ._lifecycle import Lifecycle

__all__ = ["BulkMethods"]


class BulkMethods:
    """``update_calendar_connections`` and ``iter_update_calendar_connections``."""

    _settings: ClientSettings
    _life: Lifecycle

    async def _update_one(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        owner_user_id: str | None,
        as_user: str | None,
        priority: Priority,
    ) -> tuple[CalendarConnection, int]:
        raise NotImplementedError  # the client's

    async def update_calendar_connections(
        self,
        items: Iterable[BulkItem] | AsyncIterable[BulkItem],
        *,
        max_concurrency: int | None = None,
        priority: Priority | str | None = None,
    ) -> list[UpdateResult]:
        """Update many connections; return exactly one ``UpdateResult`` per item, in input order.

        ``items`` holds ``UpdateRequest`` objects or ``(connection_id, update)`` pairs. A
        failing or invalid item never stops the others; updates to the same connection are
        applied in input order. See ``iter_update_calendar_connections`` for the details.
        """
        limit = self._bulk_limit(max_concurrency)
        lane = check_priority("priority", priority, Priority.BULK)
        self._life.enter()
        return await run_bulk(items, self._update_one, limit, lane)

    def iter_update_calendar_connections(
        self,
        items: Iterable[BulkItem] | AsyncIterable[BulkItem],
        *,
        max_concurrency: int | None = None,
        priority: Priority | str | None = None,
    ) -> AsyncGenerator[UpdateResult, None]:
        """Yield one ``UpdateResult`` per item as each completes (``result.index`` is its place).

        The input, an iterable or async iterable, is read lazily: at most ``max_concurrency``
        items (default: the client's) are in flight, and no item is read before a slot is
        free. All items share the client's limiter and retry policy. Items for the same
        connection id run one at a time in input order (a later one starts once the earlier
        one has ended); other ids keep running meanwhile. An invalid item yields a result
        carrying its ``TypeError``/``ValueError`` and sends nothing. If you stop early,
        close the iterator (``contextlib.aclosing``) to cancel what is in flight.

        The items wait in the ``"bulk"`` lane for their turn (``priority`` says otherwise;
        an ``UpdateRequest`` may carry its own): single calls of the client, and of every
        client sharing its ``RedisBudget``, go first.
        """
        limit = self._bulk_limit(max_concurrency)
        lane = check_priority("priority", priority, Priority.BULK)
        self._life.check_loop()
        return iter_bulk(items, self._update_one, limit, lane)

    def _bulk_limit(self, max_concurrency: int | None) -> int:
        limit = self._settings.max_concurrency if max_concurrency is None else max_concurrency
        check_count("max_concurrency", limit)
        return limit
