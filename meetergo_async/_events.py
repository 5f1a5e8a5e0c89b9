"""Every event a hook receives: each attempt, each wait, each retry, as frozen values.

An ``AttemptEvent`` tells how one attempt ended (its status, or why no answer came) and how
long it took; a ``WaitEvent`` tells how long a call waited and why: for its turn under the
rate limit (``pace``), while the whole client held back after a 429 or for an outage to
end (``pause``), or before a retry (``backoff``). They go to ``on_event`` and feed a metrics
library (docs/production.md shows Prometheus and OpenTelemetry). A ``RetryEvent`` goes to
``on_retry`` before each wait of the retry policy. The emitting lives in ``_emitter``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Literal, TypeAlias

import attrs

from .errors import MeetergoError
from .pacing._config import Priority

__all__ = [
    "AttemptError",
    "AttemptEvent",
    "Event",
    "OnEvent",
    "OnRetry",
    "RetryEvent",
    "WaitEvent",
    "WaitReason",
    "hash_user",
]

WaitReason: TypeAlias = Literal["pace", "pause", "backoff"]
"""Why a call waited: its turn under the rate limit, a client-wide hold, or its backoff."""
AttemptError: TypeAlias = Literal["timeout", "connection", "cancelled", "error"]
"""Why an attempt got no answer."""


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
        priority: the lane of the call that waited: ``"interactive"`` (a single call, by
            default) or ``"bulk"`` (an item of a bulk run).
    """

    reason: WaitReason
    seconds: float
    priority: Priority = Priority.INTERACTIVE


@attrs.frozen
class RetryEvent:
    """What ``on_retry`` receives before each wait.

    Attributes:
        method: the HTTP method.
        path: the path as sent, the base URL's prefix included (no host, no query).
        attempt: the number of the attempt that failed, starting at 1.
        wait: seconds the client is about to wait.
        error: the error of that attempt.
    """

    method: str
    path: str
    attempt: int
    wait: float
    error: MeetergoError


Event: TypeAlias = AttemptEvent | WaitEvent
"""What ``on_event`` receives."""
OnEvent: TypeAlias = Callable[[Event], Awaitable[None] | None]
"""An ``on_event`` hook: a function or a coroutine function of one ``Event``."""
OnRetry: TypeAlias = Callable[[RetryEvent], Awaitable[None] | None]
"""An ``on_retry`` hook: a function or a coroutine function of one ``RetryEvent``."""


def hash_user(user: str) -> str:
    """A short, stable, one-way name for a user id (12 hex digits of BLAKE2b)."""
    return hashlib.blake2b(user.encode(), digest_size=6).hexdigest()
