"""What ``on_event`` receives: every attempt and every wait of a client, as frozen events.

An ``AttemptEvent`` tells how one attempt ended (its status, or why no answer came) and how
long it took; a ``WaitEvent`` tells how long a call waited and why: for its turn under the
rate limit (``pace``), while the whole client held back after a 429 or for an outage to
end (``pause``), or before a retry (``backoff``). They feed a metrics library;
docs/production.md shows Prometheus and OpenTelemetry.

Without a hook nothing here runs. With one, ``Emitter`` hears of attempts and of waits for
an outage to end from the ``Caller`` (its ``Observer``), and measures the other waits by
wrapping the limiter's ``acquire`` and the retry layer's sleep, so neither the limiters nor
the retry policy know about events.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias

import attrs

from ._http import USER_ID_HEADER
from .errors import APIConnectionError, APITimeoutError, ArgumentTypeError
from .pacing import Pacer, Ticket

if TYPE_CHECKING:
    from ._call import Call
    from ._transport import Answer

__all__ = [
    "UNOBSERVED",
    "AttemptEvent",
    "Emitter",
    "Event",
    "Observer",
    "OnEvent",
    "WaitEvent",
    "instrument",
]

log = logging.getLogger(__name__)

WaitReason: TypeAlias = Literal["pace", "pause", "backoff"]
AttemptError: TypeAlias = Literal["timeout", "connection", "cancelled", "error"]
_MAX_HASHED_USERS: Final = 4096


@attrs.frozen
class AttemptEvent:
    """One attempt ended: answered (``status``) or not (``error``).

    Attributes:
        method: the HTTP method.
        route: the path template, e.g. ``/v4/calendar-connections/connections/{connection_id}``
            (never an id: a metric label must not grow with the data).
        status: the status answered, or ``None`` when no answer came.
        error: why no answer came: ``"timeout"``, ``"connection"`` (refused, reset, cut),
            ``"cancelled"`` (the caller gave up) or ``"error"``; ``None`` when answered.
        latency: seconds from sending to the end of the answer (or of the failure).
        attempt: the attempt's number within its call, from 1.
        user: a short hash of the acting user (12 hex digits, the same in every process),
            never the id itself; ``None`` when the call names no user.
    """

    method: str
    route: str
    status: int | None
    error: AttemptError | None
    latency: float
    attempt: int
    user: str | None


@attrs.frozen
class WaitEvent:
    """A call waited before sending.

    Attributes:
        reason: ``"pace"`` (its turn under the rate limit), ``"pause"`` (the whole client
            held back after a 429, or waiting for an outage to end) or ``"backoff"`` (the
            retry policy's wait after a failed attempt).
        seconds: how long it waited, by the client's clock.
    """

    reason: WaitReason
    seconds: float


Event: TypeAlias = AttemptEvent | WaitEvent
OnEvent: TypeAlias = Callable[[Event], Awaitable[None] | None]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


class Observer(Protocol):
    """What ``Caller`` tells of its attempts and outage waits (``UNOBSERVED``: nobody)."""

    def attempted(self, call: Call, ticket: Ticket, answer: Answer | None) -> None:
        """An attempt ended, answered or not; called in its ``finally``."""

    def waited(self, reason: WaitReason, seconds: float) -> None:
        """A call waited ``seconds`` for ``reason``."""


class _Unobserved:
    """No ``on_event`` hook: each attempt costs one call to a method that does nothing."""

    def attempted(self, call: Call, ticket: Ticket, answer: Answer | None) -> None:
        """Nothing to tell."""

    def waited(self, reason: WaitReason, seconds: float) -> None:
        """Nothing to tell."""


UNOBSERVED: Final[Observer] = _Unobserved()


def hash_user(user: str) -> str:
    """A short, stable, one-way name for a user id (12 hex digits of BLAKE2b)."""
    return hashlib.blake2b(user.encode(), digest_size=6).hexdigest()


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
        default_user: the user a call acts as when its headers name none.
        clock: the client's monotonic clock.
    """

    def __init__(self, hook: OnEvent, *, default_user: str | None, clock: Callable[[], float]):
        self._hook, self._default_user, self._clock = hook, default_user, clock
        self._hashes: dict[str, str] = {}
        self._pending: set[asyncio.Future[None]] = set()

    def attempted(self, call: Call, ticket: Ticket, answer: Answer | None) -> None:
        """Report an attempt that ended; called in its ``finally``, so a failure is in flight."""
        if answer is not None:
            status, error = answer.status, None
        else:
            status, error = None, _error_kind(sys.exception())
        latency = self._clock() - ticket.sent_at
        method, route, user = call.operation.method, call.operation.route, call.headers
        self.emit(
            AttemptEvent(method, route, status, error, latency, call.attempts, self._user(user))
        )

    def waited(self, reason: WaitReason, seconds: float) -> None:
        """Report a wait that took time."""
        if seconds > 0:
            self.emit(WaitEvent(reason, seconds))

    def _user(self, headers: Mapping[str, str] | None) -> str | None:
        user = headers.get(USER_ID_HEADER, self._default_user) if headers else self._default_user
        if user is None:
            return None
        hashed = self._hashes.get(user)
        if hashed is None:
            if len(self._hashes) >= _MAX_HASHED_USERS:
                self._hashes.clear()
            hashed = self._hashes[user] = hash_user(user)
        return hashed

    def pacer(self, limiter: Pacer) -> Pacer:
        """``limiter``, reporting how long each ``acquire`` waited."""
        return _TimedPacer(limiter, self)

    def sleep(self, sleep: Sleep, limiter: Pacer) -> Sleep:
        """``sleep`` for the retry layer, reporting each wait (a pause while ``limiter`` is)."""

        async def timed_sleep(seconds: float) -> None:
            started = self._clock()
            reason: WaitReason = "pause" if limiter.paused() else "backoff"
            try:
                await sleep(seconds)
            finally:
                self.emit(WaitEvent(reason, self._clock() - started))

        return timed_sleep

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
    default_user: str | None,
    clock: Callable[[], float],
) -> tuple[Emitter | None, Pacer, Sleep]:
    """The emitter of ``on_event``, with the limiter and the retry sleep that report waits.

    Without a hook, ``limiter`` and ``sleep`` come back as they are: nothing is measured.

    Raises:
        ArgumentTypeError: ``on_event`` is not callable.
    """
    if on_event is None:
        return None, limiter, sleep
    if not callable(on_event):
        kind = type(on_event).__name__
        raise ArgumentTypeError("on_event", f"{{name}} must be a function or None, got {kind}")
    emitter = Emitter(on_event, default_user=default_user, clock=clock)
    return emitter, emitter.pacer(limiter), emitter.sleep(sleep, limiter)


class _TimedPacer:
    """A limiter that reports each wait for a turn; everything else passes through."""

    def __init__(self, limiter: Pacer, emitter: Emitter) -> None:
        self._limiter, self._emitter = limiter, emitter
        self.try_acquire = limiter.try_acquire
        self.on_attempt_done = limiter.on_attempt_done
        self.on_response = limiter.on_response
        self.pause = limiter.pause
        self.paused = limiter.paused

    @property
    def rate_limited(self) -> int:
        """429s the limiter has seen."""
        return self._limiter.rate_limited

    @property
    def rate(self) -> float | None:
        """The limiter's pace."""
        return self._limiter.rate

    async def acquire(self) -> Ticket:
        """Wait for a turn, and report the wait."""
        clock = self._emitter._clock
        started = clock()
        reason: WaitReason = "pause" if self._limiter.paused() else "pace"
        ticket = await self._limiter.acquire()
        self._emitter.waited(reason, clock() - started)
        return ticket
