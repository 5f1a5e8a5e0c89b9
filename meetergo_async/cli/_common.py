"""What every command of the command line shares: exit statuses, errors, output, the client.

Built only on the public SDK. Every line a command prints goes through ``Ui``, which blanks
out the API key wherever it would appear (a server or proxy could echo it in an error body).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final, TypeAlias

from meetergo_async import MeetergoClient

PROG: Final = "meetergo-async"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
"""Some work failed: the API refused, or the network did not answer."""
EXIT_USAGE: Final = 2
"""Bad usage or bad input: nothing was sent."""
ENV_API_KEY: Final = "MEETERGO_API_KEY"
REDACTED: Final = "***"


class CommandError(Exception):
    """Ends a command with one line on stderr and an exit status (2, bad usage, by default)."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Ui:
    """Where a command writes: results on stdout, errors and progress on stderr.

    ``sys.stdout`` and ``sys.stderr`` are looked up at each write, so pytest's capture works.

    Args:
        secrets: strings that must never be printed (the API key); each is replaced by ``***``.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first, so a secret that contains another is blanked whole.
        unique = {s for s in secrets if s}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def out(self, text: str = "", *, redact: bool = True) -> None:
        """Print one line (or a block) on stdout; ``redact=False`` only for throwaway secrets."""
        print(self.redact(text) if redact else text, file=sys.stdout, flush=True)

    def err(self, text: str) -> None:
        """Print one line on stderr."""
        print(self.redact(text), file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        """Print ``meetergo-async: error: <message>`` on stderr."""
        self.err(f"{PROG}: error: {message}")


Handler: TypeAlias = Callable[[argparse.Namespace, Ui], Awaitable[int]]
"""A command: it gets the parsed arguments and the ``Ui`` and returns the exit status."""


def secrets_in(argv: Iterable[str]) -> list[str]:
    """Find the API keys a run could print: ``--api-key``'s values and ``$MEETERGO_API_KEY``."""
    found = [os.environ.get(ENV_API_KEY, "")]
    args = list(argv)
    for index, arg in enumerate(args):
        if arg == "--api-key" and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--api-key="):
            found.append(arg.partition("=")[2])
    return [s for s in found if s]


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
        return MeetergoClient(
            api_key=args.api_key, user_id=args.user_id, base_url=args.base_url, **options
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(cli_words(str(exc))) from None


_OPTION_NAMES: Final = {"api_key": "--api-key", "user_id": "--user-id", "base_url": "--base-url"}
_KEYWORD: Final = re.compile(r"\b(api_key|user_id|base_url)\b(=\.\.\.)?")


def cli_words(message: str) -> str:
    """Reword an SDK message for the command line: its keyword arguments are options here."""
    message = message.replace(" or pass allow_insecure_http=True", "")
    return _KEYWORD.sub(lambda match: _OPTION_NAMES[match[1]], message)


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
