"""``MeetergoClient``: the lifecycle and the endpoint methods, wiring the parts together.

Settings come from ``_config``; ``_assembly`` makes the parts: the calls are built by
``_endpoints`` and sent by ``_call`` (through the limiter from ``pacing``, the transport
from ``_transport``, retries from ``_retry``), many at once by ``_bulk``; ``_lifecycle``
owns opening and closing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Self

import aiohttp

from ._assembly import Hooks, assemble
from ._client_bulk import BulkMethods
from ._config import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    RetryPolicy,
    check_transport,
    resolve_settings,
)
from ._events import OnEvent, OnRetry
from ._lifecycle import State
from ._stats import ClientStats
from ._transport import Transport
from ._validate import check_count, check_text
from .models import (
    CalendarConnection,
    CalendarConnectionUpdate,
    validate_update_request,
)
from .pacing import DEFAULT_RATE_LIMIT, Priority, SharedBudget, SlidingWindow, TokenBucket
from .pacing._config import check_priority

__all__ = ["ClientStats", "MeetergoClient"]


class MeetergoClient(BulkMethods):
    """An asynchronous client of meetergo's calendar-connection API.

    Use it as ``async with MeetergoClient(...) as client:`` or call ``await client.aclose()``
    (one left open warns when collected). One client is meant to be shared by all the tasks
    of an event loop that use the same API key: its limiter paces them together. It belongs
    to the loop it was opened in; used from another one it raises ``RuntimeError``.

    Args:
        api_key: a platform API key (``ak_live:...``), a personal access token (``rgo-...``)
            or another bearer token; default ``$MEETERGO_API_KEY``.
        user_id: the user an API key acts as by default (the ``x-meetergo-api-user-id``
            header); default ``$MEETERGO_USER_ID``. Refused with a PAT. With an API key and
            no default user, every call must name its user with ``as_user=``.
        base_url: the API host; default ``$MEETERGO_BASE_URL``, else ``https://api.meetergo.com``.
            ``http://`` is allowed only to a loopback host unless ``allow_insecure_http``.
        timeout: seconds one attempt may take.
        session: an ``aiohttp.ClientSession`` to borrow; the client never closes it and never
            changes its defaults (its proxy settings included).
        transport: a ``Transport`` that sends each attempt instead of aiohttp (e.g.
            ``meetergo_async.testing.MockTransport`` in tests); the client closes it with
            itself. Not with ``session`` or ``proxy``.
        proxy: the proxy URL of the session the client makes, ``http://[user:pass@]host:port``;
            it never appears in a repr, log or error.
        trust_env: without ``proxy``, take the proxy from ``HTTP_PROXY``/``HTTPS_PROXY``
            and ``NO_PROXY`` (its credentials from the URL or ``~/.netrc``), read when the
            client opens; ``False`` ignores them.
        retry: the default ``RetryPolicy``; every method also takes ``retry=``.
        rate_limit: the client's pace: a ``SlidingWindow`` (default: meetergo's 100 requests
            in any 60 s) or a ``TokenBucket``; ``None`` sets no limit of its
            own (the server's rate-limit headers and 429s are still honoured); or a
            ``meetergo_async.redis.RedisBudget``, one budget per API key shared with every
            client on the same Redis.
        max_concurrency: most requests of this client in flight at once.
        on_retry: called with a ``RetryEvent`` before each wait; a function or a coroutine
            function; what it raises is logged, not propagated.
        on_event: called with an ``AttemptEvent`` after each attempt and a ``WaitEvent``
            after each wait, for metrics; a function or a coroutine function (run as a task);
            what it raises is logged, not propagated.
        allow_insecure_http: allow ``http://`` to a host that is not loopback.
        max_response_bytes: response bodies are never read past this size.
        clock: the monotonic clock, injectable for tests.
        sleep: the awaitable sleep, injectable for tests.

    Raises:
        ValueError, TypeError: a missing or malformed credential or option; the error's
            ``argument`` attribute names it.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        user_id: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        transport: Transport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        rate_limit: TokenBucket | SlidingWindow | SharedBudget | None = DEFAULT_RATE_LIMIT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        on_retry: OnRetry | None = None,
        on_event: OnEvent | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        check_transport(transport, session=session, proxy=proxy)
        settings = resolve_settings(
            api_key=api_key,
            user_id=user_id,
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            allow_insecure_http=allow_insecure_http,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            max_response_bytes=max_response_bytes,
            proxy=proxy,
            trust_env=trust_env,
            borrowed_session=session is not None,
        )
        hooks = Hooks(on_retry, on_event, clock, sleep)
        parts = assemble(settings, session=session, transport=transport, hooks=hooks)
        self._settings = settings
        self._endpoints = parts.endpoints
        self._transport = parts.transport
        self._caller = parts.caller
        self._life = parts.lifecycle

    def __del__(self) -> None:
        if (life := getattr(self, "_life", None)) is not None:  # None when __init__ raised
            life.collected(self)

    def __repr__(self) -> str:
        user = f", user_id={self._settings.user_id!r}" if self._settings.user_id else ""
        url = self._settings.base_url
        return f"<MeetergoClient base_url={url!r}{user} state={self._life.state.value}>"

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client's counters."""
        return self._caller.stats()

    async def forecast(self, requests: int = 1) -> float | None:
        """Seconds from now until the ``requests``-th next request may go under the rate limit.

        Asks the limiter in force (in-process, or the ``RedisBudget`` with one read) what
        it holds now, and sends nothing: for a sliding log the free slots, then when its
        entries stop counting, then ``limit`` a window; a pause after a 429 delays it all.
        It leaves out how long answers take. ``None`` when it cannot tell (during a block,
        or with no limit known); ``0.0`` when unpaced.

        Raises:
            ValueError: ``requests`` is not a positive int.
        """
        check_count("requests", requests)
        return await self._caller.forecast(requests)

    @property
    def closed(self) -> bool:
        """Tell whether ``aclose`` was called."""
        return self._life.state is State.CLOSED

    async def __aenter__(self) -> Self:
        self._life.enter()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and what it opened (not a borrowed session); idempotent, any loop."""
        await self._life.aclose()

    async def update_calendar_connection(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        *,
        owner_user_id: str | None = None,
        as_user: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority | str | None = None,
    ) -> CalendarConnection:
        """Change a calendar connection's settings (``PATCH .../connections/{id}``).

        Only the fields set on ``update`` are sent. Each is an absolute assignment, so the
        request is safe to repeat: after a 5xx, a timeout or a lost connection it is sent
        again (the server may already have applied it; applying it twice changes nothing).

        Args:
            connection_id: the connection's id; sent as one percent-encoded path segment.
            update: the fields to change; at least one must be set.
            owner_user_id: the ``userId`` query parameter (admins naming another user).
            as_user: the ``x-meetergo-api-user-id`` header for this call only.
            timeout: seconds each attempt may take (default: the client's).
            retry: this call's ``RetryPolicy`` (default: the client's).
            priority: the lane its attempts wait in for their turn; ``"interactive"`` by
                default: before bulk work on the key (``Priority``).

        Returns:
            The connection as the server described it; fields it did not send are ``None``.

        Raises:
            TypeError, ValueError: an invalid argument (nothing is sent).
            MeetergoError: the server refused, or no answer came (see ``errors``).
        """
        validate_update_request(connection_id, update, owner_user_id, as_user)
        lane = check_priority("priority", priority, Priority.INTERACTIVE)
        call = self._endpoints.update(
            connection_id, update, owner_user_id, as_user, timeout, retry, lane
        )
        self._life.enter()
        result: tuple[CalendarConnection, int] = await self._caller.call(call)
        return result[0]

    async def list_calendar_connections(
        self,
        *,
        owner_user_id: str | None = None,
        as_user: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority | str | None = None,
    ) -> list[CalendarConnection]:
        """List the calendar connections of a user (``GET .../connections``).

        Arguments are as for ``update_calendar_connection``. Entries that are not objects
        with a string ``id`` are skipped with a warning.
        """
        if owner_user_id is not None:
            check_text("owner_user_id", owner_user_id)
        lane = check_priority("priority", priority, Priority.INTERACTIVE)
        call = self._endpoints.listing(owner_user_id, as_user, timeout, retry, lane)
        self._life.enter()
        result: tuple[list[CalendarConnection], int] = await self._caller.call(call)
        return result[0]

    async def _update_one(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        owner_user_id: str | None,
        as_user: str | None,
        priority: Priority,
    ) -> tuple[CalendarConnection, int]:
        """Send one checked item of a bulk run; return the connection and its attempts."""
        call = self._endpoints.update(
            connection_id, update, owner_user_id, as_user, priority=priority
        )
        self._life.enter()
        result: tuple[CalendarConnection, int] = await self._caller.call(call)
        return result
