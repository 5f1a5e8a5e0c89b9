"""The options and value types commands share, and the client built from the credentials.

Argument errors are said in the user's own words: the SDK's errors carry the Python name of
their argument (``error.argument``), and ``in_words`` names it as the user wrote it, through
one table (``OPTION_NAMES`` here, the JSON field names for ``bulk``'s input).
"""

from __future__ import annotations

import argparse
import math
import os
import typing
from collections.abc import Mapping
from typing import Any, Final

from meetergo_async import CalendarConnectionUpdate, MeetergoClient
from meetergo_async._credentials import needs_acting_user
from meetergo_async._serde import UPDATE_FIELD_NAMES
from meetergo_async._validate import ArgumentError

from ._common import ENV_API_KEY, CommandError

OPTION_NAMES: Final[Mapping[str, str]] = {
    "api_key": "--api-key",
    "user_id": "--user-id",
    "base_url": "--base-url",
    "connection_id": "CONNECTION_ID",
    "primary_calendar": "--primary-calendar",
    "selected_calendars": "--selected-calendar",
    "owner_user_id": "--owner-user-id",
    "as_user": "--as-user",
}
"""The SDK's argument names as this command line's options (and arguments) name them."""

_UPDATE_HINTS: Final = typing.get_type_hints(CalendarConnectionUpdate)
FLAG_FIELDS: Final = tuple(
    name for name in UPDATE_FIELD_NAMES if bool in typing.get_args(_UPDATE_HINTS[name])
)
"""The yes/no fields of an update (Python names, in declaration order): typed ``bool | Unset``."""


def in_words(exc: Exception, names: Mapping[str, str]) -> str:
    """An SDK error's message, naming its argument as ``names`` does (Python name -> theirs).

    An argument error loses its Python-only hint (``or pass allow_insecure_http=True``); any
    other error keeps its message.
    """
    if isinstance(exc, ArgumentError):
        return exc.worded(names.get(exc.argument, exc.argument))
    return str(exc)


def credentials_parser() -> argparse.ArgumentParser:
    """Build the parent parser of the options that reach the real API."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("credentials")
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help="platform API key (ak_live:...) or personal access token (rgo-...); default "
        "$MEETERGO_API_KEY, which is safer: a command line is visible to other local users",
    )
    group.add_argument(
        "--user-id",
        metavar="ID",
        help="the user an API key acts as; default $MEETERGO_USER_ID",
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="API host; default $MEETERGO_BASE_URL, else https://api.meetergo.com",
    )
    return parser


def make_client(args: argparse.Namespace, **options: Any) -> MeetergoClient:
    """Build the client from the credential options (or the environment).

    Raises:
        CommandError: a credential or option is missing or malformed (exit status 2).
    """
    try:
        client = MeetergoClient(
            api_key=args.api_key, user_id=args.user_id, base_url=args.base_url, **options
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(in_words(exc, OPTION_NAMES)) from None
    # The SDK lets an API key go without a default user and asks each call for one; a
    # command names it here, before anything runs, unless --as-user names it.
    key = args.api_key or os.environ.get(ENV_API_KEY, "")
    user = args.user_id or os.environ.get("MEETERGO_USER_ID") or None
    if needs_acting_user(key, user) and getattr(args, "as_user", None) is None:
        raise CommandError(
            "a platform API key (ak_live:...) acts for a user of your company that each "
            "request must name: pass --user-id or set MEETERGO_USER_ID"
        )
    return client


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(text)
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of 0 or more."""
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value


def fraction(text: str) -> float:
    """An argparse type: a number within 0..1."""
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


# argparse names the type in its error ("invalid positive_int value"): make it read well.
positive_int.__name__ = "positive integer"
non_negative_int.__name__ = "non-negative integer"
positive_float.__name__ = "positive number"
non_negative_float.__name__ = "non-negative number"
fraction.__name__ = "fraction (0..1)"


def add_acting_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of a call that acts for a user (``--owner-user-id``, ``--as-user``)."""
    parser.add_argument(
        "--owner-user-id", metavar="ID", help="the user owning the connections (admins only)"
    )
    parser.add_argument("--as-user", metavar="ID", help="act as this user for this call")
    parser.add_argument("--json", action="store_true", help="print JSON")
