"""The only module that calls aiohttp to send a request: one attempt in, one answer out.

``Transport.send`` sends one attempt and returns its ``Answer`` (status, reason, headers,
a body never read past the cap), whatever the status; an attempt that gets no answer
raises ``APIConnectionError`` or ``APITimeoutError`` with the aiohttp exception as
``__cause__``. Retries, pacing and turning statuses into errors happen above it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _http
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
    default acting user) as its defaults, so aiohttp need not merge them into each request;
    a borrowed session is never changed, so every request carries all of its headers.

    Args:
        session: an ``aiohttp.ClientSession`` to borrow, or ``None`` to make one on ``open``.
        base_url: the API host (checked), which every path is joined onto.
        api_key: the credential of every request.
        user_id: the default acting user, or ``None``.
        max_connections: the connection pool's size (a session of our own).
        max_response_bytes: a body is never read past this size.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        *,
        base_url: str,
        api_key: str,
        user_id: str | None,
        max_connections: int,
        max_response_bytes: int,
    ) -> None:
        self._session = session
        self.owns_session = session is None
        self._base_url = base_url
        # Joined onto per request; a request with no query reuses the parsed host.
        self._root = URL(base_url, encoded=True)
        self._prefix = self._root.raw_path.rstrip("/")
        self._base_headers = _http.base_headers(api_key)
        self._user_id = user_id
        self._max_connections = max_connections
        self._max_response_bytes = max_response_bytes
        self._header_cache: dict[bool, CIMultiDict[str] | None] = {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session in use, once there is one."""
        return self._session

    def open(self) -> None:
        """Make the session, unless there is one already."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections)
            defaults = _http.request_headers(self._base_headers, self._user_id, has_body=False)
            self._session = aiohttp.ClientSession(connector=connector, headers=defaults)

    async def aclose(self) -> None:
        """Close the session if the transport made it; a borrowed one stays open."""
        if self.owns_session and self._session is not None:
            await self._session.close()

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
                raw = await self._read(response, method, url)
                return Answer(response.status, response.reason or "", response.headers, raw)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise no_answer(exc, url.host, url.port, timeout.total) from exc

    async def _read(self, response: aiohttp.ClientResponse, method: str, url: URL) -> bytes:
        """Read the body, never past ``max_response_bytes``; a longer one reads as empty.

        ``Content-Length`` counts compressed bytes, so a compressed body (or one of unknown
        length) is measured as it is decoded.
        """
        cap = self._max_response_bytes
        length = response.content_length
        encoded = hdrs.CONTENT_ENCODING in response.headers
        if length is not None and not encoded:
            if length <= cap:
                return await response.read()
        else:
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
