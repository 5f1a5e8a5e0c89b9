"""``MockTransport``: answer a client's requests from a function, without a socket.

Give it to ``MeetergoClient(transport=...)`` and every attempt the client makes goes to the
handler instead of the network, as httpx's ``MockTransport`` does::

    def handler(request: Request) -> Response:
        return json_response({"id": "conn-1", "validateAvailability": True})

    async with MeetergoClient(api_key=..., user_id=..., transport=MockTransport(handler)):
        ...

Pacing, retries, outages and errors all run as with a real server: the handler sees one
``Request`` per attempt (with every header the client sends), and answers with a
``Response``, or raises ``APIConnectionError`` (or ``APITimeoutError``) for an attempt that
gets no answer.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, TypeAlias

from meetergo_async._transport import Request, Response

__all__ = ["Handler", "MockTransport", "error_response", "json_response"]

Handler: TypeAlias = Callable[[Request], Response | Awaitable[Response]]
"""A function (or coroutine function) that answers one attempt."""

_JSON = {"Content-Type": "application/json; charset=utf-8"}


def json_response(
    data: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
) -> Response:
    """A response whose body is ``data`` as JSON."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status, {**_JSON, **(headers or {})}, body, HTTPStatus(status).phrase)


def error_response(
    status: int,
    message: str | list[str] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """meetergo's (NestJS's) error answer: ``{"statusCode", "message", "error"}``."""
    phrase = HTTPStatus(status).phrase
    data = {"statusCode": status, "message": phrase if message is None else message}
    return json_response({**data, "error": phrase}, status, headers=headers)


class MockTransport:
    """A transport that answers each attempt with ``handler(request)``.

    Attributes:
        requests: every request sent, in order.
        closed: whether the client closed the transport.

    Raises:
        TypeError: ``handler`` is not callable (when made), or returned no ``Response``.
    """

    def __init__(self, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be a function, got {type(handler).__name__}")
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        """Record ``request`` and return the handler's answer."""
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if not isinstance(answer, Response):
            kind = type(answer).__name__
            raise TypeError(f"a MockTransport handler must return a Response, got {kind}")
        return answer

    async def aclose(self) -> None:
        """Note that the client closed."""
        self.closed = True

    def __repr__(self) -> str:
        return f"<MockTransport requests={len(self.requests)} closed={self.closed}>"
