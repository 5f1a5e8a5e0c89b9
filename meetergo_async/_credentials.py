"""The credential rules: a key, the user it acts as, and the host it may be sent to.

A platform API key (``ak_live:...``) acts for a user of the company, named per request; a
personal access token (``rgo-...``) always acts as its owner. A key is never sent in the
clear, except to a loopback host.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Final
from urllib.parse import urlsplit

from ._validate import CONTROL, check_optional_text
from .errors import NAME, ArgumentTypeError, ArgumentValueError

PAT_PREFIX: Final = "rgo-"
"""How a personal access token starts: it always acts as its owner."""
API_KEY_PREFIX: Final = "ak_live:"
"""How a platform API key starts: it acts for the user each request names."""
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
_WHITESPACE_OR_CONTROL: Final = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_API_VERSION: Final = "v4"
"""The first segment of every request path (``_http``), never part of a base URL."""


def check_api_key(value: object) -> str:
    """Return the key if it is a non-empty ``str`` with no whitespace or control characters.

    The messages never include the key itself.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError("api_key", f"{NAME} must be a str, got {type(value).__name__}")
    if not value:
        raise ArgumentValueError("api_key", f"{NAME} must not be empty")
    if _WHITESPACE_OR_CONTROL.search(value):
        raise ArgumentValueError(
            "api_key", f"{NAME} must not contain whitespace or control characters"
        )
    return value


def check_credentials(api_key: object, user_id: object) -> tuple[str, str | None]:
    """Check the credential and the default acting user together; return them.

    An API key may come without a default user: each call then names its user
    (``needs_acting_user``, ``missing_acting_user``).

    Raises:
        ArgumentValueError: no key; a personal access token with a user id.
        ArgumentTypeError: a value is not a ``str``.
    """
    if api_key is None:
        raise ArgumentValueError(
            "api_key",
            "no API key: pass {name} or set MEETERGO_API_KEY "
            "(a platform API key 'ak_live:...' or a personal access token 'rgo-...')",
            spelled="api_key=...",
        )
    key = check_api_key(api_key)
    user = check_optional_text("user_id", user_id)
    if key.startswith(PAT_PREFIX) and user is not None:
        raise ArgumentValueError(
            "user_id",
            "a personal access token (rgo-...) always acts as its owner; meetergo refuses it "
            "with 403 when a user id is sent: leave {name} (and MEETERGO_USER_ID) unset",
        )
    return key, user


def needs_acting_user(api_key: str, user_id: str | None) -> bool:
    """Tell whether every call must name its user: an API key with no default user."""
    return user_id is None and api_key.startswith(API_KEY_PREFIX)


def missing_acting_user() -> ArgumentValueError:
    """The error of a call that names no user where the API key has no default user."""
    return ArgumentValueError(
        "as_user",
        "no acting user: a platform API key (ak_live:...) acts for a user of your company "
        "that each request names in the x-meetergo-api-user-id header, and this client has "
        "no default user; pass {name} on the call (bulk: on each UpdateRequest), or give "
        "the client user_id (or MEETERGO_USER_ID)",
        spelled="as_user=...",
    )


def check_base_url(url: object, allow_insecure_http: bool) -> str:
    """Return the base URL without a trailing slash, or raise saying why not.

    It must be ``https://host[:port][/prefix]`` with no credentials, query or fragment, and
    no ``/v4`` in the prefix (every request path starts with it); ``http://`` only to a
    loopback host, or anywhere with ``allow_insecure_http=True``. The command line checks
    its ``--base-url`` here too: one rule, one message.
    """
    if not isinstance(url, str):
        raise ArgumentTypeError("base_url", f"{NAME} must be a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is invalid
    except ValueError as exc:
        raise ArgumentValueError("base_url", f"{NAME} is not a valid URL: {exc}") from None
    problem = _base_url_problem(url, parts.scheme, host, parts)
    if problem:
        raise ArgumentValueError("base_url", problem)
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host or ""):
        raise ArgumentValueError(
            "base_url",
            f"{NAME} uses plain http:// to a non-loopback host, which would send the API key "
            "unencrypted; use https://",
            hint="or pass allow_insecure_http=True",
        )
    return url.rstrip("/")


def check_proxy(proxy: object, borrowed_session: bool) -> str | None:
    """Return the proxy URL (or ``None``) if it is ``http(s)://[user:password@]host[:port]``.

    The messages never include the URL: it may hold the proxy's password.

    Raises:
        ArgumentTypeError: not a ``str``. ArgumentValueError: malformed, or given with a
            borrowed session, whose own settings the client never changes.
    """
    if proxy is None:
        return None
    if not isinstance(proxy, str):
        raise ArgumentTypeError("proxy", f"{NAME} must be a str, got {type(proxy).__name__}")
    if borrowed_session:
        raise ArgumentValueError(
            "proxy",
            f"{NAME} applies to the session the client makes; give the session you pass "
            "its own (aiohttp.ClientSession(proxy=...))",
        )
    problem = _proxy_problem(proxy)
    if problem:
        raise ArgumentValueError("proxy", problem)
    return proxy


def _proxy_problem(proxy: str) -> str | None:
    try:
        parts = urlsplit(proxy)
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is invalid
    except ValueError:
        return f"{NAME} is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{NAME} must start with http:// or https:// and name a host"
    if (
        parts.query
        or parts.fragment
        or parts.path.strip("/")
        or _WHITESPACE_OR_CONTROL.search(proxy)
    ):
        return f"{NAME} must be scheme://[user:password@]host[:port], nothing more"
    return None


def _base_url_problem(url: str, scheme: str, host: str | None, parts: Any) -> str | None:
    if scheme not in ("http", "https") or not host:
        return f"{NAME} must start with https:// and name a host"
    if parts.username is not None or parts.password is not None:
        return f"{NAME} must not hold a username or password; pass the API key instead"
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        return f"{NAME} must not have a query or a fragment"
    if CONTROL.search(url) or " " in url:
        return f"{NAME} must not contain spaces or control characters"
    return _api_version_problem(url, scheme, parts)


def _api_version_problem(url: str, scheme: str, parts: Any) -> str | None:
    """Refuse ``/v4`` in the path: it would be sent twice (``Cannot GET /v4/v4/...``).

    Checked after the credentials, the query and the fragment were refused, so the message
    may show the URL.
    """
    segments = parts.path.split("/")
    lowered = [segment.lower() for segment in segments]
    if _API_VERSION not in lowered:
        return None
    at = lowered.index(_API_VERSION)
    before = "/".join(segments[:at])
    where = "has /v4 in its path" if any(segments[at + 1 :]) else "ends in /v4"
    give = "the part before /v4" if before.strip("/") else "the host only"
    return (
        f"{NAME} {url} {where}, but every request path starts with v4/ already: "
        f"give {give}, {scheme}://{parts.netloc}{before}"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
