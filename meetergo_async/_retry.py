"""The retry rules of every call, as one tenacity policy built per call.

The first attempt is sent without any retry machinery; only when it fails with a retryable
error is an ``AsyncRetrying`` built, and it starts by replaying that failure as its own first
attempt. So waits, stops, attempt numbers and logs are the same as if tenacity had run from
the start, while a call that succeeds at once costs nothing here (``bench/call_cost.py``:
about 48 us of CPU a call saved).

The policy is the call's promise (docs: "The policy is a promise"): at most
``max_attempts`` requests, each one counted, probes of an outage or a block included; waits
of its backoff (full jitter, capped) or of a ``Retry-After`` up to ``max_retry_after``; no
wait that ends past its deadline.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import attrs
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ._config import RetryPolicy
from ._events import OnRetry, RetryEvent
from ._http import TRANSIENT_STATUSES
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITLSError,
    MeetergoError,
    RateLimitError,
)

__all__ = ["Operation", "RetryContext", "retry_after_failure"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


@attrs.frozen
class Operation:
    """An endpoint: its method, whether it is safe to repeat, its path template.

    Only a request that is safe to repeat (``idempotent``) is retried after a 5xx, a 408,
    a timeout or a lost connection, where the server may have applied it. A 429 is retried
    for every operation: the server says it did not process the request. A TLS failure is
    never retried: another attempt would fail the same way. ``route`` names the endpoint in
    events (``/v4/.../connections/{connection_id}``), never an id.
    """

    method: str
    idempotent: bool
    route: str = ""

    def should_retry(self, error: BaseException) -> bool:
        """Tell whether ``error`` may be followed by another attempt of this operation."""
        if isinstance(error, RateLimitError):
            return True
        if not self.idempotent or isinstance(error, APITLSError):
            return False
        if isinstance(error, APIConnectionError):
            return True
        return isinstance(error, APIStatusError) and error.status in TRANSIENT_STATUSES


class _wait_server_hint(wait_base):
    """Wait what the server asked (``Retry-After``), else the jittered backoff."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(error, "retry_after", None)
        return float(hint) if hint is not None else float(self.fallback(retry_state))


class _stop_on_long_retry_after(stop_base):
    """Stop when the server asks for a longer wait than the policy accepts."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        hint = getattr(error, "retry_after", None)
        return hint is not None and hint > self.limit


class _stop_before_deadline(stop_base):
    """Stop when the coming wait would end after the deadline: never sleep past it."""

    def __init__(self, deadline_at: float, clock: Clock) -> None:
        self.deadline_at = deadline_at
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + retry_state.upcoming_sleep > self.deadline_at


@attrs.define
class RetryContext:
    """What one call's retries need besides the policy: names for logs, time, hooks."""

    operation: Operation
    path: str
    policy: RetryPolicy
    started_at: float
    clock: Clock
    sleep: Sleep
    on_retry: OnRetry | None = None
    on_wait: Callable[[MeetergoError, float], None] | None = None

    @property
    def deadline_at(self) -> float | None:
        """The clock time after which no wait may end, or ``None``."""
        deadline = self.policy.deadline
        return None if deadline is None else self.started_at + deadline

    async def before_sleep(self, state: RetryCallState) -> None:
        """Log the retry, tell the limiter, and call the user's hook (errors only logged)."""
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, MeetergoError)
        wait = state.upcoming_sleep
        log.info(
            "retrying %s %s: attempt %d of %d failed (%s), waiting %.2fs",
            self.operation.method,
            self.path,
            state.attempt_number,
            self.policy.max_attempts,
            _reason(error),
            wait,
        )
        if self.on_wait is not None:
            self.on_wait(error, wait)
        if self.on_retry is not None:
            event = RetryEvent(self.operation.method, self.path, state.attempt_number, wait, error)
            await _call_hook(self.on_retry, event)


def _reason(error: MeetergoError) -> str:
    if isinstance(error, APIStatusError):
        return str(error.status)
    # The wrapped aiohttp exception says more than the wrapper (reset, disconnect, timeout).
    return type(error.__cause__ or error).__name__


async def _call_hook(hook: OnRetry, event: RetryEvent) -> None:
    try:
        result = hook(event)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("on_retry callback raised; the call goes on")


def _build(ctx: RetryContext) -> AsyncRetrying:
    policy = ctx.policy
    # Every request the call sends counts, probes of an outage or of a block included.
    stop: Any = stop_after_attempt(policy.max_attempts) | _stop_on_long_retry_after(
        policy.max_retry_after
    )
    if ctx.deadline_at is not None:
        stop = stop | _stop_before_deadline(ctx.deadline_at, ctx.clock)
    backoff = wait_random_exponential(multiplier=policy.initial_backoff, max=policy.max_backoff)
    return AsyncRetrying(
        sleep=ctx.sleep,
        stop=stop,
        wait=_wait_server_hint(backoff),
        retry=retry_if_exception(ctx.operation.should_retry),
        before_sleep=ctx.before_sleep,
        reraise=True,
    )


async def retry_after_failure(
    error: MeetergoError, attempt: Callable[[], Awaitable[T]], ctx: RetryContext
) -> T:
    """Go on after a first attempt failed with ``error``: retry under the policy, or raise.

    The caller sent the first attempt bare; here the ``AsyncRetrying`` replays that failure
    as its own first attempt, so everything after it is as if tenacity had run from the
    start. On failure the last ``MeetergoError`` is raised (``attempt`` sets its
    ``attempts``), never ``tenacity.RetryError``.
    """
    if ctx.policy.max_attempts == 1 or not ctx.operation.should_retry(error):
        raise error
    first: MeetergoError | None = error

    async def replay_then_attempt() -> T:
        nonlocal first
        if first is not None:
            error = first
            first = None
            raise error
        return await attempt()

    return await _build(ctx)(replay_then_attempt)
