"""What an answer means, as pure functions: JSON bodies, error messages, status to error.

Nothing here does I/O; each function takes values and returns values, so it is tested
table-driven without a server (the gidgethub way).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final

from . import errors
from ._http import parse_retry_after

MAX_MESSAGE_CHARS: Final = 500
REDACTED: Final = "***"

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


def error_message(body: object, text: str, reason: str) -> str:
    """The human message of an error: the body's ``message``, else its text, else the reason.

    A list of messages (validation errors) is joined with ``"; "``.
    """
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, list) and message:
            return "; ".join(str(m) for m in message)
        if isinstance(message, str) and message.strip():
            return message
    stripped = text.strip()
    if stripped:
        return stripped[:MAX_MESSAGE_CHARS]
    return reason or "no error message"


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
    and the header values before anything is read from them.
    """
    if secrets:
        body = redact(body.decode("utf-8", "replace"), secrets).encode() if body else body
        headers = {k: redact(v, secrets) for k, v in headers.items()}
    ok, data = decode_json(body) if body else (False, None)
    text = body.decode("utf-8", "replace") if body and not ok else ""
    cls = _ERROR_CLASSES.get(status) or (errors.ServerError if 500 <= status < 600 else None)
    return (cls or errors.APIStatusError)(
        error_message(data, text, reason),
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
