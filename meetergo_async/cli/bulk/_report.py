"""The bulk command's report: one JSON object per input row, written in input order.

Each row read ends in it exactly once per run::

    {"line": 3, "connectionId": "conn-1", "outcome": "failed", "ok": false, "status": 404,
     "error": "...", "attempts": 1}

``outcome`` is ``ok``, ``failed`` (``error`` says why) or ``interrupted`` (in flight when the
run was stopped, no answer came: it may have been applied); a dry run's plan says
``planned`` or ``malformed``, never ``ok``. ``ReportWriter`` counts the
outcomes, prints failures and writes the report and the failed file. Both files are checked
before anything is sent: never the input itself, never stdout, never one file for both.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from typing import Final, NamedTuple, TextIO

from meetergo_async import APIStatusError, ClientStats, UpdateResult

from .._common import CommandError, Ui
from .._progress import Progress
from ._resume import Earlier, open_for_append
from .input import STDIN, Entry

MAX_PRINTED_FAILURES: Final = 50
"""Failures beyond this many are only in the report, not on stderr."""
OK: Final = "ok"
FAILED: Final = "failed"
INTERRUPTED: Final = "interrupted"
PLANNED: Final = "planned"
"""A dry run's valid row: it would be sent (never ``ok``, so ``--resume`` sends it)."""
MALFORMED: Final = "malformed"
"""A dry run's malformed row: a real run would record it ``failed``, with the same error."""


class Outcome(NamedTuple):
    """How one input row ended, as the report tells it.

    Attributes:
        outcome: ``ok``, ``failed`` or ``interrupted``.
        status: the HTTP status of a refusal, else ``None``.
        error: why it failed, else ``None``.
        attempts: requests sent for it; ``None`` when not known (interrupted).
    """

    outcome: str
    status: int | None
    error: str | None
    attempts: int | None

    @property
    def ok(self) -> bool:
        """Whether the row was updated."""
        return self.outcome == OK


def outcome_of(entry: Entry, result: UpdateResult | None, ui: Ui) -> Outcome:
    """The outcome of a sent row (``result``), or of a malformed one (``result`` is ``None``)."""
    if result is None:
        return Outcome(FAILED, None, entry.error, 0)
    error = result.error
    if error is None:
        return Outcome(OK, None, None, result.attempts)
    status = error.status if isinstance(error, APIStatusError) else None
    return Outcome(FAILED, status, ui.redact(str(error) or type(error).__name__), result.attempts)


def interrupted(signal_name: str) -> Outcome:
    """The outcome of a row still in flight when a ``signal_name`` stopped the run."""
    why = f"stopped by {signal_name} before an answer came: it may have been applied"
    return Outcome(INTERRUPTED, None, why, None)


class ReportWriter:
    """Counts outcomes, prints failures, and writes the report and failed files in input order.

    Outcomes arrive in completion order; each waits in a buffer until every earlier row has
    been written, so the files follow the input.

    Args:
        report_name: the report's path, named when failures are too many to print.
    """

    def __init__(
        self,
        ui: Ui,
        bar: Progress,
        report: TextIO | None,
        failed: TextIO | None,
        report_name: str | None,
    ) -> None:
        self._ui = ui
        self._bar = bar
        self._report = report
        self._failed = failed
        self._report_name = report_name
        self._waiting: dict[int, tuple[Entry, Outcome]] = {}
        self._next = 0
        self.ok = 0
        self.failures = 0
        self.malformed = 0
        self.interrupted = 0

    def record(self, seq: int, entry: Entry, outcome: Outcome, *, malformed: bool = False) -> None:
        """Count the ``seq``-th row's outcome and write every row that is now in order."""
        self._count(entry, outcome, malformed=malformed)
        self._waiting[seq] = (entry, outcome)
        while self._next in self._waiting:
            self._write(*self._waiting.pop(self._next))
            self._next += 1

    def _count(self, entry: Entry, outcome: Outcome, *, malformed: bool) -> None:
        if outcome.outcome == INTERRUPTED:
            self.interrupted += 1
            return
        self._bar.advance(outcome.ok)
        if outcome.ok:
            self.ok += 1
            return
        self.failures += 1
        self.malformed += malformed
        if self.failures <= MAX_PRINTED_FAILURES:
            where = f" ({entry.connection_id})" if entry.connection_id and not malformed else ""
            self._bar.note(f"line {entry.line}{where}: {outcome.error}")
        elif self.failures == MAX_PRINTED_FAILURES + 1:
            name = self._report_name
            where = f"all are in {name}" if name else "pass --report to keep every one"
            self._bar.note(f"... more failures are not shown here ({where})")

    def _write(self, entry: Entry, outcome: Outcome) -> None:
        if self._report is not None:
            self._report.write(report_line(entry, outcome))
        if self._failed is not None and not outcome.ok:
            self._failed.write(with_newline(entry.text))

    def summary(self, elapsed: float, stats: ClientStats) -> str:
        """One line: how many were updated, failed and interrupted, and what it took."""
        total = self.ok + self.failures + self.interrupted
        bad = f" ({self.malformed} malformed)" if self.malformed else ""
        stopped = f", {self.interrupted} interrupted" if self.interrupted else ""
        return (
            f"bulk: {self.ok} of {total} updated, {self.failures} failed{bad}{stopped} in "
            f"{elapsed:.1f}s; {stats.requests} requests, {stats.retries} retries, "
            f"{stats.rate_limited} rate-limited (429)"
        )


def report_line(entry: Entry, outcome: Outcome) -> str:
    """The report's line for one row (a JSON object and a line break)."""
    row = {
        "line": entry.line,
        "connectionId": entry.connection_id,
        "outcome": outcome.outcome,
        "ok": outcome.ok,
        "status": outcome.status,
        "error": outcome.error,
        "attempts": outcome.attempts,
    }
    return json.dumps(row, ensure_ascii=False) + "\n"


def with_newline(text: str) -> str:
    """``text`` ending in a line break."""
    return text if text.endswith(("\n", "\r")) else text + "\n"


def report_path(args: argparse.Namespace) -> str | None:
    """The report to write: ``--resume``'s (which ``--report`` may repeat), else ``--report``.

    Raises:
        CommandError: ``--report`` names another file than ``--resume``.
    """
    if args.resume is None:
        return args.report  # type: ignore[no-any-return]
    if args.report is not None and not _same_file(args.report, args.resume):
        raise CommandError("--resume appends to its own report: leave --report out")
    return args.resume  # type: ignore[no-any-return]


def check_paths(args: argparse.Namespace, report: str | None) -> None:
    """Refuse outputs that are ``-``, the input file, or one file for both.

    Raises:
        CommandError: one of those.
    """
    outputs = [p for p in (report, args.failed) if p is not None]
    if len(outputs) == 2 and _same_file(outputs[0], outputs[1]):
        raise CommandError("--report and --failed must be different files")
    for output in outputs:
        if output == STDIN:
            raise CommandError("--report, --resume and --failed take a file name, not -")
        if args.file != STDIN and _same_file(output, args.file):
            raise CommandError(f"{output} is the input file: writing it would destroy the input")


def _same_file(a: str, b: str) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


def open_report(
    stack: contextlib.AsyncExitStack, path: str | None, earlier: Earlier | None
) -> TextIO | None:
    """Open the report for the run (closed with ``stack``): appended to when resuming.

    Raises:
        CommandError: it cannot be written.
    """
    if earlier is None:
        return open_output(stack, path)
    try:
        return stack.enter_context(open_for_append(earlier))
    except OSError as exc:
        raise CommandError(f"cannot write {earlier.path}: {exc.strerror or exc}") from None


def open_output(stack: contextlib.AsyncExitStack, path: str | None) -> TextIO | None:
    """Open ``path`` anew for writing (closed with ``stack``), or give ``None`` for no path.

    Raises:
        CommandError: it cannot be written.
    """
    if path is None:
        return None
    try:
        # Line-buffered, so a long run can be followed with tail -f.
        file = open(path, "w", encoding="utf-8", newline="", buffering=1)  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    return stack.enter_context(file)
