"""The client's own transport: attempts sent over one aiohttp session, its own or a borrowed one.

The only module that calls aiohttp to send a request. ``AiohttpTransport.send`` sends one
attempt and returns its ``Response`` (the body never read past the cap), whatever the
status; an attempt that gets no answer raises ``APIConnectionError`` or ``APITimeoutError``
with the aiohttp exception as ``__cause__`` (``_failures`` words it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any, Final

import aiohttp
from aiohttp import hdrs
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDict
from yarl import URL

from ._failures import no_answer
from ._protocol import Request, Response

__all__ = ["AiohttpTransport"]

log = logging.getLogger(__name__)

_CHUNK: Final = 64 * 1024
_MAX_CACHED_HEADERS: Final = 64


class AiohttpTransport:
    """Sends attempts over one aiohttp session: its own, made on first use, or a borrowed one.

    The session it makes carries ``default_headers`` (credential, User-Agent, the default
    acting user) and the proxy as its defaults, so each request passes aiohttp only the
    headers that differ; a borrowed session is never changed (nor closed), so every request
    carries all of its headers.

    Args:
        session: an ``aiohttp.ClientSession`` to borrow, or ``None`` to make one.
        default_headers: the headers nearly every request carries.
        host_url: the API's URL, to look its proxy up in the environment.
        max_connections: the pool's size (of a session of our own).
        max_response_bytes: a body is never read past this many bytes.
        proxy: the proxy URL of a session of our own, or ``None``.
        trust_env: without ``proxy``, take it from ``HTTP(S)_PROXY``/``NO_PROXY``.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        default_headers: Mapping[str, str],
        host_url: str,
        max_connections: int,
        max_response_bytes: int,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        self._session = session
        self.owns_session = session is None
        self._defaults = CIMultiDict(default_headers)
        self._host = URL(host_url)
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._proxy = proxy
        self._trust_env = trust_env
        self._loop: asyncio.AbstractEventLoop | None = None
        # What each headers object adds to the session's own, by identity (the object is
        # held, so its identity is not reused): the client reuses one object per kind.
        self._extras: dict[int, tuple[Mapping[str, str], CIMultiDict[str] | None]] = {}
        self._timeout = aiohttp.ClientTimeout(total=None)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use, once there is one."""
        return self._session

    def open(self) -> None:
        """Make the session in the running event loop, unless there is one already."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._defaults, proxy=self._session_proxy()
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
            proxy, auth = get_env_proxy_for_url(self._host)
        except LookupError:  # no proxy for this host, or NO_PROXY names it
            return None
        return proxy if auth is None else proxy.with_user(auth.login).with_password(auth.password)

    async def aclose(self) -> None:
        """Close the session if the transport made it; a borrowed one stays open.

        From another event loop than the session's, the work is handed to that loop while it
        runs; once it is closed, the connections it left are closed here.
        """
        session = self._own_open_session()
        if session is None:
            return
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            await session.close()
        elif loop.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(session.close(), loop))
        elif loop.is_closed():
            _close_orphaned_sockets(session)
            await session.close()  # with its loop closed, aiohttp only forgets the pool
        else:  # a stopped loop: the session closes when it runs again
            asyncio.run_coroutine_threadsafe(session.close(), loop)

    def abandon(self) -> None:
        """Close the session of a client that was never closed, at once and without a word.

        The client has warned already; aiohttp's own warnings about the session, its
        connector and its sockets would only repeat it, without naming the client. A session
        whose loop runs in another thread is handed to it to close.
        """
        session = self._own_open_session()
        loop = self._loop
        if session is None or loop is None:
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

    def _added_headers(self, headers: Mapping[str, str]) -> Mapping[str, str] | None:
        """What ``headers`` adds to the session's own defaults (all of it for a borrowed one)."""
        if not self.owns_session:
            return headers
        cached = self._extras.get(id(headers))
        if cached is not None and cached[0] is headers:
            return cached[1]
        defaults = self._defaults
        extra = CIMultiDict((k, v) for k, v in headers.items() if defaults.get(k) != v)
        added = extra or None
        if len(self._extras) >= _MAX_CACHED_HEADERS:
            self._extras.clear()
        self._extras[id(headers)] = (headers, added)
        return added

    def _client_timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        if self._timeout.total != seconds:  # nearly always the same: one kept
            self._timeout = aiohttp.ClientTimeout(total=seconds)
        return self._timeout

    async def send(self, request: Request) -> Response:
        """Send one attempt and read its answer.

        Raises:
            APITimeoutError: no complete answer within the request's timeout.
            APITLSError: the TLS handshake or the certificate failed.
            APIConnectionError: the connection failed or broke before the answer was read.
        """
        if self._session is None:
            self.open()
        session = self._session
        assert session is not None
        url = request.url
        try:
            async with session.request(
                request.method,
                url,
                headers=self._added_headers(request.headers),
                data=request.body,
                timeout=self._client_timeout(request.timeout),
                allow_redirects=False,
            ) as response:
                if self._known_to_fit(response):  # the usual answer: no coroutine of our own
                    raw = await response.read()
                else:
                    raw = await self._read_measured(response, request.method, url)
                return Response(response.status, response.headers, raw, response.reason or "")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise no_answer(exc, url.host, url.port, request.timeout) from exc

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
