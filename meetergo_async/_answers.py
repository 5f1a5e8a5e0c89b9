"""What an answer means, as pure functions: JSON bodies, error messages, status to error.

Nothing here does I/O; each function takes values and returns values, so it is tested
table-driven without a server (the gidgethub way).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from html.parser import HTMLParser
from typing import Final

from . import errors
from ._http import parse_retry_after
from .errors import REDACTED

MAX_MESSAGE_CHARS: Final = 500
_MAX_PAGE_CHARS: Final = 100_000  # a body's title and first text come before this

_ERROR_CLASSES: Final[Mapping[int, type[errors.APIStatusError]]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    406: errors.PlanLimitError,
    409: errors.ConflictError,
    429: errors.RateLimitError,
}


_DECODER: Final = json.JSONDecoder()  # json.loads's default decoder, without its wrapper


def decode_json(body: bytes) -> tuple[bool, object]:
    """Decode a JSON body: ``(True, value)``, or ``(False, None)`` when it is not JSON."""
    try:
        # Decoding first skips json's encoding sniffing; bad UTF-8 is a ValueError too.
        return True, _DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, deep nesting
        return False, None


def error_message(body: object, text: str, reason: str, *, secrets: Iterable[str] = ()) -> str:
    """The human message of an error: the body's ``message``, else its text, else the reason.

    ``body`` is the decoded JSON body (``None`` when there is none), ``text`` the body as
    sent. A list of messages (validation errors) is joined with ``"; "``. Without a usable
    ``message`` the text stands in, JSON or not: an HTML page by its title or first text
    (``summarize``). Whitespace is collapsed, each of ``secrets`` is replaced by ``***``
    (a page may spell one with character references), and at most ``MAX_MESSAGE_CHARS``
    are kept.
    """
    message = redact(_body_message(body) or summarize(text), secrets)
    return message[:MAX_MESSAGE_CHARS] if message else reason or "no error message"


def _body_message(body: object) -> str:
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, list) and message:
            return collapse("; ".join(str(m) for m in message))
        if isinstance(message, str):
            return collapse(message)
    return ""


def collapse(text: str) -> str:
    """``text`` on one line: what does not print (CR, LF, NUL, bidi controls, ...) and runs
    of whitespace become one space."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())


def summarize(text: str) -> str:
    """A body's text as one line; an HTML page (it starts with ``<``) by its title or text."""
    text = text[:_MAX_PAGE_CHARS]
    if not text.lstrip(" \t\r\n\ufeff").startswith("<"):
        return collapse(text)
    page = _PageText()
    try:
        page.feed(text)
        page.close()
    except AssertionError:  # how html.parser refuses some malformed "<![" sections
        pass  # keep what was read before it
    return collapse(" ".join(page.title)) or collapse(" ".join(page.text))


class _PageText(HTMLParser):
    """Collects a page's title and its text, leaving out ``<head>``, styles and scripts."""

    _HIDDEN: Final = frozenset({"head", "style", "script", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.text: list[str] = []
        self._in_title = False
        self._in_body = False
        self._hidden = 0  # how deep inside hidden elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and not self._in_body:  # not an icon's <svg><title>
            self._in_title = True
        elif tag == "body":
            self._in_body = True
            self._hidden = 0  # a body ends an unclosed head
        elif tag in self._HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._hidden:
            self.text.append(data)


def secret_parts(api_key: str) -> tuple[str, ...]:
    """What must never be shown of a key: the key, and for an ``ak_live:`` key its secret."""
    tail = api_key.rsplit(":", 1)[-1]
    return (api_key, tail) if tail != api_key and len(tail) >= 8 else (api_key,)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``***``."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def error_for_status(
    status: int,
    reason: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    method: str,
    path: str,
    now: datetime | None = None,
    secrets: tuple[str, ...] = (),
) -> errors.APIStatusError:
    """Build the typed error for a response whose status is not a success.

    A server or gateway that echoes the credential back (``invalid token: Bearer ...``)
    must not put it into the error: each of ``secrets`` is replaced by ``***`` in the body
    and the header values before anything is read from them, and in the message again.
    """
    if secrets:
        body = redact(body.decode("utf-8", "replace"), secrets).encode() if body else body
        headers = {k: redact(v, secrets) for k, v in headers.items()}
    ok, data = decode_json(body) if body else (False, None)
    text = body.decode("utf-8", "replace") if body else ""
    cls = _ERROR_CLASSES.get(status) or (errors.ServerError if 500 <= status < 600 else None)
    return (cls or errors.APIStatusError)(
        error_message(data if ok else None, text, reason, secrets=secrets),
        status=status,
        reason=reason,
        body=data if ok else (text or None),
        headers=headers,
        request_id=_header(headers, "x-request-id"),
        retry_after=parse_retry_after(headers, now),
        method=method,
        path=path,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
