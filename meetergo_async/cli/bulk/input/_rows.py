"""The bulk command's input: JSON Lines or CSV, read lazily, one ``Entry`` per record.

Each record becomes an ``UpdateRequest`` through the public ``update_from_dict``; a record
that cannot keeps its error message instead, so the other records still run. A record keeps
its exact text, so the failed ones can be written back out verbatim.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Generator, Iterator, Mapping
from typing import Any, Final, NamedTuple

from meetergo_async import ArgumentTypeError, ArgumentValueError, UpdateRequest, update_from_dict

from ..._common import CommandError
from ..._options import in_words
from ._fields import (
    BOOLEAN_FIELDS,
    CALENDARS_FIELD,
    FIELDS,
    JSON_NAMES,
    field_problem,
    unknown_names,
)
from ._lines import JSONL, LineSource

CLEAR: Final = "[]"
"""The CSV cell that clears ``selectedCalendars`` (an empty cell leaves them alone)."""


class Entry(NamedTuple):
    """One record of the input.

    Attributes:
        line: the 1-based line it starts on.
        text: its exact text, line ending included.
        connection_id: the id it names, if it names one.
        request: the update to send, or ``None`` when the record is malformed.
        error: why it is malformed, or ``None``.
    """

    line: int
    text: str
    connection_id: str | None
    request: UpdateRequest | None
    error: str | None


def request_from_mapping(data: Mapping[str, Any]) -> UpdateRequest:
    """Build the request of one record from its camelCase fields.

    Raises:
        TypeError, ValueError: a field is missing, unknown or of the wrong type.
    """
    problem = field_problem(data)
    if problem:
        raise ValueError(problem)
    fields = dict(data)
    connection_id = fields.pop("connectionId", None)
    if connection_id is None:
        raise ValueError("connectionId is missing")
    owner = fields.pop("userId", None)
    as_user = fields.pop("asUser", None)
    try:
        return UpdateRequest(connection_id, update_from_dict(fields), owner, as_user)
    except (ArgumentValueError, ArgumentTypeError) as exc:
        # The SDK's messages name the Python arguments; the user wrote the JSON names.
        worded = in_words(exc, JSON_NAMES)
        raise (ValueError if isinstance(exc, ValueError) else TypeError)(worded) from None


def _entry(line: int, text: str, data: object) -> Entry:
    if not isinstance(data, Mapping):
        return Entry(line, text, None, None, f"expected a JSON object, got {_kind(data)}")
    raw_id = data.get("connectionId")
    connection_id = raw_id if isinstance(raw_id, str) else None
    try:
        request = request_from_mapping(data)
    except (TypeError, ValueError) as exc:
        return Entry(line, text, connection_id, None, str(exc))
    return Entry(line, text, connection_id, request, None)


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def read_jsonl(lines: Iterator[str]) -> Generator[Entry, None, None]:
    """Yield one entry per non-blank line of JSON Lines."""
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            error = f"not valid JSON ({exc.msg} at column {exc.colno})"
            yield Entry(number, text, None, None, error)
        except RecursionError:
            yield Entry(number, text, None, None, "not valid JSON (nested too deeply)")
        else:
            yield _entry(number, text, data)


class _LineCounter:
    """Feeds the csv reader and remembers the lines of the record it is reading."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []
        self.count = 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        self.count += 1
        return line

    def take(self) -> tuple[int, str]:
        """Return the first line number and the text of the record just read."""
        text = "".join(self.taken)
        first = self.count - len(self.taken) + 1
        self.taken.clear()
        return first, text


class CsvRecords:
    """The records of a CSV input; the header row is read (and checked) at once.

    Raises:
        CommandError: the header names an unknown or repeated column, or lacks connectionId.
    """

    def __init__(self, lines: Iterator[str], name: str) -> None:
        self._name = name
        self._counter = _LineCounter(lines)
        self._rows = csv.reader(self._counter)
        self.columns: list[str] = []
        self.header = ""
        for row in self._next_rows():
            if any(cell.strip() for cell in row):
                self.columns = [cell.strip() for cell in row]
                self.header = self._counter.take()[1]
                _check_columns(self.columns, name)
                break
            self._counter.take()

    def entries(self) -> Generator[Entry, None, None]:
        """Yield one entry per non-blank record after the header."""
        for row in self._next_rows():
            line, text = self._counter.take()
            if any(cell.strip() for cell in row):
                yield self._entry(line, text, row)

    def _next_rows(self) -> Iterator[list[str]]:
        while True:
            try:
                row = next(self._rows)
            except StopIteration:
                return
            except csv.Error as exc:
                line = self._counter.count
                raise CommandError(f"{self._name}: line {line}: bad CSV ({exc})") from None
            yield row

    def _entry(self, line: int, text: str, row: list[str]) -> Entry:
        if len(row) > len(self.columns):
            error = f"{len(row)} cells, but the header has {len(self.columns)} columns"
            connection_id = row[self.columns.index("connectionId")].strip() or None
            return Entry(line, text, connection_id, None, error)
        cells = {k: v.strip() for k, v in zip(self.columns, row, strict=False) if v.strip()}
        try:
            data = {k: _cell(k, v) for k, v in cells.items()}
        except ValueError as exc:
            return Entry(line, text, cells.get("connectionId"), None, str(exc))
        return _entry(line, text, data)


def _check_columns(columns: list[str], name: str) -> None:
    unknown = unknown_names(columns)
    if unknown:
        raise CommandError(
            f"{name}: unknown CSV column(s) {', '.join(unknown)}; the columns are "
            f"{', '.join(FIELDS)}"
        )
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise CommandError(f"{name}: repeated CSV column(s) {', '.join(repeated)}")
    if "connectionId" not in columns:
        raise CommandError(f"{name}: the CSV header has no connectionId column")


def _cell(column: str, value: str) -> object:
    if column in BOOLEAN_FIELDS:
        if value.lower() not in ("true", "false"):
            raise ValueError(f"{column} must be true or false, got {value!r}")
        return value.lower() == "true"
    if column == CALENDARS_FIELD:
        return [] if value == CLEAR else [part.strip() for part in value.split(";")]
    return value


def records(source: LineSource) -> tuple[Generator[Entry, None, None], str | None]:
    """Start reading ``source``: its entries, and its CSV header text (``None`` for JSONL)."""
    if source.kind() == JSONL:
        return read_jsonl(source.lines()), None
    csv_records = CsvRecords(source.lines(), source.name)
    return csv_records.entries(), csv_records.header


def count_records(source: LineSource) -> int | None:
    """Count the input's records (for progress), or ``None`` if that is not cheap or possible.

    Stdin is not counted unless it was kept in memory. JSON Lines: the non-blank lines; CSV:
    the non-blank rows after the header (a quoted cell may span lines).
    """
    if not source.replayable:
        return None
    kind = source.kind()
    with contextlib.closing(source.lines()) as lines:
        if kind == JSONL:
            return sum(1 for line in lines if line.strip())
        try:
            rows = sum(1 for row in csv.reader(lines) if any(cell.strip() for cell in row))
        except csv.Error:
            return None
    return max(0, rows - 1)
