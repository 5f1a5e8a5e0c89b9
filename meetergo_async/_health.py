"""Outages as a state of the whole client: who may send while the service does not answer.

An outage is a state of the service, so only evidence about the service declares it:
``OUTAGE_AFTER`` failures that say the service is down (no connection, a reset, a timeout,
a 502, a 503 without ``Retry-After``, a 504) in a row, with no answer between them, that
either concern the host as a whole (no connection could be made; a gateway's own page
instead of the app's JSON) or come from at least two different calls. A call failing alone
while the others succeed (one connection id that always answers 503) is that call's own
failure: its retry policy handles it, and nothing is declared.

During an outage calls hold back without sending, and one request at a time probes the
service. A probe is an attempt of the call that sends it, so the probes are shared out:

- a call alone in the client (no other call of it is under way) is its own prober: it
  sends whenever its retry policy says, so its waits are its policy's;
- among several calls, the probes go at the outage's pace (the first at once, the next
  ``OUTAGE_PROBE_FIRST`` seconds after a failed one, each next one ``OUTAGE_PROBE_GROWTH``
  times later, at most ``OUTAGE_PROBE_CAP`` apart), each sent by the waiting call with the
  most attempts left (the longest waiting first);
- a call that may send only once (``max_attempts=1``) is never held: it sends at once.

Waiting counts against a call's deadline, never against its attempts. When any request
gets an answer, the outage is over and every waiting call goes on.

Gateways often throttle with 503 rather than 429 (nginx's ``limit_req``). A 503 with
``Retry-After``, or 503s making up ``THROTTLE_SHARE`` of the last ``THROTTLE_SAMPLE``
answers while other requests still succeed, is throttling: the limiter takes it as a 429.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from ._wait import Signal, wait_for_change
from .errors import APIConnectionError, APIStatusError, APITLSError, MeetergoError, ServerError

__all__ = ["OUTAGE_AFTER", "Health", "is_host_failure", "is_service_failure"]

log = logging.getLogger(__name__)

OUTAGE_AFTER: Final = 3
"""Service failures in a row, with no answer between them, that make an outage."""
OUTAGE_PROBE_FIRST: Final = 0.5
"""Seconds from the first failed probe of an outage to the next (among several calls)."""
OUTAGE_PROBE_GROWTH: Final = 2.0
"""Each failed probe multiplies the wait before the next one."""
OUTAGE_PROBE_CAP: Final = 5.0
"""Probes of an outage are never further apart than this many seconds."""
THROTTLE_SAMPLE: Final = 20
"""How many of the latest answers are looked at to tell throttling from chance failures."""
THROTTLE_SHARE: Final = 0.5
"""503s making up this part of them, while others succeed, are a gateway's throttling."""
_SERVICE_STATUSES: Final = frozenset({502, 503, 504})
_EPSILON: Final = 1e-9


def is_service_failure(error: MeetergoError) -> bool:
    """Tell whether ``error`` says the service (not the request) failed."""
    if isinstance(error, APIStatusError):
        return error.status in _SERVICE_STATUSES and not (
            error.status == 503 and error.retry_after is not None
        )
    # A TLS failure is the client's setup (scheme, port, certificate), not an outage.
    return isinstance(error, APIConnectionError) and not isinstance(error, APITLSError)


def is_host_failure(error: MeetergoError) -> bool:
    """Tell whether ``error`` concerns the host as a whole, not one request.

    No connection could be made, or a gateway answered with its own page (not the app's
    JSON object) while the app was away.
    """
    if isinstance(error, APIConnectionError):
        return not error.connected
    return (
        isinstance(error, APIStatusError)
        and error.status in _SERVICE_STATUSES
        and not isinstance(error.body, Mapping)
    )


class _Waiter:
    """A call held back by the outage: how many attempts it has left, since when it waits."""

    __slots__ = ("attempts_left", "key", "since")

    def __init__(self, key: object, attempts_left: int, since: float) -> None:
        self.key = key
        self.attempts_left = attempts_left
        self.since = since


class Health:
    """Whether the service answers, as seen by all of one client's calls.

    Args:
        clock: a monotonic clock in seconds.
        sleep: an awaitable sleep.
    """

    def __init__(
        self, clock: Callable[[], float], sleep: Callable[[float], Awaitable[None]]
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._active = 0  # calls under way
        self._streak = 0  # service failures since the last answer
        self._host_streak = 0  # of them, those that concern the host
        self._streak_calls: set[int] = set()  # the calls they came from (two are enough)
        self._down_since: float | None = None
        self._next_probe = -math.inf
        self._backoff = OUTAGE_PROBE_FIRST
        self._prober: object | None = None  # the call whose probe is out
        self._waiting: list[_Waiter] = []
        self._last: MeetergoError | None = None
        self._answers: deque[bool] = deque(maxlen=THROTTLE_SAMPLE)  # True: a 503
        self._changed = Signal()

    @property
    def down(self) -> bool:
        """Whether the client is waiting out an outage."""
        return self._down_since is not None

    def enter(self) -> None:
        """A call starts: while it is under way, others are not alone."""
        self._active += 1

    def leave(self) -> None:
        """A call ended."""
        self._active -= 1
        if self._down_since is not None:
            self._changed.notify()  # a waiter may be alone now

    async def admit(
        self, key: object, attempts_left: int, deadline_at: float | None, *, hold: bool = True
    ) -> bool:
        """Wait while the service is down; ``True`` if this attempt is to probe it.

        Args:
            key: the call (the same object for each of its attempts).
            attempts_left: the attempts it may still make, this one included.
            deadline_at: when it must stop waiting.
            hold: ``False`` for a call that may send only once: it goes at once.

        Raises:
            APIConnectionError, ServerError: the deadline passed while waiting.
        """
        if self._down_since is None:
            return False
        if (not hold or self._active <= 1) and self._prober is None:
            self._prober = key  # alone, or unheld: it probes, on its own schedule
            return True
        if not hold:
            return False
        waiter = _Waiter(key, attempts_left, self._clock())
        self._waiting.append(waiter)
        try:
            return await self._wait_as(waiter, deadline_at)
        finally:
            self._waiting.remove(waiter)
            self._changed.notify()  # the next to probe may be another now

    async def _wait_as(self, waiter: _Waiter, deadline_at: float | None) -> bool:
        while self._down_since is not None:
            now = self._clock()
            if self._prober is None and self._turn(waiter, now):
                self._prober = waiter.key
                return True
            if deadline_at is not None and now >= deadline_at:
                raise self._gave_up(now)
            wait = None
            if self._prober is None and self._next_in_line() is waiter:
                wait = max(self._next_probe - now, 0.0)
            if deadline_at is not None:
                wait = deadline_at - now if wait is None else min(wait, deadline_at - now)
            await wait_for_change(self._changed.event, self._sleep, wait)
        return False

    def _turn(self, waiter: _Waiter, now: float) -> bool:
        """Whether ``waiter`` is to probe now: alone, or next in line when a probe is due."""
        if self._active <= 1:
            return True
        due = now >= self._next_probe - _EPSILON  # a sleep until it may end a hair early
        return due and self._next_in_line() is waiter

    def _next_in_line(self) -> _Waiter | None:
        """The waiting call with the most attempts left, the longest waiting among them."""
        return max(self._waiting, key=lambda w: (w.attempts_left, -w.since), default=None)

    def outage_note(self) -> str:
        """How long the service has not answered, in an outage of a second or more; else ``""``."""
        waited = 0.0 if self._down_since is None else self._clock() - self._down_since
        return f"the service has not answered for {waited:.0f}s" if waited >= 1.0 else ""

    def _gave_up(self, now: float) -> MeetergoError:
        assert self._down_since is not None
        assert self._last is not None
        waited = now - self._down_since
        message = f"the service has not answered for {waited:.0f}s (last: {self._last.message})"
        if isinstance(self._last, APIStatusError):
            return ServerError(message, status=self._last.status, reason=self._last.reason)
        return APIConnectionError(message)

    def answered(self, status: int, probe: bool) -> None:
        """An attempt got an answer that says the service is up."""
        self._answers.append(status == 503)
        if self._streak:
            self._streak = 0
            self._host_streak = 0
            self._streak_calls.clear()
        if probe:
            self._prober = None
        if self._down_since is not None:
            log.info("the service answers again after %.1fs", self._clock() - self._down_since)
            self._down_since = None
            self._backoff = OUTAGE_PROBE_FIRST
            self._changed.notify()

    def failed(self, error: MeetergoError, probe: bool, key: object) -> None:
        """An attempt of the call ``key`` failed in a way that says the service is down."""
        if isinstance(error, APIStatusError):
            self._answers.append(error.status == 503)
        self._last = error
        now = self._clock()
        if probe:
            self._prober = None
            self._next_probe = now + self._backoff
            self._backoff = min(self._backoff * OUTAGE_PROBE_GROWTH, OUTAGE_PROBE_CAP)
            self._changed.notify()
        if self._down_since is None:
            self._count(error, key, now)

    def _count(self, error: MeetergoError, key: object, now: float) -> None:
        """One more failure in a row: an outage once the evidence is about the service."""
        self._streak += 1
        self._host_streak += is_host_failure(error)
        if len(self._streak_calls) < 2:
            self._streak_calls.add(id(key))
        several = len(self._streak_calls) >= 2 or self._host_streak >= OUTAGE_AFTER
        if self._streak >= OUTAGE_AFTER and several:
            self._down_since = now
            self._next_probe = now
            self._backoff = OUTAGE_PROBE_FIRST
            log.warning("the service does not answer (%s): waiting for it", error.message)

    def release(self) -> None:
        """A probe ended without telling anything (cancelled, or never sent)."""
        self._prober = None
        self._changed.notify()

    def throttling(self) -> bool:
        """Whether the latest 503s, among successes, are a gateway throttling the client."""
        answers = self._answers
        refused = sum(answers)
        return (
            len(answers) >= THROTTLE_SAMPLE // 2
            and 0 < refused < len(answers)
            and (refused >= THROTTLE_SHARE * len(answers))
        )
