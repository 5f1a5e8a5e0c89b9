"""Updates to one connection in input order, while the other connections' items keep running.

Part of ``_bulk``: an item whose connection id has an earlier item still running waits
here, in that id's queue, without holding a worker.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeAlias

from .models import CalendarConnectionUpdate
from .pacing import Priority

__all__ = ["ConnectionOrder", "Job", "Parts"]

Parts: TypeAlias = tuple[str, CalendarConnectionUpdate, str | None, str | None, Priority]
"""An item's ``(connection_id, update, owner_user_id, as_user, priority)``."""
Job: TypeAlias = tuple[int, Parts]
"""An item ready to send: its input position and its parts."""


class ConnectionOrder:
    """Runs the items of each connection id one at a time, in input order.

    An id is known here while one of its items runs; an item read meanwhile for the same
    id waits in that id's queue, holding no worker, until the running one ends. At most
    ``capacity`` items wait at once (``room`` holds the reading back), so memory stays
    bounded whatever the input.
    """

    def __init__(self, capacity: int) -> None:
        self._queues: dict[str, deque[Job] | None] = {}
        self._capacity = capacity
        self._waiting = 0
        self._moved = asyncio.Event()

    async def room(self) -> None:
        """Return once fewer than ``capacity`` items wait."""
        while self._waiting >= self._capacity:
            self._moved.clear()
            await self._moved.wait()

    def enter(self, job: Job) -> bool:
        """Tell whether ``job`` may start now; if not, it waits for its id's running item."""
        connection_id = job[1][0]
        if connection_id not in self._queues:
            self._queues[connection_id] = None  # running, nothing behind it yet
            return True
        queue = self._queues[connection_id]
        if queue is None:
            queue = self._queues[connection_id] = deque()
        queue.append(job)
        self._waiting += 1
        return False

    def leave(self, connection_id: str) -> Job | None:
        """The item running for ``connection_id`` ended: the next one to start, or ``None``."""
        queue = self._queues[connection_id]
        if not queue:
            del self._queues[connection_id]
            return None
        self._waiting -= 1
        self._moved.set()
        return queue.popleft()
