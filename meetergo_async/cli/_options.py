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

from meetergo_async import (
    API_KEY_PREFIX,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_USER_ID,
    UPDATE_FIELD_NAMES,
    USER_ID_HEADER,
    ArgumentError,
    CalendarConnectionUpdate,
    MeetergoClient,
)

from ._common import CommandError

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
_VARIABLES: Final = {"api_key": ENV_API_KEY, "user_id": ENV_USER_ID, "base_url": ENV_BASE_URL}
"""The environment variable each credential option falls back to."""

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
    """Build the client from the credential options, or else the environment.

    A ``MEETERGO_*`` variable that is empty or only whitespace counts as unset. An error
    names the value as the user gave it: the option, or the environment variable.

    Raises:
        CommandError: a credential or option is missing or malformed (exit status 2).
    """
    given = credentials(args)
    names = {**OPTION_NAMES, **{name: source for name, (_, source) in given.items()}}
    check_acting_user(args, given)
    try:
        # The SDK checks --base-url (a path of /v4 included): one rule, in the option's words.
        return MeetergoClient(
            api_key=given["api_key"][0],
            user_id=given["user_id"][0],
            base_url=given["base_url"][0],
            **options,
        )
    except (TypeError, ValueError) as exc:
        message = in_words(exc, names)
        # "leave {name} (and MEETERGO_USER_ID) unset" when {name} is that variable already.
        message = message.replace(f"{ENV_USER_ID} (and {ENV_USER_ID})", ENV_USER_ID)
        raise CommandError(message) from None


def credentials(args: argparse.Namespace) -> dict[str, tuple[str | None, str]]:
    """Each credential's value (``None`` when not given) and where it came from.

    The source is the option when it was given (or nothing was), else the variable.
    """
    found: dict[str, tuple[str | None, str]] = {}
    for name, variable in _VARIABLES.items():
        option = OPTION_NAMES[name]
        value = getattr(args, name)
        if value is None and os.environ.get(variable, "").strip():
            found[name] = (os.environ[variable], variable)
        else:
            found[name] = (value, option)
    return found


def check_acting_user(
    args: argparse.Namespace, given: Mapping[str, tuple[str | None, str]]
) -> None:
    """Refuse an API key with no user, unless ``--as-user`` names one.

    The SDK lets an API key go without a default user and asks each call for one; a command
    asks here, before anything runs, in the words of its options.

    Raises:
        CommandError: an ``ak_live:`` key, no ``--user-id`` (or variable), no ``--as-user``.
    """
    key = given["api_key"][0] or ""
    user = given["user_id"][0]
    if key.startswith(API_KEY_PREFIX) and user is None and getattr(args, "as_user", None) is None:
        raise CommandError(
            "a platform API key (ak_live:...) acts for a user of your company that each "
            f"request must name in the {USER_ID_HEADER} header: pass --user-id or set "
            f"{ENV_USER_ID}"
        )


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
