"""``FakeMeetergo``, the sandbox users hold: its options, what a test reads and changes, lifecycle.

``FakeApp`` (``_app``) answers each request; ``Listener`` (``_listener``) serves it on a port.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

from meetergo_async._validate import check_strings
from meetergo_async.testing._app import FakeApp
from meetergo_async.testing._limits import Clock, FixedWindow, NestThrottler, TokenBucket
from meetergo_async.testing._listener import Listener
from meetergo_async.testing._options import (
    DEFAULT_FAIL_STATUSES,
    DEFAULT_RATE_LIMIT,
    build_faults,
    build_rate,
    build_timing,
    check_numbers,
)
from meetergo_async.testing._protocol import (
    DEFAULT_API_KEY,
    DEFAULT_PERSONAL_TOKEN,
    DEFAULT_USER_ID,
    Authenticator,
    RecordedRequest,
    make_script,
)
from meetergo_async.testing._store import Connection, ConnectionStore, copy_connection


class FakeMeetergo:
    """A local imitation of meetergo's calendar-connection API, for tests and benchmarks.

    Serves ``PATCH /v4/calendar-connections/connections/{id}`` and
    ``GET /v4/calendar-connections/connections`` on ``host:port`` (an ephemeral port on
    127.0.0.1 by default). Each request goes through these steps, in this order:

    1. it is recorded (``requests``, token redacted);
    2. a scripted answer queued with ``enqueue`` is taken, if one matches; otherwise one
       number is drawn from ``random.Random(seed)`` to decide its fault, if any fault rate
       is set;
    3. ``latency`` seconds pass;
    4. a scripted answer is sent as is; a ``fail_rate`` fault answers its 5xx;
    5. an unknown route answers 404 ``Cannot <METHOD> <path>``;
    6. authentication: 401, 400 (API key without ``x-meetergo-api-user-id``) or 403;
    7. the credential's rate limit counts the request: 429 beyond it (never applied);
    8. a ``userId`` query naming an unknown user answers 403;
    9. a PATCH body is validated (400), its connection looked up (404), then applied; a
       drop fault cuts the connection before or after applying it.

    Steps 7 to 9 carry the rate-limit headers. Personal access tokens act as the first
    of ``user_ids``; all users share one set of connections.

    Args:
        connections: mappings seeding the store, camelCase like the API's JSON; each needs an
            ``id`` or gets ``conn-NNNN``; missing fields get defaults.
        generate: how many connections ``conn-0000``, ``conn-0001``, ... to add after them.
        host: the address to bind.
        port: the port; 0 picks a free one.
        api_keys: accepted platform API keys.
        expired_api_keys: keys answered with 401 "API key has expired".
        personal_tokens: accepted personal access tokens.
        user_ids: the known users (at least one).
        rate_limit: the limit per credential: a ``NestThrottler`` (the default, meetergo's
            100 in any 60 s, counted as its server counts), a ``TokenBucket`` or a
            ``FixedWindow``; ``None`` for none.
        rate_limit_headers: send ``X-RateLimit-Limit``/``-Remaining``/``-Reset``. ``None``
            (the default) sends them for a ``NestThrottler`` and a ``FixedWindow``, and not
            for a ``TokenBucket``, which has no window to describe. ``False`` with a
            ``NestThrottler`` sends no rate-limit header at all, ``Retry-After`` included
            (NestJS's ``setHeaders: false``).
        retry_after_header: send ``Retry-After`` (whole seconds, at least 1) on a 429.
        header_suffix: appended to those header names, e.g. ``"-short"`` for a NestJS
            throttler named ``short``.
        rate_limit_status: a refusal's status: 429, or 503 as a gateway's limiter answers.
        seed: seeds the one random generator behind every fault; ``None`` seeds from the OS.
        fail_rate: fraction of requests answered with a status from ``fail_statuses``.
        fail_statuses: the statuses ``fail_rate`` draws from, each equally likely.
        drop_before_rate: fraction of PATCHes cut before their update is applied.
        drop_after_rate: fraction of PATCHes cut after their update was applied.
        latency: seconds every request waits before it is answered.
        count_jitter: the most seconds a request then waits before the rate limit counts
            it, drawn per request from the seed: requests sent close together on several
            connections are counted in another order than they were sent, as a busy
            server is seen to count them (see docs/testing.md).
        clock: the monotonic clock of the rate limiters.
        wall_clock: epoch seconds for ``updatedAt`` (``time.time``).
        record_requests: keep ``requests``; switch off for long soak runs.
        shutdown_timeout: seconds ``close`` lets in-flight requests finish; 0 cancels them.

    Raises:
        ValueError, TypeError: an option is out of range or of the wrong type.
    """

    def __init__(
        self,
        connections: Iterable[Mapping[str, Any]] | None = None,
        *,
        generate: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        expired_api_keys: Iterable[str] = (),
        personal_tokens: Iterable[str] = (DEFAULT_PERSONAL_TOKEN,),
        user_ids: Iterable[str] = (DEFAULT_USER_ID,),
        rate_limit: NestThrottler | TokenBucket | FixedWindow | None = DEFAULT_RATE_LIMIT,
        rate_limit_headers: bool | None = None,
        retry_after_header: bool = True,
        header_suffix: str = "",
        rate_limit_status: int = 429,
        seed: int | None = 0,
        fail_rate: float = 0.0,
        fail_statuses: Sequence[int] = DEFAULT_FAIL_STATUSES,
        drop_before_rate: float = 0.0,
        drop_after_rate: float = 0.0,
        latency: float = 0.0,
        count_jitter: float = 0.0,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        record_requests: bool = True,
        shutdown_timeout: float = 1.0,
    ) -> None:
        check_numbers(generate=generate, port=port, shutdown=shutdown_timeout)
        self._api_keys = check_strings("api_keys", api_keys)
        self._personal_tokens = check_strings("personal_tokens", personal_tokens)
        self._user_ids = check_strings("user_ids", user_ids)
        expired = check_strings("expired_api_keys", expired_api_keys)
        auth = Authenticator(self._api_keys, expired, self._personal_tokens, self._user_ids)
        rate = build_rate(
            rate_limit,
            clock,
            rate_limit_headers,
            retry_after_header,
            header_suffix,
            rate_limit_status,
        )
        faults = build_faults(seed, fail_rate, fail_statuses, drop_before_rate, drop_after_rate)
        timing = build_timing(seed, latency, count_jitter)
        store = ConnectionStore.seeded(wall_clock, connections or (), generate)
        self._app = FakeApp(store, auth, rate, faults, timing, record=record_requests)
        self._listener = Listener(self._app, host, port, shutdown_timeout)

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` without a trailing slash.

        Raises:
            RuntimeError: the server was never started.
        """
        return self._listener.url

    @property
    def port(self) -> int | None:
        """The bound port once started, else ``None``."""
        return self._listener.bound_port

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._listener.running

    @property
    def api_key(self) -> str:
        """The first accepted API key (``DEFAULT_API_KEY`` by default).

        Raises:
            RuntimeError: ``api_keys`` was empty.
        """
        if not self._api_keys:
            raise RuntimeError("this FakeMeetergo accepts no API key")
        return self._api_keys[0]

    @property
    def personal_token(self) -> str:
        """The first accepted personal access token (``DEFAULT_PERSONAL_TOKEN`` by default).

        Raises:
            RuntimeError: ``personal_tokens`` was empty.
        """
        if not self._personal_tokens:
            raise RuntimeError("this FakeMeetergo accepts no personal access token")
        return self._personal_tokens[0]

    @property
    def user_id(self) -> str:
        """The first known user (``DEFAULT_USER_ID`` by default); personal tokens act as it."""
        return self._user_ids[0]

    @property
    def connections(self) -> dict[str, Connection]:
        """A copy of the store: connection id -> the connection's camelCase JSON object."""
        return {cid: copy_connection(conn) for cid, conn in self._app.store.items.items()}

    @property
    def requests(self) -> list[RecordedRequest]:
        """The recorded requests in arrival order (the live list; copy it for a snapshot)."""
        return self._app.requests

    @property
    def status_counts(self) -> Counter[int]:
        """How many responses had each status; a cut connection counts under ``DROPPED`` (0)."""
        return self._app.status_counts

    @property
    def update_counts(self) -> Counter[str]:
        """Connection id -> how many PATCHes were applied to it (dropped-after ones too)."""
        return self._app.update_counts

    @property
    def pending_scripts(self) -> int:
        """How many answers queued with ``enqueue`` are still waiting for their request."""
        return len(self._app.scripts)

    def add_connection(self, id: str | None = None, **fields: Any) -> Connection:
        """Store a connection and return a copy of it.

        ``fields`` are camelCase JSON fields (``provider="google"``, ``selectedCalendars=[...]``);
        the ones left out get defaults. Without ``id`` the next free ``conn-NNNN`` is used.

        Raises:
            ValueError: a connection with that id exists. TypeError: the id is not a str.
        """
        return copy_connection(self._app.store.add(id, fields))

    def enqueue(
        self,
        method: str,
        path: str,
        status: int = 200,
        *,
        json: Any = None,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        drop: bool = False,
    ) -> None:
        """Queue a scripted answer for the next request matching ``method`` and ``path``.

        ``path`` is the percent-decoded path without query (the connection id ``a/b`` gives
        ``/v4/calendar-connections/connections/a/b``); ``"*"`` matches any path, and a
        method of ``"*"`` any method. Scripts are taken first-in first-out, one per matching
        request, before authentication, rate limiting and fault injection, and they count
        against no budget. Without ``json`` or ``body``, an error status gets meetergo's
        error body. ``drop=True`` closes the connection without an answer.

        Raises:
            ValueError: both ``json`` and ``body`` are given, or ``status`` is not 100..599.
        """
        script = make_script(method, path, status, (json, body), headers, drop)
        self._app.scripts.append(script)

    def reset_records(self) -> None:
        """Forget recorded requests, status counts and update counts (the store stays)."""
        self._app.requests.clear()
        self._app.status_counts.clear()
        self._app.update_counts.clear()

    async def start(self) -> None:
        """Bind the port and start serving.

        Started again after ``close``, it binds the same port and keeps its state: a restart.

        Raises:
            RuntimeError: it is already running. OSError: the port cannot be bound.
        """
        await self._listener.start()

    async def close(self) -> None:
        """Stop serving and release every connection; calling it again does nothing.

        In-flight requests get ``shutdown_timeout`` seconds to finish, then are cancelled.
        """
        await self._listener.close()

    async def serve_forever(self) -> None:
        """Serve until the calling task is cancelled, starting first if needed; then close."""
        if not self._listener.running:
            await self.start()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            await self.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = self.url if self._listener.bound_port is not None else "not started"
        return f"<FakeMeetergo {where} connections={len(self._app.store.items)}>"
