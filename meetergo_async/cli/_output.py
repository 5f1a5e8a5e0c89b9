"""How the command line shows connections: a table of them, or one in detail.

``rich`` (the ``cli`` extra) draws the table when stdout is a terminal; without it, or when
the output is piped, plain columns are printed instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

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
