"""Orderly interrupts: the first SIGINT or SIGTERM lets the work in flight end, the second stops.

``Interrupts`` collects the signals while a long command runs (instead of the default
``KeyboardInterrupt`` or sudden death); ``drive`` runs the work under them: on the first
signal the work is told to stop taking new items (``Interrupts.requested``) and is given a
grace period to finish what is in flight, then it is cancelled; a second signal cancels it
at once. Either way the command ends normally afterwards, writing what it knows, and exits
with ``128 + signal number`` as shells report it (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Final

DEFAULT_GRACE: Final = 10.0
"""Seconds the work in flight may take to finish after the first signal."""
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """The stop signals received so far (SIGINT, SIGTERM), in order."""

    def __init__(self) -> None:
        self.received: list[signal.Signals] = []
        self._changed = asyncio.Event()

    def receive(self, signum: int) -> None:
        """Note one signal (what the handlers call; tests may call it too)."""
        self.received.append(signal.Signals(signum))
        self._changed.set()

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for: no new work may start."""
        return bool(self.received)

    @property
    def name(self) -> str:
        """The first signal's name (``SIGINT``), or ``""``."""
        return self.received[0].name if self.received else ""

    @property
    def exit_status(self) -> int | None:
        """``128 + the first signal's number``, or ``None`` when none came."""
        return 128 + self.received[0] if self.received else None

    async def wait(self, count: int) -> None:
        """Return once ``count`` signals have been received."""
        while len(self.received) < count:
            self._changed.clear()
            await self._changed.wait()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Receive SIGINT and SIGTERM here while the block runs; restore the handlers after.

        Where the event loop cannot handle signals (not the main thread, Windows), nothing
        is installed: Ctrl-C then interrupts as it does elsewhere.
        """
        loop = asyncio.get_running_loop()
        previous: dict[signal.Signals, Any] = {}
        for signum in SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                handler = signal.getsignal(signum)
                loop.add_signal_handler(signum, self.receive, signum)
                previous[signum] = handler
        try:
            yield
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)
                # None: the handler was not set from Python; the default is the best guess.
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)


async def drive(
    work: Coroutine[Any, Any, None],
    interrupts: Interrupts,
    grace: float,
    on_stopping: Callable[[], None],
) -> None:
    """Run ``work`` until it ends or the interrupts stop it.

    After the first signal ``on_stopping`` is called and ``work`` (which should take no new
    items once ``interrupts.requested``) has ``grace`` seconds to end; after that, or on a
    second signal, it is cancelled. Its own errors propagate.
    """
    task = asyncio.create_task(work)
    try:
        await _ends_first(task, interrupts.wait(1), None)
        # A signal may come as the work ends: it is still a stop, said and reported as one.
        if interrupts.requested:
            on_stopping()
            if not task.done():
                await _ends_first(task, interrupts.wait(2), grace)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.wait([task])
    if not task.cancelled():
        task.result()


async def _ends_first(
    task: asyncio.Task[None], other: Coroutine[Any, Any, None], timeout: float | None
) -> None:
    """Wait for ``task``, ``other`` or the timeout, whichever comes first."""
    waiter = asyncio.create_task(other)
    try:
        await asyncio.wait([task, waiter], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        await asyncio.wait([waiter])
