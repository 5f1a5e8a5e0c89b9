"""Argument checks that run before anything is sent; each error names the argument."""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHITESPACE_OR_CONTROL: Final = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def check_text(name: str, value: object) -> str:
    """Return ``value`` if it is a non-blank ``str`` free of control characters.

    Used for ids that end up in a URL path, a query or a header, where CR, LF or NUL could
    split or forge the request.

    Raises:
        TypeError: ``value`` is not a ``str``.
        ValueError: it is empty, only whitespace, or holds a control character.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if value.isascii() and value.isprintable() and value.strip():
        return value  # the usual id: printable ASCII (no control character), not blank
    if not value.strip():
        raise ValueError(f"{name} must not be empty or whitespace")
    if _CONTROL.search(value):
        raise ValueError(f"{name} must not contain control characters (CR, LF, NUL, DEL, ...)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode (it holds a lone surrogate)") from None
    return value


def check_optional_text(name: str, value: object) -> str | None:
    """Like ``check_text`` but ``None`` passes through."""
    return None if value is None else check_text(name, value)


def check_api_key(value: object) -> str:
    """Return the key if it is a non-empty ``str`` with no whitespace or control characters.

    The messages never include the key itself.
    """
    if not isinstance(value, str):
        raise TypeError(f"api_key must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError("api_key must not be empty")
    if _WHITESPACE_OR_CONTROL.search(value):
        raise ValueError("api_key must not contain whitespace or control characters")
    return value


PAT_PREFIX: Final = "rgo-"
API_KEY_PREFIX: Final = "ak_live:"
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})


def check_credentials(api_key: object, user_id: object) -> tuple[str, str | None]:
    """Check the credential and the acting user together; return them.

    Raises:
        ValueError: no key; an API key without a user id; a personal access token with one.
        TypeError: a value is not a ``str``.
    """
    if api_key is None:
        raise ValueError(
            "no API key: pass api_key=... or set MEETERGO_API_KEY "
            "(a platform API key 'ak_live:...' or a personal access token 'rgo-...')"
        )
    key = check_api_key(api_key)
    user = check_optional_text("user_id", user_id)
    if key.startswith(API_KEY_PREFIX) and user is None:
        raise ValueError(
            "a platform API key (ak_live:...) acts for a user of your company that each request "
            "must name in the x-meetergo-api-user-id header: pass user_id=... or set "
            "MEETERGO_USER_ID"
        )
    if key.startswith(PAT_PREFIX) and user is not None:
        raise ValueError(
            "a personal access token (rgo-...) always acts as its owner; meetergo refuses it "
            "with 403 when a user id is sent: leave user_id (and MEETERGO_USER_ID) unset"
        )
    return key, user


def check_base_url(url: object, allow_insecure_http: bool) -> str:
    """Return the base URL without a trailing slash, or raise ``ValueError`` saying why not.

    It must be ``https://host[:port][/prefix]`` with no credentials, query or fragment;
    ``http://`` only to a loopback host, or anywhere with ``allow_insecure_http=True``.
    """
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - parsing the port raises ValueError when it is invalid
    except ValueError as exc:
        raise ValueError(f"base_url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("base_url must start with https:// and name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("base_url must not hold a username or password; pass api_key instead")
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        raise ValueError("base_url must not have a query or a fragment")
    if _CONTROL.search(url) or " " in url:
        raise ValueError("base_url must not contain spaces or control characters")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        raise ValueError(
            "base_url uses plain http:// to a non-loopback host, which would send the API key "
            "unencrypted; use https:// or pass allow_insecure_http=True"
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
