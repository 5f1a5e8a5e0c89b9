"""The fake server's protocol rules as plain functions: routes, credentials, error bodies, records.

Nothing here touches aiohttp, so each rule is tested with values alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from http import HTTPStatus
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

DEFAULT_API_KEY: Final = "ak_live:5f0c8a3e-2b7d-4e91-a6c4-0d9e8f7a6b5c:sandbox-secret"
"""The platform API key a ``FakeMeetergo`` accepts unless told otherwise (sandbox only)."""
DEFAULT_PERSONAL_TOKEN: Final = "rgo-" + "0123456789abcdef" * 2
"""The personal access token (``rgo-`` + 32 characters) a ``FakeMeetergo`` accepts."""
DEFAULT_USER_ID: Final = "8b1d6f2a-4c3e-4a5b-9d7c-1e2f3a4b5c6d"
"""The user a ``FakeMeetergo`` knows unless told otherwise."""
DROPPED: Final = 0
"""The ``status_counts`` key (and ``RecordedRequest.status``) of a connection cut unanswered."""

USER_HEADER: Final = "x-meetergo-api-user-id"
CONNECTIONS_PATH: Final = "/v4/calendar-connections/connections"
_ITEM_PREFIX: Final = CONNECTIONS_PATH + "/"

MISSING_USER_HEADER: Final = (
    "Missing required header 'x-meetergo-api-user-id' for API key authentication"
)
EXPIRED_KEY: Final = "API key has expired"
FORBIDDEN: Final = "Forbidden resource"
CONNECTION_NOT_FOUND: Final = "Connection not found"
JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json; charset=utf-8"}

_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_json(value: object) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON."""
    return _ENCODER.encode(value).encode()


@lru_cache(maxsize=128)
def _cached_error_body(status: int, message: str) -> bytes:
    phrase = HTTPStatus(status).phrase
    return encode_json({"statusCode": status, "message": message, "error": phrase})


def error_body(status: int, message: str | list[str] | None = None) -> bytes:
    """Return NestJS's error body for ``status``; ``message`` defaults to the reason phrase."""
    if message is None:
        message = HTTPStatus(status).phrase
    if isinstance(message, str):
        return _cached_error_body(status, message)
    phrase = HTTPStatus(status).phrase
    return encode_json({"statusCode": status, "message": message, "error": phrase})


class Route(NamedTuple):
    """A matched route: ``connection_id`` is ``None`` for the list, the decoded id for a PATCH."""

    connection_id: str | None


LIST_ROUTE: Final = Route(None)


def match_route(method: str, raw_path: str) -> Route | None:
    """Match ``method`` and a raw path without query; ``None`` means NestJS's "Cannot X /y".

    The id is taken from the raw path and decoded on its own, so ``a%2Fb`` is the id ``a/b``
    while ``a/b`` is two segments and matches nothing.
    """
    if method == "GET":
        if raw_path in (CONNECTIONS_PATH, _ITEM_PREFIX):
            return LIST_ROUTE
        return None
    if method != "PATCH" or not raw_path.startswith(_ITEM_PREFIX):
        return None
    segment = raw_path[len(_ITEM_PREFIX) :]
    if not segment or "/" in segment:
        return None
    return Route(unquote(segment))


class Principal(NamedTuple):
    """Who a request acts as: the credential (its rate-limit key) and the user."""

    token: str
    user_id: str


class Refusal(NamedTuple):
    """Why authentication failed: the status and the message of the error body."""

    status: int
    message: str


class Authenticator:
    """Applies meetergo's credential rules to the ``Authorization`` and user-id headers.

    Personal access tokens act as the first known user.
    """

    __slots__ = ("_api_keys", "_expired", "_tokens", "_user_ids", "owner")

    def __init__(
        self,
        api_keys: Iterable[str],
        expired_api_keys: Iterable[str],
        personal_tokens: Iterable[str],
        user_ids: Sequence[str],
    ) -> None:
        self._api_keys = frozenset(api_keys)
        self._expired = frozenset(expired_api_keys)
        self._tokens = frozenset(personal_tokens)
        self._user_ids = frozenset(user_ids)
        if not user_ids:
            raise ValueError("user_ids must name at least one user")
        self.owner = user_ids[0]

    def knows_user(self, user_id: str) -> bool:
        """Tell whether ``user_id`` is one of the known users."""
        return user_id in self._user_ids

    def check(self, authorization: str | None, user_header: str | None) -> Principal | Refusal:
        """Return who the request acts as, or why it is refused (401, 400 or 403)."""
        if authorization is None:
            return Refusal(401, "Unauthorized")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return Refusal(401, "Unauthorized")
        if token in self._api_keys:
            if user_header is None:
                return Refusal(400, MISSING_USER_HEADER)
            if user_header not in self._user_ids:
                return Refusal(403, FORBIDDEN)
            return Principal(token, user_header)
        if token in self._tokens:
            if user_header is not None:
                return Refusal(403, FORBIDDEN)
            return Principal(token, self.owner)
        if token in self._expired:
            return Refusal(401, EXPIRED_KEY)
        return Refusal(401, "Unauthorized")


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Copy request headers with the ``Authorization`` credential replaced by ``***``."""
    return {
        name: _redact(value) if name.lower() == "authorization" else value
        for name, value in headers
    }


def _redact(value: str) -> str:
    scheme, space, _ = value.partition(" ")
    return f"{scheme} ***" if space else "***"


def parse_body(body: bytes) -> tuple[object, str | None]:
    """Parse a request body: ``(value, None)``, or ``(None, message)`` if it is not JSON.

    An empty body parses as ``{}``, as Express's JSON parser leaves it.
    """
    if not body:
        return {}, None
    try:
        return json.loads(body), None
    except json.JSONDecodeError as exc:
        return None, f"Unexpected token in JSON at position {exc.pos}"
    except ValueError:
        return None, "Request body is not valid UTF-8 JSON"


@dataclass(slots=True)
class RecordedRequest:
    """One request the fake received, as the test sees it afterwards.

    Attributes:
        method: the HTTP method, upper case.
        path: the percent-decoded path, without the query.
        raw_path: the request target exactly as sent, query included.
        query: the decoded query parameters (the first value of a repeated name).
        headers: the request headers; ``Authorization`` is redacted to ``Bearer ***``.
        connection_id: the decoded id of a PATCH route, else ``None``.
        body: the raw request body.
        json: the parsed body, or ``None`` when it was empty or not JSON.
        status: the status answered, ``DROPPED`` (0) if the connection was cut, ``None``
            while the request is in flight.
    """

    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    connection_id: str | None = None
    body: bytes = b""
    json: Any = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """One scripted answer queued with ``FakeMeetergo.enqueue``."""

    method: str
    path: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    drop: bool

    def matches(self, method: str, path: str) -> bool:
        """Tell whether this script answers ``method`` on the decoded ``path``."""
        return (self.method == "*" or self.method == method) and (
            self.path == "*" or self.path == path
        )


def make_script(
    method: str,
    path: str,
    status: int,
    payload: tuple[object, str | bytes | None],
    headers: Mapping[str, str] | None,
    drop: bool,
) -> Script:
    """Build a ``Script``; ``payload`` is ``(json, body)`` of which at most one is set.

    With neither, an error status gets NestJS's error body and a success an empty one.

    Raises:
        ValueError: both ``json`` and ``body`` are given, or ``status`` is not 100..599.
    """
    json_value, body = payload
    if json_value is not None and body is not None:
        raise ValueError("give json or body, not both")
    if not 100 <= status <= 599:
        raise ValueError(f"status must be within 100..599, got {status}")
    merged: dict[str, str] = {}
    if json_value is not None or (body is None and status >= 400):
        merged.update(JSON_HEADERS)
        data = encode_json(json_value) if json_value is not None else error_body(status)
    elif isinstance(body, str):
        merged["Content-Type"] = "text/plain; charset=utf-8"
        data = body.encode()
    else:
        data = body or b""
    merged.update(headers or {})
    return Script(method.upper(), path, status, data, merged, drop)
