"""The seam between a client and the network: one attempt in (``Request``), one answer out.

A ``Transport`` sends one attempt and returns the server's ``Response``, whatever its
status; an attempt that gets no answer raises ``APIConnectionError`` (or ``APITimeoutError``).
Retries, pacing and turning statuses into errors happen above it, so a transport is small:
the client's own sends over aiohttp (``_aiohttp``), and
``meetergo_async.testing.MockTransport`` answers from a function, for tests without sockets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, runtime_checkable

from yarl import URL

__all__ = ["Request", "Response", "Transport"]


class Request(NamedTuple):
    """One attempt of a call, as a transport sends it.

    Attributes:
        method: the HTTP method.
        url: the whole URL (a ``yarl.URL``; the connection id percent-encoded as one path
            segment): ``str(request.url)``, ``request.url.path``, ``request.url.query``.
        headers: every header of the attempt: the credential, the acting user, the types;
            looked up case-insensitively.
        body: the JSON body, or ``None``.
        timeout: seconds the attempt may take, from sending to the end of the answer.
    """

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None
    timeout: float

    def json(self) -> Any:
        """The body decoded as JSON (``None`` without a body)."""
        return None if self.body is None else json.loads(self.body)


class Response(NamedTuple):
    """What the server answered to one attempt.

    Attributes:
        status: the HTTP status.
        headers: the response headers (any mapping; names are matched case-insensitively).
        body: the body as received (``b""`` when empty).
        reason: the reason phrase.
    """

    status: int
    headers: Mapping[str, str] = MappingProxyType({})
    body: bytes = b""
    reason: str = ""


@runtime_checkable
class Transport(Protocol):
    """Sends the attempts of one client (``MeetergoClient(transport=...)``).

    The client closes its transport when it closes.
    """

    async def send(self, request: Request) -> Response:
        """Send one attempt and return its answer, whatever the status.

        Raises:
            APIConnectionError: no answer came (``APITimeoutError`` when ``timeout`` ran out).
        """
        ...

    async def aclose(self) -> None:
        """Release what the transport holds (connections)."""
        ...
