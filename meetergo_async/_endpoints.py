"""The endpoints of the API as calls: their routes, URLs, headers, bodies and answers' parsers.

``Endpoints`` turns the arguments of a client method (checked already) into the ``Call`` the
``Caller`` sends: the URL on the client's host, the headers of the acting user, the JSON
body, the attempt timeout and the retry policy, and the function that reads the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from . import _http
from ._call import Call
from ._config import ClientSettings, RetryPolicy
from ._results import parse_connection_list, parse_updated_connection
from ._retry import Operation
from ._serde import encode_update
from .models import CalendarConnectionUpdate
from .pacing import Priority

__all__ = ["LIST_CONNECTIONS", "UPDATE_CONNECTION", "Endpoints"]

UPDATE_CONNECTION: Final = Operation(
    "PATCH", idempotent=True, route=f"{_http.CONNECTIONS_PATH}/{{connection_id}}"
)
"""Safe to repeat: every field is an absolute assignment."""
LIST_CONNECTIONS: Final = Operation("GET", idempotent=True, route=_http.CONNECTIONS_PATH)


class Endpoints:
    """Builds the calls of one client from its settings.

    The headers of the default acting user are built once per kind (with or without a body)
    and reused: the transport recognises them and sends only what its session lacks.
    """

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._base_url = settings.base_url
        # Joined onto per request; a request with no query reuses the parsed host.
        self._root = URL(settings.base_url, encoded=True)
        self._prefix = self._root.raw_path.rstrip("/")
        self._base_headers = _http.base_headers(settings.api_key)
        self._default_user = settings.user_id
        self._default_headers = {
            has_body: self._build_headers(settings.user_id, has_body) for has_body in (False, True)
        }

    @property
    def session_headers(self) -> Mapping[str, str]:
        """The headers nearly every request carries: those of a request without a body."""
        return self._default_headers[False]

    def update(
        self,
        connection_id: str,
        update: CalendarConnectionUpdate,
        owner_user_id: str | None,
        as_user: str | None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Call:
        """The PATCH of one connection.

        Raises:
            ArgumentError: ``as_user``, ``timeout`` or ``retry`` is invalid.
        """
        path = _http.connection_path(connection_id)
        parse = partial(parse_updated_connection, connection_id=connection_id)
        body = encode_update(update)
        call = self._call(
            UPDATE_CONNECTION, path, parse, body, owner_user_id, as_user, timeout, retry
        )
        call.priority = priority
        return call

    def listing(
        self,
        owner_user_id: str | None,
        as_user: str | None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Call:
        """The GET of a user's connections.

        Raises:
            ArgumentError: ``as_user``, ``timeout`` or ``retry`` is invalid.
        """
        path = _http.CONNECTIONS_PATH
        parse = parse_connection_list
        call = self._call(
            LIST_CONNECTIONS, path, parse, None, owner_user_id, as_user, timeout, retry
        )
        call.priority = priority
        return call

    def _call(
        self,
        operation: Operation,
        path: str,
        parse: Callable[..., Any],
        body: bytes | None,
        owner_user_id: str | None,
        as_user: str | None,
        timeout: float | None,
        retry: RetryPolicy | None,
    ) -> Call:
        """The call of ``path`` (the route's, without the base URL's prefix).

        ``parse`` gets the decoded answer and ``path=``, the path as sent.
        """
        settings = self._settings
        policy = settings.retry_policy(retry)
        user = settings.acting_user(as_user)
        url = self._url(path, owner_user_id)
        # Errors, events and logs name the path as sent: the base URL's prefix included.
        sent = url.raw_path
        return Call(
            operation=operation,
            path=sent,
            url=url,
            headers=self._headers(user, has_body=body is not None),
            body=body,
            timeout=settings.attempt_timeout(timeout),
            policy=policy,
            parse=partial(parse, path=sent),
            user=user,
        )

    def _url(self, path: str, owner_user_id: str | None) -> URL:
        """The URL of ``path`` (already encoded), with ``userId`` in the query when given."""
        if owner_user_id is None:
            return self._root.with_path(self._prefix + path, encoded=True)
        query = _http.query_string({"userId": owner_user_id})
        return URL(self._base_url + path + query, encoded=True)

    def _headers(self, user: str | None, *, has_body: bool) -> Mapping[str, str]:
        if user == self._default_user:
            return self._default_headers[has_body]
        return self._build_headers(user, has_body)

    def _build_headers(self, user: str | None, has_body: bool) -> Mapping[str, str]:
        headers = _http.request_headers(self._base_headers, user, has_body=has_body)
        return CIMultiDictProxy(CIMultiDict(headers))
