"""The exceptions meetergo-async raises on purpose.

Everything the SDK raises because of the server or the network is a ``MeetergoError``;
mistakes in the caller's arguments raise ``TypeError`` or ``ValueError`` before anything is
sent. aiohttp's own exceptions never escape: they are wrapped, with the original kept as
``__cause__``.

``str(error)`` is one line of at most 200 characters; the full body of an error answer
stays in ``APIStatusError.body``.

```
MeetergoError
├── BudgetUnavailableError        the shared rate budget (Redis) did not answer; nothing sent
├── APIConnectionError            the request did not get an HTTP answer
│   ├── APITimeoutError           ... because a timeout fired
│   └── APITLSError               ... because TLS failed (handshake, certificate): not retried
└── APIStatusError                the server answered with an error status
    ├── BadRequestError           400
    ├── AuthenticationError       401
    ├── PermissionDeniedError     403
    ├── NotFoundError             404
    ├── PlanLimitError            406
    ├── ConflictError             409
    ├── RateLimitError            429 (retry_after)
    └── ServerError               5xx

ArgumentError                     a bad argument, raised before anything is sent
├── ArgumentValueError            ... a ValueError
└── ArgumentTypeError             ... a TypeError
```

An ``ArgumentError`` carries the argument's Python name as data (``error.argument``), so a
caller that knows the value under another name (a command-line option, an environment
variable, a JSON field) can say so with ``error.worded(name)`` instead of rewriting the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "REDACTED",
    "APIConnectionError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "ArgumentError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetUnavailableError",
    "ConflictError",
    "MeetergoError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanLimitError",
    "RateLimitError",
    "ServerError",
]

REDACTED: Final = "***"
"""What stands for a credential wherever one would appear: messages, bodies, headers."""
NAME: Final = "{name}"
"""Where the argument's name stands in an ``ArgumentError``'s template."""
_MAX_STR_CHARS: Final = 200
"""The longest ``str(error)``: the message is cut (with ``…``) to fit what surrounds it."""


class MeetergoError(Exception):
    """Base class of every error the SDK raises about the server or the network.

    Attributes:
        message: what went wrong, without any credential.
        method: the HTTP method of the failed call (``""`` when not tied to a request).
        path: the path as sent, the base URL's prefix included (no host, no query).
        attempts: how many attempts the call made before giving up.
        elapsed: seconds from the call's first attempt to the end of its last one
            (``None`` when not tied to a call).
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.attempts = 1
        self.elapsed: float | None = None

    def _where(self) -> str:
        return f" ({self.method} {self.path})" if self.method else ""

    def __str__(self) -> str:
        return _fit("", self.message, self._where())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, attempts={self.attempts})"


class BudgetUnavailableError(MeetergoError):
    """The shared rate budget (``RedisBudget(on_unavailable="raise")``) did not answer.

    Nothing was sent: the call can be repeated once Redis is back.
    """


class APIConnectionError(MeetergoError):
    """The request got no HTTP answer: refused, reset, disconnected, or cut off mid-body.

    The message names the host and port; after more than one attempt, ``str()`` also says
    how many were made over how long.

    Attributes:
        connected: ``False`` when no connection to the host (or the proxy) could be made:
            refused, unreachable, its name not found. Nothing was sent then. ``True`` when
            the request may have reached the server.
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", connected: bool = True
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.connected = connected

    def __str__(self) -> str:
        tried = ""
        if self.attempts > 1:
            over = "" if self.elapsed is None else f" over {_seconds(self.elapsed)}"
            tried = f"; {self.attempts} attempts{over}"
        return _fit("", self.message, tried + self._where())


class APITimeoutError(APIConnectionError):
    """A timeout fired before the answer was complete."""


class APITLSError(APIConnectionError):
    """The TLS handshake or the server's certificate failed; the call is not retried.

    Another attempt cannot heal it: the message says what to check (the scheme and port of
    ``base_url``, the server's certificate).
    """


class APIStatusError(MeetergoError):
    """The server answered with a status that is not a success.

    Attributes:
        status: the HTTP status code.
        reason: the HTTP reason phrase.
        body: the parsed JSON body, or the body text, or ``None`` when empty.
        headers: the response headers (they never hold the request's credential).
        request_id: the ``x-request-id`` response header, when present.
        retry_after: seconds the server asked to wait (``Retry-After``), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str = "",
        body: object = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.retry_after = retry_after
        self.status = status
        self.reason = reason
        self.body = body
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id = request_id

    def __str__(self) -> str:
        head = f"meetergo API {self.status} {self.reason}".rstrip()
        rid = f" [request id {self.request_id}]" if self.request_id else ""
        return _fit(f"{head}: ", self.message, f"{self._where()}{rid}")


class BadRequestError(APIStatusError):
    """400: the request was invalid (meetergo reports validation errors with 400)."""


class AuthenticationError(APIStatusError):
    """401: the credential is missing, unknown or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the credential may not do this (for example a PAT acting as another user)."""


class NotFoundError(APIStatusError):
    """404: no such connection (or route)."""


class PlanLimitError(APIStatusError):
    """406: a plan limit was reached; ``code`` and ``feature`` come from the body when sent."""

    @property
    def code(self) -> str | None:
        """The body's ``code`` field, such as ``"PLAN_LIMIT_REACHED"``."""
        return _body_str(self.body, "code")

    @property
    def feature(self) -> str | None:
        """The body's ``feature`` field: which plan feature ran out."""
        return _body_str(self.body, "feature")


class ConflictError(APIStatusError):
    """409: the change conflicts with the connection's current state."""


class RateLimitError(APIStatusError):
    """429: too many requests; the request was not processed and is safe to send again.

    ``retry_after`` holds the seconds the server asked to wait, or ``None`` when it did not
    say (meetergo does not promise the header).
    """


class ServerError(APIStatusError):
    """5xx: trouble on the server's side, usually transient."""


class ArgumentError(Exception):
    """An argument error: ``argument`` names it; ``worded`` says it under another name.

    Args:
        argument: the Python name of the argument (``user_id``, ``primary_calendar``).
        template: the message, with ``{name}`` where the argument's name goes.
        hint: advice that only makes sense in Python (``pass allow_insecure_http=True``),
            added to the message after ``; ``.
        spelled: how the message spells the argument in Python (default: its name, e.g.
            ``api_key=...`` where the message tells what to pass).
    """

    def __init__(
        self, argument: str, template: str, *, hint: str = "", spelled: str | None = None
    ) -> None:
        self.argument = argument
        self.template = template
        self.hint = hint
        message = self.worded(argument if spelled is None else spelled)
        super().__init__(message + (f"; {hint}" if hint else ""))

    def worded(self, name: str) -> str:
        """The message with ``name`` for the argument, and without the Python-only hint."""
        return self.template.replace(NAME, name)


class ArgumentValueError(ArgumentError, ValueError):
    """A ``ValueError`` about one argument, named by ``argument``."""


class ArgumentTypeError(ArgumentError, TypeError):
    """A ``TypeError`` about one argument, named by ``argument``."""


def _body_str(body: object, key: str) -> str | None:
    if isinstance(body, Mapping):
        value = body.get(key)
        if isinstance(value, str):
            return value
    return None


def _fit(before: str, message: str, after: str) -> str:
    """Join the parts, cutting ``message`` so the whole is at most ``_MAX_STR_CHARS`` long."""
    room = _MAX_STR_CHARS - len(before) - len(after)
    if len(message) > room:
        message = message[: max(room - 1, 0)].rstrip() + "…"
    text = before + message + after
    return text if len(text) <= _MAX_STR_CHARS else text[: _MAX_STR_CHARS - 1] + "…"


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value < 100 else f"{value:.0f}s"
