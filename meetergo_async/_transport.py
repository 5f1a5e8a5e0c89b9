"""The only module that calls aiohttp to send a request: one attempt in, one answer out.

``Transport.send`` sends one attempt and returns its ``Answer`` (status, reason, headers,
a body never read past the cap), whatever the status; an attempt that gets no answer
raises ``APIConnectionError`` or ``APITimeoutError`` with the aiohttp exception as
``__cause__``. Retries, pacing and turning statuses into errors happen above it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, NamedTuple

import aiohttp
from aiohttp import hdrs
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _http
from ._config import ClientSettings
from ._failures import no_answer

__all__ = ["Answer", "Transport"]

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024


class Answer(NamedTuple):
    """What the server answered to one attempt."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    body: bytes


class Transport:
    """Sends attempts over one aiohttp session: the client's own, or a borrowed one.

    The session the transport makes carries the fixed headers (credential, User-Agent, the
    default acting user) and the proxy as its defaults, so aiohttp need not merge them into
    each request; a borrowed session is never changed, so every request carries all of its
    headers.

    Args:
        session: an ``aiohttp.ClientSession`` to borrow, or ``None`` to make one on ``open``.
        settings: the client's settings: the API host (checked), which every path is joined
            onto; the credential; the default acting user; the pool's size and the proxy
            (of a session of our own); the cap of a body.
    """

    def __init__(self, session: aiohttp.ClientSession | None, settings: ClientSettings) -> None:
        self._session = session
        self.owns_session = session is None
        self._base_url = base_url = settings.base_url
        # Joined onto per request; a request with no query reuses the parsed host.
        self._root = URL(base_url, encoded=True)
        self._prefix = self._root.raw_path.rstrip("/")
        self._base_headers = _http.base_headers(settings.api_key)
        self._user_id = settings.user_id
        self._max_connections = settings.max_concurrency
        self._max_response_bytes = settings.max_response_bytes
        self._header_cache: dict[bool, CIMultiDict[str] | None] = {}
        self._proxy, self._trust_env = settings.proxy, settings.trust_env

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use, once there is one."""
        return self._session

    def open(self) -> None:
        """Make the session, unless there is one already."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            defaults = _http.request_headers(self._base_headers, self._user_id, has_body=False)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=defaults, proxy=self._session_proxy()
            )

    def _session_proxy(self) -> URL | None:
        """The proxy of our session: ``proxy``, else the environment's for the API host.

        aiohttp's own ``trust_env`` would look ``HTTP(S)_PROXY``/``NO_PROXY`` up in a thread
        on every request, and ``.netrc`` for the API host too, whose password would clash
        with the key. The client talks to one host, so it asks once, with aiohttp's own
        lookup (which takes the proxy's credentials from its URL or from ``.netrc``).
        """
        if self._proxy is not None:
            return URL(self._proxy)
        if not self._trust_env:
            return None
        try:
            proxy, auth = get_env_proxy_for_url(self._root)
        except LookupError:  # no proxy for this host, or NO_PROXY names it
            return None
        return proxy if auth is None else proxy.with_user(auth.login).with_password(auth.password)

    async def aclose(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Close the session if the transport made it; a borrowed one stays open.

        ``loop`` is the event loop the session was made in. From another loop, the work is
        handed to that loop while it runs; once it is closed, the connections it left are
        closed here.
        """
        session = self._own_open_session()
        if session is None:
            return
        if loop is None or loop is asyncio.get_running_loop():
            await session.close()
        elif loop.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(session.close(), loop))
        elif loop.is_closed():
            _close_orphaned_sockets(session)
            await session.close()  # with its loop closed, aiohttp only forgets the pool
        else:  # a stopped loop: the session closes when it runs again
            asyncio.run_coroutine_threadsafe(session.close(), loop)

    def abandon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the session of a client that was never closed, at once and without a word.

        The client has warned already; aiohttp's own warnings about the session, its
        connector and its sockets would only repeat it, without naming the client. ``loop``
        is the session's event loop; one running in another thread is handed the closing.
        """
        session = self._own_open_session()
        if session is None:
            return
        if loop.is_running() and not _runs_here(loop):
            asyncio.run_coroutine_threadsafe(session.close(), loop)
            return
        if loop.is_closed():
            _close_orphaned_sockets(session)
        # Closing marks the pool closed at once; the sockets finish closing in their loop.
        _finish_at_once(session.close())

    def _own_open_session(self) -> aiohttp.ClientSession | None:
        session = self._session
        return session if self.owns_session and session is not None and not session.closed else None

    def url(self, path: str, owner_user_id: str | None) -> URL:
        """The URL of ``path`` (already encoded), with ``userId`` in the query when given."""
        if owner_user_id is None:
            return self._root.with_path(self._prefix + path, encoded=True)
        query = _http.query_string({"userId": owner_user_id})
        return URL(self._base_url + path + query, encoded=True)

    def headers(self, user_id: str | None, *, has_body: bool) -> CIMultiDict[str] | None:
        """The headers a request adds to the session's own (all of them for a borrowed one)."""
        if user_id != self._user_id:
            return CIMultiDict(self._request_headers(user_id, has_body))
        if has_body not in self._header_cache:  # built once for the default user
            headers = self._request_headers(user_id, has_body)
            self._header_cache[has_body] = CIMultiDict(headers) if headers else None
        return self._header_cache[has_body]

    def _request_headers(self, user_id: str | None, has_body: bool) -> dict[str, str]:
        if not self.owns_session:
            return _http.request_headers(self._base_headers, user_id, has_body=has_body)
        # Our session already sends the fixed headers and the default user.
        extra_user = None if user_id == self._user_id else user_id
        return _http.request_headers({}, extra_user, has_body=has_body)

    async def send(
        self,
        method: str,
        url: URL,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> Answer:
        """Send one attempt and read its answer.

        Raises:
            APITimeoutError: no complete answer within ``timeout``.
            APITLSError: the TLS handshake or the certificate failed.
            APIConnectionError: the connection failed or broke before the answer was read.
        """
        session = self._session
        assert session is not None  # opened by the client before any attempt
        try:
            async with session.request(
                method, url, headers=headers, data=body, timeout=timeout, allow_redirects=False
            ) as response:
                if self._known_to_fit(response):  # the usual answer: no coroutine of our own
                    raw = await response.read()
                else:
                    raw = await self._read_measured(response, method, url)
                return Answer(response.status, response.reason or "", response.headers, raw)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise no_answer(exc, url.host, url.port, timeout.total) from exc

    def _known_to_fit(self, response: aiohttp.ClientResponse) -> bool:
        """Whether ``Content-Length`` says the body is within ``max_response_bytes``.

        It counts compressed bytes, so a compressed body has to be measured as it is decoded.
        """
        length = response.content_length
        return (
            length is not None
            and length <= self._max_response_bytes
            and hdrs.CONTENT_ENCODING not in response.headers
        )

    async def _read_measured(
        self, response: aiohttp.ClientResponse, method: str, url: URL
    ) -> bytes:
        """Read a body not known to fit, never past ``max_response_bytes``.

        A longer one reads as empty: one of a known length at once, others (compressed, or
        of unknown length) once decoding has passed the limit.
        """
        cap = self._max_response_bytes
        if response.content_length is None or hdrs.CONTENT_ENCODING in response.headers:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > cap:
                    break
                chunks.append(chunk)
            else:
                return b"".join(chunks)
        log.warning("%s %s: response body over %d bytes was not read", method, url.path, cap)
        return b""


def _close_orphaned_sockets(session: aiohttp.ClientSession) -> None:
    """Close the pooled sockets of a session whose event loop is closed.

    Neither aiohttp nor asyncio can any more: closing a transport schedules its last step
    on its loop, and each socket left open warns when it is collected. The pool and the
    socket are private attributes, read defensively: should aiohttp or asyncio rename
    them, only that warning comes back (tests/test_lifecycle.py would see it).
    """
    pool = getattr(session.connector, "_conns", None)
    for entries in pool.values() if isinstance(pool, dict) else ():
        for protocol, *_ in entries:
            transport = getattr(protocol, "transport", None)
            sock = getattr(transport, "_sock", None)
            if sock is not None:
                sock.close()
                transport._sock = None  # type: ignore[union-attr]  # asyncio's own last step


def _runs_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _finish_at_once(closing: Coroutine[Any, Any, None]) -> None:
    """Run ``closing`` up to its first wait, here and now, and leave the rest to its loop.

    Used where nothing may be awaited (``__del__``). ``ClientSession.close`` does all its
    work before it first waits: the pool is closed and the sockets are told to close;
    what is left is waiting for them, which their own loop finishes.
    """
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()
