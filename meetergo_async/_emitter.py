"""Reporting a client's attempts and waits to its ``on_event`` hook, at no cost without one.

Without a hook nothing here runs. With one, ``Emitter`` hears of attempts and of waits for
an outage to end from the ``Caller`` (its ``Observer``), and measures the other waits by
wrapping the limiter's ``acquire`` and the retry layer's sleep, so neither the limiters nor
the retry policy know about events.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeAlias

from ._events import AttemptError, AttemptEvent, Event, OnEvent, WaitEvent, WaitReason, hash_user
from ._retry import Operation
from .errors import APIConnectionError, APITimeoutError, ArgumentTypeError
from .pacing import Pacer, Priority, Ticket

__all__ = ["UNOBSERVED", "Emitter", "Observer", "SleepFor", "instrument"]

log = logging.getLogger(__name__)

_MAX_HASHED_USERS: Final = 4096
Sleep: TypeAlias = Callable[[float], Awaitable[None]]
SleepFor: TypeAlias = Callable[[Priority], Sleep]
"""The retry layer's sleep for a call of a lane."""


class Observer(Protocol):
    """What ``Caller`` tells of its attempts and outage waits (``UNOBSERVED``: nobody)."""

    def attempted(
        self,
        operation: Operation,
        user: str | None,
        attempt: int,
        sent_at: float,
        status: int | None,
    ) -> None:
        """An attempt ended, answered (``status``) or not (``None``); called in its ``finally``."""

    def waited(self, reason: WaitReason, seconds: float, lane: Priority) -> None:
        """A call of ``lane`` waited ``seconds`` for ``reason``."""


class _Unobserved:
    """No ``on_event`` hook: each attempt costs one call to a method that does nothing."""

    def attempted(
        self,
        operation: Operation,
        user: str | None,
        attempt: int,
        sent_at: float,
        status: int | None,
    ) -> None:
        """Nothing to tell."""

    def waited(self, reason: WaitReason, seconds: float, lane: Priority) -> None:
        """Nothing to tell."""


UNOBSERVED: Final[Observer] = _Unobserved()


def _error_kind(error: BaseException | None) -> AttemptError:
    if isinstance(error, APITimeoutError):
        return "timeout"
    if isinstance(error, APIConnectionError):
        return "connection"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return "error"


class Emitter:
    """Builds a client's events and hands them to its hook; what the hook raises is logged.

    A coroutine hook runs as a task of its own, so a slow exporter never holds a call up;
    ``aclose`` waits for those still running.

    Args:
        hook: the user's ``on_event``: a function or a coroutine function.
        clock: the client's monotonic clock.
    """

    def __init__(self, hook: OnEvent, *, clock: Callable[[], float]):
        self._hook = hook
        self._clock = clock
        self._hashes: dict[str, str] = {}
        self._pending: set[asyncio.Future[None]] = set()

    def attempted(
        self,
        operation: Operation,
        user: str | None,
        attempt: int,
        sent_at: float,
        status: int | None,
    ) -> None:
        """Report an attempt that ended; called in its ``finally``, so a failure is in flight."""
        error = None if status is not None else _error_kind(sys.exception())
        latency = self._clock() - sent_at
        hashed = None if user is None else self._hash(user)
        self.emit(
            AttemptEvent(operation.method, operation.route, status, error, latency, attempt, hashed)
        )

    def waited(self, reason: WaitReason, seconds: float, lane: Priority) -> None:
        """Report a wait that took time."""
        if seconds > 0:
            self.emit(WaitEvent(reason, seconds, lane))

    def _hash(self, user: str) -> str:
        hashed = self._hashes.get(user)
        if hashed is None:
            if len(self._hashes) >= _MAX_HASHED_USERS:
                self._hashes.clear()
            hashed = self._hashes[user] = hash_user(user)
        return hashed

    def pacer(self, limiter: Pacer) -> Pacer:
        """``limiter``, reporting how long each ``acquire`` waited."""
        return _TimedPacer(limiter, self)

    def sleep(self, sleep: Sleep, limiter: Pacer) -> SleepFor:
        """``sleep`` for the retry layer of a call of each lane, reporting each wait (a pause
        while ``limiter`` is)."""

        def sleep_for(lane: Priority) -> Sleep:
            async def timed_sleep(seconds: float) -> None:
                started = self._clock()
                reason: WaitReason = "pause" if limiter.paused() else "backoff"
                try:
                    await sleep(seconds)
                finally:
                    self.emit(WaitEvent(reason, self._clock() - started, lane))

            return timed_sleep

        return sleep_for

    def emit(self, event: Event) -> None:
        """Hand ``event`` to the hook; log what it raises."""
        try:
            result = self._hook(event)
        except Exception:
            log.exception("on_event hook raised on %s; the call goes on", type(event).__name__)
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._pending.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("on_event hook raised; the call goes on", exc_info=error)

    async def aclose(self) -> None:
        """Wait for the coroutine hooks still running in this event loop."""
        loop = asyncio.get_running_loop()
        pending = [task for task in self._pending if task.get_loop() is loop]
        if pending:
            await asyncio.wait(pending)


def instrument(
    on_event: OnEvent | None,
    limiter: Pacer,
    sleep: Sleep,
    *,
    clock: Callable[[], float],
) -> tuple[Emitter | None, Pacer, SleepFor]:
    """The emitter of ``on_event``, with the limiter and the retry sleeps that report waits.

    Without a hook, ``limiter`` and ``sleep`` come back as they are: nothing is measured.

    Raises:
        ArgumentTypeError: ``on_event`` is not callable.
    """
    if on_event is None:
        return None, limiter, lambda lane: sleep
    if not callable(on_event):
        kind = type(on_event).__name__
        raise ArgumentTypeError("on_event", f"{{name}} must be a function or None, got {kind}")
    emitter = Emitter(on_event, clock=clock)
    return emitter, emitter.pacer(limiter), emitter.sleep(sleep, limiter)


async def _cannot_tell(count: int) -> float | None:
    """The forecast of a limiter that makes none."""
    return None


class _TimedPacer:
    """A limiter that reports each wait for a turn; everything else passes through."""

    def __init__(self, limiter: Pacer, emitter: Emitter) -> None:
        self._limiter = limiter
        self._emitter = emitter
        self.try_acquire = limiter.try_acquire
        self.on_attempt_done = limiter.on_attempt_done
        self.on_response = limiter.on_response
        self.pause = limiter.pause
        self.paused = limiter.paused
        self.forecast = getattr(limiter, "forecast", _cannot_tell)

    @property
    def rate_limited(self) -> int:
        """429s the limiter has seen."""
        return self._limiter.rate_limited

    @property
    def rate(self) -> float | None:
        """The limiter's pace."""
        return self._limiter.rate

    async def acquire(self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Wait for a turn, and report the wait."""
        clock = self._emitter._clock
        started = clock()
        ticket = await self._limiter.acquire(hold=hold, lane=lane)
        # The limiter says whether it held the request for a pause (a shared budget may
        # learn of one only while the request waits) or let it test one (a probe).
        reason: WaitReason = "pause" if ticket.held or ticket.probe else "pace"
        self._emitter.waited(reason, clock() - started, lane)
        return ticket
