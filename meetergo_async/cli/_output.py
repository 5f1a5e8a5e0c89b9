"""How the command line shows things: progress bars, connection tables, one connection.

``rich`` (the ``cli`` extra) draws the progress bar and the table when the stream is a
terminal; without it, or when the output is piped, plain text is printed instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, Protocol

from meetergo_async import CalendarConnection, to_dict

from ._common import Ui

_DETAIL_FIELDS: Final = (
    ("provider", "provider"),
    ("email", "email"),
    ("primary calendar", "primary_calendar"),
    ("selected calendars", "selected_calendars"),
    ("validate availability", "validate_availability"),
    ("cancel if declined or deleted", "cancel_if_declined_or_deleted"),
    ("disable attendee notification", "disable_attendee_notification"),
    ("sync buffers to calendar", "sync_buffers_to_calendar"),
    ("primary", "is_primary"),
    ("connected", "is_connected"),
    ("updated at", "updated_at"),
)
_TABLE_COLUMNS: Final = (
    ("ID", "id"),
    ("PROVIDER", "provider"),
    ("EMAIL", "email"),
    ("PRIMARY CALENDAR", "primary_calendar"),
    ("SELECTED CALENDARS", "selected_calendars"),
    ("VALIDATE", "validate_availability"),
    ("CONNECTED", "is_connected"),
)


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(value) if value else "(none)"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def connection_text(conn: CalendarConnection) -> str:
    """Describe one connection in a few aligned lines; fields the server left out are skipped."""
    rows = [(label, getattr(conn, name)) for label, name in _DETAIL_FIELDS]
    rows = [(label, value) for label, value in rows if value is not None]
    width = max((len(label) for label, _ in rows), default=0)
    lines = [conn.id] + [f"  {label:<{width}}  {_text(value)}" for label, value in rows]
    return "\n".join(lines)


def connection_json(conn: CalendarConnection | Sequence[CalendarConnection]) -> str:
    """The camelCase JSON of a connection, or a JSON array of connections."""
    data: Any = to_dict(conn) if isinstance(conn, CalendarConnection) else list(map(to_dict, conn))
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def table_rows(conns: Sequence[CalendarConnection]) -> list[list[str]]:
    """The header and one row of text cells per connection."""
    header = [title for title, _ in _TABLE_COLUMNS]
    return [header] + [[_text(getattr(c, name)) for _, name in _TABLE_COLUMNS] for c in conns]


def plain_table(rows: Sequence[Sequence[str]]) -> str:
    """Lay rows out in columns separated by two spaces, without trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def print_table(ui: Ui, conns: Sequence[CalendarConnection]) -> None:
    """Print connections as a rich table on a terminal, else as plain columns."""
    rows = table_rows(conns)
    rich_print = _rich_table_printer(ui) if sys.stdout.isatty() else None
    if rich_print is None:
        ui.out(plain_table(rows))
    else:
        rich_print(rows)
    ui.out(f"{len(conns)} connection{'' if len(conns) == 1 else 's'}")


def _rich_table_printer(ui: Ui) -> Callable[[Sequence[Sequence[str]]], None] | None:
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return None

    def print_rows(rows: Sequence[Sequence[str]]) -> None:
        table = Table(box=None, header_style="bold")
        for index, title in enumerate(rows[0]):
            # The id is what a user copies into the next command: never shorten it.
            width = max(len(row[index]) for row in rows) if index == 0 else None
            table.add_column(title, min_width=width)
        for row in rows[1:]:
            # Text, not str: a "[...]" in the server's data is not rich markup.
            table.add_row(*(Text(ui.redact(cell)) for cell in row))
        Console(file=sys.stdout).print(table)

    return print_rows


class Progress(Protocol):
    """Counts finished items while a long command runs."""

    def advance(self, ok: bool, status: str = "") -> None:
        """Count one finished item; ``status`` is a short live note (e.g. the current rate)."""

    def note(self, text: str) -> None:
        """Print a line on stderr without breaking the bar."""


class _PlainProgress:
    def __init__(self, ui: Ui) -> None:
        self._ui = ui

    def advance(self, ok: bool, status: str = "") -> None:
        pass

    def note(self, text: str) -> None:
        self._ui.err(text)


@contextmanager
def progress(ui: Ui, description: str, total: int | None) -> Iterator[Progress]:
    """Show a rich progress bar on stderr when it is a terminal and rich is installed.

    Otherwise nothing is drawn; the command prints its summary line at the end.
    """
    if sys.stderr.isatty() and rich_available():
        with _rich_progress(ui, description, total) as bar:
            yield bar
    else:
        yield _PlainProgress(ui)


@contextmanager
def _rich_progress(ui: Ui, description: str, total: int | None) -> Iterator[Progress]:
    from rich import progress as rp
    from rich.console import Console

    columns = (
        rp.TextColumn("[progress.description]{task.description}"),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TextColumn("{task.fields[failed]} failed"),
        rp.TimeElapsedColumn(),
        rp.TextColumn("{task.fields[status]}"),
    )
    with rp.Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total, failed=0, status="")
        yield _RichProgress(ui, bar, task)


class _RichProgress:
    def __init__(self, ui: Ui, bar: Any, task: Any) -> None:
        self._ui, self._bar, self._task = ui, bar, task
        self._failed = 0

    def advance(self, ok: bool, status: str = "") -> None:
        self._failed += not ok
        self._bar.update(self._task, advance=1, failed=self._failed, status=status)

    def note(self, text: str) -> None:
        self._bar.console.print(
            self._ui.redact(text), markup=False, highlight=False, soft_wrap=True
        )


def rich_available() -> bool:
    """Tell whether rich can be imported (the ``cli`` extra is installed)."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True
