"""Resuming a bulk run from its report: which rows are done, whether the input is the same.

``--resume REPORT`` re-reads the input and the report of an earlier run. Rows recorded ``ok``
are not sent again; every other row is. A report row is matched to the input by its line
number and connection id: if any differs, the input changed and the run is refused before
anything is sent. The new rows are appended to the same report, so resuming twice is
harmless: the second run finds every row ``ok`` and sends nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
from typing import Final, NamedTuple, NoReturn, TextIO

from .._common import PROG, CommandError
from .input import LineSource, records

CARRIED_OPTIONS: Final = (
    ("failed", "--failed"),
    ("concurrency", "--concurrency"),
    ("rate_per_minute", "--rate-per-minute"),
    ("grace", "--grace"),
    ("progress_every", "--progress-every"),
    ("user_id", "--user-id"),
    ("base_url", "--base-url"),
)
"""The options (dest, flag) that a resume command repeats when they were given."""
CARRIED_FLAGS: Final = (("strict", "--strict"), ("quiet", "--quiet"))


class Earlier(NamedTuple):
    """What an earlier run's report says.

    Attributes:
        path: the report.
        ids: input line -> the connection id the report gives it.
        done: the input lines recorded ``ok``.
        keep: how many bytes of the file are whole rows (a row cut off by a crash is not).
    """

    path: str
    ids: dict[int, str | None]
    done: frozenset[int]
    keep: int


def read_report(path: str) -> Earlier:
    """Read a bulk report.

    Raises:
        CommandError: it cannot be read, or a line of it is not a report row.
    """
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    keep = len(data)
    if _row(lines[-1]) is None and lines[-1].strip():
        keep -= len(lines[-1])  # the last row was cut off: it says nothing, and goes
        lines[-1] = b""
    ids: dict[int, str | None] = {}
    done: set[int] = set()
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        row = _row(text)
        if row is None:
            raise CommandError(f"cannot resume: {path}: line {number} is not a bulk report row")
        line, connection_id, ok = row
        if ids.setdefault(line, connection_id) != connection_id:
            raise CommandError(
                f"cannot resume: {path} gives line {line} two connection ids: it holds "
                "reports of different inputs"
            )
        if ok:
            done.add(line)
    return Earlier(path, ids, frozenset(done), keep)


def _row(text: bytes) -> tuple[int, str | None, bool] | None:
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(row, dict):
        return None
    line = row.get("line")
    connection_id = row.get("connectionId")
    ok = row.get("ok")
    if type(line) is not int or line < 1 or not isinstance(ok, bool):
        return None
    if connection_id is not None and not isinstance(connection_id, str):
        return None
    return line, connection_id, ok


def rows_to_send(source: LineSource, earlier: Earlier) -> int:
    """Check that ``source`` is the input ``earlier`` reported on; count the rows not ok.

    Raises:
        CommandError: a report row's line is no record of the input, or names another id.
    """
    entries, _ = records(source)
    todo = 0
    matched = set()
    with contextlib.closing(entries):
        for entry in entries:
            todo += entry.line not in earlier.done
            if entry.line not in earlier.ids:
                continue
            matched.add(entry.line)
            reported = earlier.ids[entry.line]
            if reported != entry.connection_id:
                _changed(
                    source,
                    earlier,
                    f"line {entry.line} is {entry.connection_id} in it "
                    f"but {reported} in the report",
                )
    missing = sorted(set(earlier.ids) - matched)
    if missing:
        _changed(source, earlier, f"the report has line {missing[0]}, which it has no row on")
    return todo


def rows_behind(earlier: Earlier) -> list[int]:
    """The lines to send again whose connection a later row, recorded ``ok``, has updated.

    Sending such a row again writes its values over the later row's.
    """
    last_ok: dict[str, int] = {}
    for line in earlier.done:
        connection_id = earlier.ids[line]
        if connection_id is not None:
            last_ok[connection_id] = max(last_ok.get(connection_id, 0), line)
    return sorted(
        line
        for line, connection_id in earlier.ids.items()
        if line not in earlier.done and last_ok.get(connection_id or "", 0) > line
    )


def _changed(source: LineSource, earlier: Earlier, detail: str) -> NoReturn:
    raise CommandError(
        f"cannot resume: {source.name} changed since {earlier.path} was written ({detail}); "
        "resume with the input the report was written for"
    )


def open_for_append(earlier: Earlier) -> TextIO:
    """Open the report to add rows: a row cut off by a crash is dropped first.

    Raises:
        OSError: it cannot be written.
    """
    with open(earlier.path, "r+b") as file:
        file.truncate(earlier.keep)
        if earlier.keep:
            file.seek(earlier.keep - 1)
            if file.read(1) != b"\n":
                file.write(b"\n")
    # Line-buffered, so a long run can be followed with tail -f.
    return open(earlier.path, "a", encoding="utf-8", newline="", buffering=1)


def resume_command(args: argparse.Namespace, report: str) -> str:
    """The command that resumes this run: the same options, and ``--resume REPORT``.

    ``--api-key`` is left out: a key is never printed (set ``MEETERGO_API_KEY``, or add it).
    """
    words = [PROG, "bulk", args.file]
    for dest, flag in CARRIED_OPTIONS:
        value = getattr(args, dest, None)
        if value is not None:
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    words += [flag for dest, flag in CARRIED_FLAGS if getattr(args, dest, False)]
    return shlex.join([*words, "--resume", report])
