"""What every command of the command line shares: exit statuses, errors, where it writes.

Every line a command prints goes through ``Ui``, which blanks out the API key wherever it
would appear (a server or proxy could echo it in an error body).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Final, TextIO, TypeAlias

from meetergo_async import ENV_API_KEY, REDACTED

PROG: Final = "meetergo-async"
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
"""Some work failed: the API refused, or the network did not answer."""
EXIT_USAGE: Final = 2
"""Bad usage or bad input: nothing was sent."""


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
        """Print one line (or a block) on stdout; ``redact=False`` only for throwaway secrets.

        A reader that has gone (``| head``) is no error: see ``write_line``.
        """
        write_line(sys.stdout, self.redact(text) if redact else text)

    def err(self, text: str) -> None:
        """Print one line on stderr."""
        write_line(sys.stderr, self.redact(text))

    def error(self, message: str) -> None:
        """Print ``meetergo-async: error: <message>`` on stderr."""
        self.err(f"{PROG}: error: {message}")


def write_line(stream: TextIO, text: str) -> None:
    """Print ``text`` and a newline on ``stream`` at once; a closed pipe drops it quietly.

    When the reader of a pipe has gone (``meetergo-async list --json | head -c 400``), the
    stream is pointed at the null device, Python's recipe (the ``signal`` module's note on
    SIGPIPE): this line and the rest go nowhere, the exit does not fail flushing them, and
    the command goes on to the exit status its work earned, as if the reader had read all.
    """
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        to_null(stream)


def to_null(stream: TextIO) -> None:
    """Point the file descriptor under ``stream`` at ``os.devnull`` (not a file: nothing)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test's capture has no descriptor
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def flush_stdout() -> None:
    """Flush what was printed on stdout outside ``Ui`` (argparse's ``--help``), quietly."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        to_null(sys.stdout)


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
    return [s for s in found if s.strip()]
