"""``MeetergoClient``: the session's lifecycle, the transport and the endpoint methods."""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable, Iterable
from functools import partial
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
import attrs
from aiohttp import hdrs
from multidict import CIMultiDict
from yarl import URL

from . import _http
from ._bulk import BulkItem, iter_bulk, run_bulk
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_USER_ID,
    RateLimit,
    RetryPolicy,
    check_count,
    check_positive,
)
from ._ratelimit import Limiter
from ._retry import OnRetry, Operation, RetryContext, retry_after_failure
from ._serde import encode_update, parse_connection
from ._validate import (
    PAT_PREFIX,
    check_base_url,
    check_credentials,
    check_text,
)
from .errors import APIConnectionError, APITimeoutError, MeetergoError, RateLimitError
from .models import (
    CalendarConnection,
    CalendarConnectionUpdate,
    UpdateResult,
    check_update,
)

__all__ = ["ClientStats", "MeetergoClient"]

log = logging.getLogger("meetergo_async")

UPDATE_CONNECTION: Final = Operation("PATCH", idempotent=True)
"""Safe to repeat: every field is an absolute assignment."""
LIST_CONNECTIONS: Final = Operation("GET", idempotent=True)


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


@attrs.frozen
class ClientStats:
    """Counters of one client since it was made.

    Attributes:
        requests: attempts sent (retries included).
        rate_limited: 429 answers seen.
        retries: waits before another attempt.
        rate: the pacing rate in force now (requests a second; ``None`` when proactive
            pacing is off).
    """

    requests: int
    rate_limited: int
    retries: int
    rate: float | None


class MeetergoClient:
    """An asynchronous client of meetergo's calendar-connection API.

    Use it as ``async with MeetergoClient(...) as client:`` or call ``await client.aclose()``.
    One client is meant to be shared by all the tasks of a process that use the same API key:
    its limiter paces them together.

    Args:
        api_key: a platform API key (``ak_live:...``), a personal access token (``rgo-...``)
            or another bearer token; default ``$MEETERGO_API_KEY``.
        user_id: the user an API key acts as (the ``x-meetergo-api-user-id`` header);
            default ``$MEETERGO_USER_ID``. Required with an API key, refused with a PAT.
        base_url: the API host; default ``$MEETERGO_BASE_URL``, else ``https://api.meetergo.com``.
            ``http://`` is allowed only to a loopback host unless ``allow_insecure_http``.
        timeout: seconds one attempt may take.
        session: an ``aiohttp.ClientSession`` to borrow; the client never closes it and never
            changes its defaults.
        retry: the default ``RetryPolicy``; every method also takes ``retry=``.
        rate_limit: the client's pace, default meetergo's documented 100 a minute with bursts
            of 200; ``None`` turns proactive pacing off (429s are still honoured).
        max_concurrency: most requests of this client in flight at once.
        on_retry: called with a ``RetryEvent`` before each wait; a function or a coroutine
            function; what it raises is logged, not propagated.
        max_response_bytes: response bodies are never read past this size.
        clock: the monotonic clock, injectable for tests.
        sleep: the awaitable sleep, injectable for tests.

    Raises:
        ValueError, TypeError: a missing or malformed credential or option.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        user_id: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        on_retry: OnRetry | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # An empty environment variable counts as unset; an empty argument is an error.
        key, self._user_id = check_credentials(
            api_key if api_key is not None else os.environ.get(ENV_API_KEY) or None,
            user_id if user_id is not None else os.environ.get(ENV_USER_ID) or None,
        )
        self._is_pat = key.startswith(PAT_PREFIX)
        self._base_url = check_base_url(
            base_url if base_url is not None else os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            allow_insecure_http,
        )
        check_positive("timeout", timeout)
        check_count("max_concurrency", max_concurrency)
        check_count("max_response_bytes", max_response_bytes)
        if not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, got {rate_limit!r}")
        # Joined onto per request; a request with no query reuses the parsed host.
        self._root = URL(self._base_url, encoded=True)
        self._prefix = self._root.raw_path.rstrip("/")
        self._base_headers = _http.base_headers(key)
        self._secrets = _http.secret_parts(key)  # redacted from any error the server sends
        self._header_cache: dict[bool, CIMultiDict[str] | None] = {}
        self._timeout_seconds = float(timeout)
        self._timeout = aiohttp.ClientTimeout(total=self._timeout_seconds)
        self._retry = retry
        self._max_concurrency = max_concurrency
        self._max_response_bytes = max_response_bytes
        self._on_retry = on_retry
        self._clock = clock
        self._sleep = sleep
        self._limiter = Limiter(
            rate_limit, clock=clock, sleep=sleep, max_pause=retry.max_retry_after
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        self._session = session
        self._owns_session = session is None
        self._state = _State.UNOPENED
        self._requests = 0
        self._retries = 0

    def __repr__(self) -> str:
        user = f", user_id={self._user_id!r}" if self._user_id else ""
        return f"<MeetergoClient base_url={self._base_url!r}{user} state={self._state.value}>"

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the client's counters."""
        return ClientStats(
            self._requests, self._limiter.rate_limited, self._retries, self._limiter.rate
        )

    @property
    def closed(self) -> bool:
        """Tell whether ``aclose`` was called."""
        return self._state is _State.CLOSED

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and the session it made (a borrowed one stays open); idempotent."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._owns_session and self._session is not None:
            await self._session.close()

    def _open(self) -> aiohttp.ClientSession:
        if self._state is _State.CLOSED:
            raise RuntimeError("this MeetergoClient is closed; make a new one")
        self._state = _State.OPEN
        if self._session is None:
            # The client's own session carries its fixed headers as defaults, so aiohttp
            # need not merge them into each request; a borrowed session is never changed.
            connector = aiohttp.TCPConnector(limit=self._max_concurrency)
            defaults = _http.request_headers(self._base_headers, self._user_id, has_body=False)
            self._session = aiohttp.ClientSession(connector=connector, headers=defaults)
        return self._session

    async def update_calendar_connection(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        *,
        owner_user_id: str | None = None,
        as_user: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
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

        Returns:
            The connection as the server described it; fields it did not send are ``None``.

        Raises:
            TypeError, ValueError: an invalid argument (nothing is sent).
            MeetergoError: the server refused, or no answer came (see ``errors``).
        """
        # Checked as UpdateRequest would, without building one (owner and user: in _call).
        check_text("connection_id", connection_id)
        check_update(update)
        connection, _ = await self._update(
            connection_id, update, owner_user_id, as_user, timeout=timeout, retry=retry
        )
        return connection

    async def list_calendar_connections(
        self,
        *,
        owner_user_id: str | None = None,
        as_user: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[CalendarConnection]:
        """List the calendar connections of a user (``GET .../connections``).

        Arguments are as for ``update_calendar_connection``. Entries that are not objects
        with a string ``id`` are skipped with a warning.
        """
        path = _http.CONNECTIONS_PATH
        result: list[CalendarConnection]
        result, _ = await self._call(
            LIST_CONNECTIONS,
            path,
            _parse_list,
            body=None,
            owner_user_id=owner_user_id,
            as_user=as_user,
            timeout=timeout,
            retry=retry,
        )
        return result

    async def update_calendar_connections(
        self,
        items: Iterable[BulkItem] | AsyncIterable[BulkItem],
        *,
        max_concurrency: int | None = None,
    ) -> list[UpdateResult]:
        """Update many connections; return exactly one ``UpdateResult`` per item, in input order.

        ``items`` holds ``UpdateRequest`` objects or ``(connection_id, update)`` pairs. A
        failing or invalid item never stops the others. See
        ``iter_update_calendar_connections`` for the details.
        """
        limit = self._max_concurrency if max_concurrency is None else max_concurrency
        check_count("max_concurrency", limit)
        return await run_bulk(items, self._update_one, limit)

    def iter_update_calendar_connections(
        self,
        items: Iterable[BulkItem] | AsyncIterable[BulkItem],
        *,
        max_concurrency: int | None = None,
    ) -> AsyncGenerator[UpdateResult, None]:
        """Yield one ``UpdateResult`` per item as each completes (``result.index`` is its place).

        The input, an iterable or async iterable, is read lazily: at most ``max_concurrency``
        items (default: the client's) are in flight, and no item is read before a slot is
        free. All items share the client's limiter and retry policy. An invalid item yields
        a result carrying its ``TypeError``/``ValueError`` and sends nothing. If you stop
        early, close the iterator (``contextlib.aclosing``) to cancel what is in flight.
        """
        limit = self._max_concurrency if max_concurrency is None else max_concurrency
        check_count("max_concurrency", limit)
        return iter_bulk(items, self._update_one, limit)

    def _update_one(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        owner_user_id: str | None,
        as_user: str | None,
    ) -> Awaitable[tuple[CalendarConnection, int]]:
        return self._update(connection_id, update, owner_user_id, as_user, timeout=None, retry=None)

    def _update(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        owner_user_id: str | None,
        as_user: str | None,
        *,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> Awaitable[tuple[CalendarConnection, int]]:
        # A plain function handing back the coroutine: one frame fewer on every await.
        path = _http.connection_path(connection_id)

        def parse(data: object) -> CalendarConnection:
            if data is not None and not isinstance(data, dict):
                log.warning("PATCH %s answered 2xx with a non-object body; kept the id", path)
            return parse_connection(data, connection_id)

        return self._call(
            UPDATE_CONNECTION,
            path,
            parse,
            body=encode_update(update),
            owner_user_id=owner_user_id,
            as_user=as_user,
            timeout=timeout,
            retry=retry,
        )

    async def _call(
        self,
        operation: Operation,
        path: str,
        parse: Callable[[object], Any],
        *,
        body: bytes | None,
        owner_user_id: str | None,
        as_user: str | None,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> tuple[Any, int]:
        """Send one logical request under the retry policy; return its result and attempts."""
        if owner_user_id is None:
            url = self._root.with_path(self._prefix + path, encoded=True)
        else:
            query = _http.query_string({"userId": check_text("owner_user_id", owner_user_id)})
            url = URL(self._base_url + path + query, encoded=True)
        policy = self._check_retry(retry)
        call = _Call(
            method=operation.method,
            path=path,
            url=url,
            headers=self._headers(self._acting_user(as_user), has_body=body is not None),
            body=body,
            timeout=self._check_timeout(timeout),
            deadline=policy.deadline,
            parse=parse,
        )
        session = self._open()
        try:
            # The first attempt runs bare: a call that succeeds at once builds no retry state.
            return await self._attempt(session, call), call.attempts
        except MeetergoError as error:
            first = error  # retried outside the except block, so errors do not chain to it
        started = self._clock() if call.first_sent_at is None else call.first_sent_at
        ctx = RetryContext(
            operation, path, policy, started, self._clock, self._sleep, self._on_retry,
            self._on_wait,
        )  # fmt: skip
        result = await retry_after_failure(first, partial(self._attempt, session, call), ctx)
        return result, call.attempts

    def _headers(self, user_id: str | None, *, has_body: bool) -> CIMultiDict[str] | None:
        """What a request adds to the session's headers (all of them for a borrowed one)."""
        if user_id != self._user_id:
            return CIMultiDict(self._request_headers(user_id, has_body))
        if has_body not in self._header_cache:  # built once for the client's own user
            headers = self._request_headers(user_id, has_body)
            self._header_cache[has_body] = CIMultiDict(headers) if headers else None
        return self._header_cache[has_body]

    def _request_headers(self, user_id: str | None, has_body: bool) -> dict[str, str]:
        if not self._owns_session:
            return _http.request_headers(self._base_headers, user_id, has_body=has_body)
        # Our session already sends the fixed headers and the client's own user.
        extra_user = None if user_id == self._user_id else user_id
        return _http.request_headers({}, extra_user, has_body=has_body)

    def _acting_user(self, as_user: str | None) -> str | None:
        if as_user is None:
            return self._user_id
        check_text("as_user", as_user)
        if self._is_pat:
            raise ValueError(
                "as_user cannot be used with a personal access token (rgo-...): it always "
                "acts as its owner and meetergo refuses it with 403"
            )
        return as_user

    def _check_retry(self, retry: RetryPolicy | None) -> RetryPolicy:
        if retry is None:
            return self._retry
        if not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        return retry

    def _check_timeout(self, timeout: float | None) -> float:
        if timeout is None:
            return self._timeout_seconds
        check_positive("timeout", timeout)
        return float(timeout)

    def _on_wait(self, error: MeetergoError, wait: float) -> None:
        self._retries += 1
        if isinstance(error, RateLimitError):
            self._limiter.pause(wait)

    async def _attempt(self, session: aiohttp.ClientSession, call: _Call) -> Any:
        # acquire/release rather than ``async with``: two coroutines fewer per request.
        await self._slots.acquire()
        try:
            ticket = self._limiter.try_acquire() or await self._limiter.acquire()
            if call.first_sent_at is None:
                call.first_sent_at = ticket.sent_at
            timeout = self._attempt_timeout(call)  # raises, unsent, if the deadline passed
            call.attempts += 1
            self._requests += 1
            try:
                async with session.request(
                    call.method,
                    call.url,
                    headers=call.headers,
                    data=call.body,
                    timeout=timeout,
                    allow_redirects=False,
                ) as response:
                    status, reason, headers = response.status, response.reason, response.headers
                    length = response.content_length
                    # Content-Length counts compressed bytes: a compressed body is measured
                    # as it is decoded, by ``_read_capped``.
                    if (
                        length is not None
                        and length <= self._max_response_bytes
                        and hdrs.CONTENT_ENCODING not in headers
                    ):
                        raw = await response.read()
                    else:
                        raw = await self._read_capped(response, call)
            except TimeoutError as exc:
                message = f"no complete answer within {timeout.total:g}s"
                raise call.failed(APITimeoutError(message)) from exc
            except aiohttp.ClientError as exc:
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                raise call.failed(APIConnectionError(message)) from exc
            finally:
                # Answered, failed or cancelled: the limiter's bucket may start refilling.
                self._limiter.on_attempt_done()
        finally:
            self._slots.release()
        if 200 <= status < 300:
            self._limiter.on_response(ticket, status, headers, None)
            return call.parse(self._decode_success(raw, call))
        error = _http.error_for_status(
            status,
            reason or "",
            dict(headers),
            raw,
            method=call.method,
            path=call.path,
            secrets=self._secrets,
        )
        self._limiter.on_response(ticket, status, headers, error.retry_after)
        raise call.failed(error)

    def _attempt_timeout(self, call: _Call) -> aiohttp.ClientTimeout:
        total = call.timeout
        if call.deadline is not None:
            assert call.first_sent_at is not None  # set by _attempt before it asks
            remaining = call.first_sent_at + call.deadline - self._clock()
            if remaining <= 0:
                raise call.failed(APITimeoutError("the call's deadline has passed"))
            total = min(total, remaining)
        if total == self._timeout_seconds:
            return self._timeout
        return aiohttp.ClientTimeout(total=total)

    async def _read_capped(self, response: aiohttp.ClientResponse, call: _Call) -> bytes:
        """Read a body of unknown or compressed size, never past ``max_response_bytes``.

        A body longer than that reads as empty.
        """
        cap = self._max_response_bytes
        length = response.content_length
        encoded = hdrs.CONTENT_ENCODING in response.headers
        size = 0
        chunks: list[bytes] = []
        if length is None or encoded:
            async for chunk in response.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > cap:
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        log.warning("%s %s: response body over %d bytes was not read", call.method, call.path, cap)
        return b""

    def _decode_success(self, raw: bytes, call: _Call) -> object:
        if not raw:
            return None
        ok, data = _http.decode_json(raw)
        if not ok:
            log.warning(
                "%s %s answered 2xx with a body that is not JSON; kept what is known",
                call.method,
                call.path,
            )
        return data


@attrs.define
class _Call:
    """One logical request and what its attempts have learned."""

    method: str
    path: str
    url: URL
    headers: CIMultiDict[str] | None
    body: bytes | None
    timeout: float
    deadline: float | None
    parse: Callable[[object], Any]
    first_sent_at: float | None = None
    attempts: int = 0

    def failed(self, error: MeetergoError) -> MeetergoError:
        """Stamp ``error`` with this call's method, path and attempt count."""
        error.method, error.path, error.attempts = self.method, self.path, self.attempts
        return error


def _parse_list(data: object) -> list[CalendarConnection]:
    items = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(items, list):
        log.warning("GET %s answered 2xx without a connections list", _http.CONNECTIONS_PATH)
        return []
    usable = [i for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
    if len(usable) != len(items):
        log.warning("skipped %d listed connections without a string id", len(items) - len(usable))
    return [parse_connection(item, item["id"]) for item in usable]
