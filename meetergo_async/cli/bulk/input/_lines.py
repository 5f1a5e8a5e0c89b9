"""Where the bulk command's input comes from: a file, read again when needed, or stdin."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Generator, Iterator
from typing import Final, TextIO

from ..._common import CommandError

STDIN: Final = "-"
CSV: Final = "csv"
JSONL: Final = "jsonl"
_JSONL_SUFFIXES: Final = (".jsonl", ".ndjson", ".json")


class LineSource:
    """The input's lines: a file (read again on each ``lines()``) or stdin.

    Stdin is read once; with ``replayable`` it is kept in memory so it can be read twice.

    Raises:
        CommandError: the file cannot be opened.
    """

    def __init__(self, path: str, *, replayable: bool) -> None:
        self.path = path
        self.name = "stdin" if path == STDIN else path
        self._peeked: list[str] = []
        self._stdin: Iterator[str] | None = None
        self._cache: list[str] | None = None
        if path == STDIN:
            self._stdin = _without_bom(iter(sys.stdin))
            if replayable:
                with _utf8(self.name):
                    self._cache = list(self._stdin)
        else:
            with self._open():
                pass

    @property
    def replayable(self) -> bool:
        """Whether ``lines()`` can be read more than once (a file, or stdin kept in memory)."""
        return self._stdin is None or self._cache is not None

    def _open(self) -> TextIO:
        try:
            return open(self.path, encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise CommandError(f"cannot read {self.path}: {exc.strerror or exc}") from None

    def lines(self) -> Generator[str, None, None]:
        """Yield the lines, each with its line ending.

        Raises:
            CommandError: the input is not UTF-8 text.
        """
        with _utf8(self.name):
            if self._cache is not None:
                yield from self._cache
            elif self._stdin is not None:
                yield from self._peeked
                self._peeked = []
                yield from self._stdin
            else:
                with self._open() as file:
                    yield from file

    def kind(self) -> str:
        """``csv`` for a ``.csv`` file, ``jsonl`` for ``.jsonl``/``.ndjson``/``.json``.

        Otherwise (stdin included) sniffed: a first non-blank line starting with ``{`` is
        JSON Lines, anything else CSV.
        """
        suffix = os.path.splitext(self.path)[1].lower()
        if suffix == ".csv":
            return CSV
        if suffix in _JSONL_SUFFIXES:
            return JSONL
        with _utf8(self.name):
            first = self._first_line()
        return JSONL if first.lstrip().startswith("{") else CSV

    def _first_line(self) -> str:
        if self._stdin is not None and self._cache is None:
            # Keep what is read, so that lines() still starts at the first line.
            for line in self._stdin:
                self._peeked.append(line)
                if line.strip():
                    return line
            return ""
        with contextlib.closing(self.lines()) as lines:
            return next((line for line in lines if line.strip()), "")


@contextlib.contextmanager
def _utf8(name: str) -> Iterator[None]:
    try:
        yield
    except UnicodeDecodeError as exc:
        raise CommandError(f"{name} is not UTF-8 text ({exc.reason})") from None


def _without_bom(lines: Iterator[str]) -> Iterator[str]:
    for index, line in enumerate(lines):
        yield line.removeprefix("\ufeff") if index == 0 else line
