"""One logical request: its attempts through the slots, the limiter and the transport, retried.

``Caller.call`` sends a request's first attempt bare and hands a failure to the retry policy
(``_retry``); each attempt takes a concurrency slot and a turn of the limiter, goes out
through the transport, and turns a status that is not a success into a typed error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import attrs
from yarl import URL

from . import _answers
from ._config import RetryPolicy
from ._emitter import UNOBSERVED, Observer, SleepFor
from ._events import OnRetry
from ._health import Health, is_service_failure
from ._results import decode_success
from ._retry import Clock, Operation, RetryContext, Sleep, retry_after_failure
from ._stats import ClientStats
from ._transport import Request, Response, Transport
from .errors import APITimeoutError, MeetergoError, RateLimitError
from .pacing import Forecaster, Pacer, Priority, Ticket

__all__ = ["Call", "Caller"]


@attrs.define
class Call:
    """One logical request and what its attempts have learned."""

    operation: Operation
    path: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float
    policy: RetryPolicy
    parse: Callable[[object], Any]
    user: str | None = None
    """The acting user (the ``x-meetergo-api-user-id`` it sends), or ``None``."""
    priority: Priority = Priority.INTERACTIVE
    """The lane its attempts wait in for their turn."""
    first_sent_at: float | None = None
    attempts: int = 0

    def failed(self, error: MeetergoError, now: float | None = None) -> MeetergoError:
        """Stamp ``error`` with this call's method, path, attempts and, at ``now``, time spent."""
        error.method = self.operation.method
        error.path = self.path
        error.attempts = self.attempts
        if now is not None and self.first_sent_at is not None:
            error.elapsed = now - self.first_sent_at
        return error


class Caller:
    """Sends the calls of one client; counts attempts and retries.

    Args:
        transport: sends each attempt.
        limiter: paces the attempts of every call.
        max_concurrency: most attempts in flight at once.
        secrets: what to redact from an error the server sends.
        clock: the monotonic clock.
        sleep: the awaitable sleep.
        on_retry: the user's retry hook, or ``None``.
        observer: told of every attempt that was sent, as it ends, and of every wait for
            an outage to end (``_events``; the limiter and ``retry_sleep`` report their own).
        retry_sleep: the sleep between the attempts of a call of each lane, if not ``sleep``.
    """

    def __init__(
        self,
        transport: Transport,
        limiter: Pacer,
        *,
        max_concurrency: int,
        secrets: tuple[str, ...],
        clock: Clock,
        sleep: Sleep,
        on_retry: OnRetry | None,
        observer: Observer = UNOBSERVED,
        retry_sleep: SleepFor | None = None,
    ) -> None:
        self._transport = transport
        self._limiter = limiter
        self._slots = asyncio.Semaphore(max_concurrency)
        self._secrets = secrets
        self._clock = clock
        self._sleep = sleep
        self._on_retry = on_retry
        self._health = Health(clock, sleep)
        self.requests = 0
        self.retries = 0
        self._observer = observer
        self._retry_sleep = retry_sleep or (lambda lane: sleep)
        self._lane_requests = {Priority.INTERACTIVE: 0, Priority.BULK: 0}

    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        limiter = self._limiter
        lanes = self._lane_requests
        return ClientStats(
            self.requests,
            limiter.rate_limited,
            self.retries,
            limiter.rate,
            lanes[Priority.INTERACTIVE],
            lanes[Priority.BULK],
        )

    async def forecast(self, count: int) -> float | None:
        """The limiter's forecast for the ``count``-th next request, if it makes one."""
        limiter = self._limiter
        return await limiter.forecast(count) if isinstance(limiter, Forecaster) else None

    async def call(self, call: Call) -> tuple[Any, int]:
        """Send ``call`` under its retry policy.

        Returns:
            What ``call.parse`` made of the answer, and the attempts it took.

        Raises:
            MeetergoError: the last attempt's error, stamped with the attempts made.
        """
        self._health.enter()  # under way: others are not alone during an outage
        try:
            try:
                # The first attempt runs bare: a call that succeeds at once builds no retry
                # state. bench/call_cost.py: 15.6 us of CPU a call this way, 63.4 us when
                # tenacity's AsyncRetrying is built first (medians of 5 rounds; the gain
                # 47.8 us, 36.5-64.1).
                return await self._attempt(call), call.attempts
            except MeetergoError as error:
                first = error  # retried outside the except block: no chaining to it
            ctx = self._retry_context(call)
            result = await retry_after_failure(first, partial(self._attempt, call), ctx)
            return result, call.attempts
        finally:
            self._health.leave()

    def _retry_context(self, call: Call) -> RetryContext:
        started = self._clock() if call.first_sent_at is None else call.first_sent_at
        return RetryContext(
            call.operation,
            call.path,
            call.policy,
            started,
            self._clock,
            self._retry_sleep(call.priority),
            self._on_retry,
            self._on_wait,
        )

    def _on_wait(self, error: MeetergoError, wait: float) -> None:
        self.retries += 1
        if isinstance(error, RateLimitError):
            self._limiter.pause(wait)

    async def _attempt(self, call: Call) -> Any:
        probe = False  # True: this attempt probes an outage
        if self._health.down:
            probe = await self._admit(call)
        sent_before = call.attempts
        try:
            ticket, answer = await self._send(call)
        except MeetergoError as failure:
            if call.attempts > sent_before and is_service_failure(failure):
                self._service_failed(call, failure, probe)
            elif probe:
                self._health.release()
            raise
        except BaseException:
            if probe:
                self._health.release()  # cancelled: it told nothing
            raise
        return self._read(call, ticket, answer, probe)

    async def _admit(self, call: Call) -> bool:
        policy = call.policy
        started = self._clock() if call.first_sent_at is None else call.first_sent_at
        deadline_at = None if policy.deadline is None else started + policy.deadline
        waiting_since = self._clock()
        try:
            return await self._health.admit(
                call, policy.max_attempts - call.attempts, deadline_at, hold=policy.max_attempts > 1
            )
        except MeetergoError as error:
            raise call.failed(error, self._clock()) from None
        finally:
            self._observer.waited("pause", self._clock() - waiting_since, call.priority)

    async def _send(self, call: Call) -> tuple[Ticket, Response]:
        ticket = await self._turn(call)
        # The turn first, then a place among those in flight: a task waiting for its turn
        # holds no place, so a single call is not queued behind bulk items that wait for
        # theirs (max_concurrency bounds the requests in flight, not those waiting).
        try:
            await self._slots.acquire()
        except BaseException:
            self._limiter.on_attempt_done(ticket)  # cancelled unsent: counted, to be safe
            raise
        try:
            return ticket, await self._send_now(call, ticket)
        finally:
            self._slots.release()

    async def _turn(self, call: Call) -> Ticket:
        """Wait for the limiter to let an attempt of ``call`` go."""
        hold = call.policy.max_attempts > 1  # a call of one attempt is never held back
        lane = call.priority
        ticket = self._limiter.try_acquire(hold=hold, lane=lane)
        if ticket is None:
            try:
                ticket = await self._limiter.acquire(hold=hold, lane=lane)
            except MeetergoError as refused:  # a shared budget that is down: nothing sent
                raise call.failed(refused) from refused.__cause__
        if call.first_sent_at is None:
            call.first_sent_at = ticket.sent_at
        return ticket

    async def _send_now(self, call: Call, ticket: Ticket) -> Response:
        try:
            timeout = self._attempt_timeout(call)  # raises, unsent, if the deadline passed
        except MeetergoError:
            self._limiter.on_attempt_done(ticket)
            raise
        call.attempts += 1
        self.requests += 1
        self._lane_requests[call.priority] += 1
        answer = None
        try:
            request = Request(call.operation.method, call.url, call.headers, call.body, timeout)
            answer = await self._transport.send(request)
        except MeetergoError as failure:
            raise call.failed(failure, self._clock()) from failure.__cause__
        finally:
            status = None if answer is None else answer.status
            self._observer.attempted(
                call.operation, call.user, call.attempts, ticket.sent_at, status
            )
            if answer is None:  # failed or cancelled: it may have reached the server
                self._limiter.on_attempt_done(ticket)
        return answer

    def _read(self, call: Call, ticket: Ticket, answer: Response, probe: bool) -> Any:
        """Turn an answer into the call's result, or raise its error; tell limiter and health."""
        method = call.operation.method
        status = answer.status
        headers = answer.headers
        if 200 <= status < 300:
            self._limiter.on_response(ticket, status, headers, None)
            self._health.answered(status, probe)
            return call.parse(decode_success(answer.body, method, call.path))
        error = _answers.error_for_status(
            status,
            answer.reason,
            dict(headers),
            answer.body,
            method=method,
            path=call.path,
            secrets=self._secrets,
        )
        # A gateway's 503 with Retry-After, or among many successes, refuses for rate.
        throttled = status == 429 or (
            status == 503 and (error.retry_after is not None or self._health.throttling())
        )
        self._limiter.on_response(ticket, 429 if throttled else status, headers, error.retry_after)
        if throttled or not is_service_failure(error):
            self._health.answered(status, probe)
        else:
            self._service_failed(call, error, probe)
        raise call.failed(error, self._clock())

    def _service_failed(self, call: Call, error: MeetergoError, probe: bool) -> None:
        self._health.failed(error, probe, call)
        note = self._health.outage_note()
        if note:  # the call may end with this error: say how long the service has been down
            error.message = f"{error.message}; {note}"

    def _attempt_timeout(self, call: Call) -> float:
        """The seconds this attempt may take: its timeout, cut to what the deadline leaves."""
        deadline = call.policy.deadline
        if deadline is None:
            return call.timeout
        assert call.first_sent_at is not None  # set by _send before it asks
        remaining = call.first_sent_at + deadline - self._clock()
        if remaining <= 0:
            raise call.failed(APITimeoutError("the call's deadline has passed"), self._clock())
        return min(call.timeout, remaining)
