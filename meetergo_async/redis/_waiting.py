"""The tasks of one client waiting for a slot of the shared budget, in two lanes.

Part of the pump (``_pump``): each call to Redis asks for the interactive waiters' slots
first, then the bulk ones', up to a batch; those not granted keep their place. A waiter
gets a ``Grant``, or ``None`` when Redis did not answer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TypeAlias

import attrs

from ..pacing import Priority

__all__ = ["Batch", "Grant", "Waiting"]


@attrs.frozen
class Grant:
    """A slot the budget reserved: its member, number, wait (seconds) and block stamp."""

    member: str
    seq: int
    wait: float
    stamp: int


Future: TypeAlias = "asyncio.Future[Grant | None]"


class Batch:
    """The waiters one call asks for: interactive ones, then bulk ones."""

    __slots__ = ("bulk", "interactive")

    def __init__(self, interactive: list[Future], bulk: list[Future]) -> None:
        self.interactive = interactive
        self.bulk = bulk

    def __iter__(self) -> Iterator[Future]:
        yield from self.interactive
        yield from self.bulk

    def hand_out(
        self, process: str, first: int, waits: Sequence[float], interactive: int, stamp: int
    ) -> list[str]:
        """Give the granted slots to the first waiters of each lane, and drop those from
        the batch; the members of slots whose task was cancelled meanwhile.

        Slots are numbered from ``first``: the interactive ones asked for, then the bulk
        ones; ``waits`` holds the ``interactive`` granted first, then the bulk ones.
        """
        unused = _give(self.interactive, process, first, waits[:interactive], stamp)
        bulk_first = first + len(self.interactive)
        unused += _give(self.bulk, process, bulk_first, waits[interactive:], stamp)
        del self.interactive[:interactive]
        del self.bulk[: len(waits) - interactive]
        return unused


class Waiting:
    """Futures of the tasks waiting for a slot, first come, first served in each lane."""

    def __init__(self) -> None:
        self._lanes: dict[Priority, deque[Future]] = {
            Priority.INTERACTIVE: deque(),
            Priority.BULK: deque(),
        }

    def __bool__(self) -> bool:
        return any(self._lanes.values())

    def add(self, lane: Priority, future: Future) -> None:
        """A task of ``lane`` waits."""
        self._lanes[lane].append(future)

    def take(self, most: int) -> Batch:
        """Up to ``most`` waiters still waiting, interactive ones first."""
        interactive = _take(self._lanes[Priority.INTERACTIVE], most)
        return Batch(interactive, _take(self._lanes[Priority.BULK], most - len(interactive)))

    def put_back(self, batch: Batch) -> None:
        """Waiters of ``batch`` not served: at the head of their lanes again."""
        for lane, futures in (
            (Priority.INTERACTIVE, batch.interactive),
            (Priority.BULK, batch.bulk),
        ):
            left = [f for f in futures if not f.done()]
            self._lanes[lane].extendleft(reversed(left))

    def drain(self) -> list[Future]:
        """Every waiter, the lanes emptied."""
        futures = [f for line in self._lanes.values() for f in line]
        for line in self._lanes.values():
            line.clear()
        return futures


def _give(
    futures: list[Future], process: str, first: int, waits: Sequence[float], stamp: int
) -> list[str]:
    unused = []
    for i, wait in enumerate(waits):
        grant = Grant(f"{process}:{first + i}", first + i, wait, stamp)
        if futures[i].done():
            unused.append(grant.member)
        else:
            futures[i].set_result(grant)
    return unused


def _take(line: deque[Future], most: int) -> list[Future]:
    taken: list[Future] = []
    while line and len(taken) < most:
        future = line.popleft()
        if not future.done():
            taken.append(future)
    return taken
