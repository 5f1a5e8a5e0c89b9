"""Outages as a state of the whole client: stop sending, probe one request at a time, resume.

A failure that says the service, not the request, is down (no connection, a reset, a
timeout, a 502, a 503 without ``Retry-After``, a 504) counts toward an outage; any other
answer says the service is up. ``OUTAGE_AFTER`` such failures in a row, across all of the
client's calls, and the client stops sending: one probe goes at a time, the first at once
(failures in a row happen by chance too), the next ``OUTAGE_PROBE_FIRST`` seconds after a failed
one, each next one ``OUTAGE_PROBE_GROWTH`` times later, up to ``OUTAGE_PROBE_CAP``.
When a probe (or any request) gets an answer, every waiting call goes on. Calls waiting
for the service do not spend their attempts, only time against their deadline; a probe
that fails is not counted against its call either. A single failure on a healthy service
is retried by the call's own policy as before.

Gateways often throttle with 503 rather than 429 (nginx's ``limit_req``). A 503 with
``Retry-After``, or 503s making up ``THROTTLE_SHARE`` of the last ``THROTTLE_SAMPLE``
answers while other requests still succeed, is throttling: the limiter takes it as a 429.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable

from ._wait import Signal, wait_for_change
from .errors import APIConnectionError, APIStatusError, APITLSError, MeetergoError, ServerError

__all__ = ["OUTAGE_AFTER", "Health", "is_service_failure"]

log = logging.getLogger(__name__)

OUTAGE_AFTER = 3
"""Service failures in a row, with no answer between them, that make an outage."""
OUTAGE_PROBE_FIRST = 0.5
"""Seconds from the first failed probe of an outage to the next."""
OUTAGE_PROBE_GROWTH = 2.0
"""Each failed probe multiplies the wait before the next one."""
OUTAGE_PROBE_CAP = 5.0
"""Probes of an outage are never further apart than this many seconds."""
THROTTLE_SAMPLE = 20
"""How many of the latest answers are looked at to tell throttling from chance failures."""
THROTTLE_SHARE = 0.5
"""503s making up this part of them, while others succeed, are a gateway's throttling."""
_SERVICE_STATUSES = frozenset({502, 503, 504})


def is_service_failure(error: MeetergoError) -> bool:
    """Tell whether ``error`` says the service (not the request) failed."""
    if isinstance(error, APIStatusError):
        return error.status in _SERVICE_STATUSES and not (
            error.status == 503 and error.retry_after is not None
        )
    # A TLS failure is the client's setup (scheme, port, certificate), not an outage.
    return isinstance(error, APIConnectionError) and not isinstance(error, APITLSError)


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
        self._streak = 0
        self._down_since: float | None = None
        self._next_probe = -math.inf
        self._backoff = OUTAGE_PROBE_FIRST
        self._probing = False
        self._last: MeetergoError | None = None
        self._answers: deque[bool] = deque(maxlen=THROTTLE_SAMPLE)  # True: a 503
        self._changed = Signal()

    @property
    def down(self) -> bool:
        """Whether the client is waiting out an outage."""
        return self._down_since is not None

    async def admit(self, deadline_at: float | None) -> bool:
        """Wait while the service is down; ``True`` if this attempt is to probe it.

        Raises:
            APIConnectionError, ServerError: the deadline passed while waiting.
        """
        while self._down_since is not None:
            now = self._clock()
            if not self._probing and now >= self._next_probe:
                self._probing = True
                return True
            if deadline_at is not None and now >= deadline_at:
                raise self._gave_up(now)
            wait = None if self._probing else self._next_probe - now
            if deadline_at is not None:
                wait = deadline_at - now if wait is None else min(wait, deadline_at - now)
            await wait_for_change(self._changed.event, self._sleep, wait)
        return False

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
        self._streak = 0
        if probe:
            self._probing = False
        if self._down_since is not None:
            log.info("the service answers again after %.1fs", self._clock() - self._down_since)
            self._down_since = None
            self._backoff = OUTAGE_PROBE_FIRST
            self._changed.notify()

    def failed(self, error: MeetergoError, probe: bool) -> None:
        """An attempt failed in a way that says the service is down."""
        if isinstance(error, APIStatusError):
            self._answers.append(error.status == 503)
        self._streak += 1
        self._last = error
        now = self._clock()
        if probe:
            self._probing = False
            self._next_probe = now + self._backoff
            self._backoff = min(self._backoff * OUTAGE_PROBE_GROWTH, OUTAGE_PROBE_CAP)
            self._changed.notify()
        elif self._down_since is None and self._streak >= OUTAGE_AFTER:
            self._down_since = now
            self._next_probe = now
            self._backoff = OUTAGE_PROBE_FIRST
            log.warning("the service does not answer (%s): waiting for it", error.message)

    def release(self) -> None:
        """A probe ended without telling anything (cancelled, or never sent)."""
        self._probing = False
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
