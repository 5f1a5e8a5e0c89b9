"""The ``bulk`` command: many updates from a JSON Lines or CSV file, with a per-line report."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, Final, NamedTuple, TextIO

from meetergo_async import (
    APIStatusError,
    ClientStats,
    MeetergoClient,
    RateLimit,
    UpdateRequest,
    UpdateResult,
)

from ._bulk_input import FIELDS, Entry, records
from ._bulk_source import STDIN, LineSource
from ._common import EXIT_FAILED, EXIT_OK, CommandError, Ui
from ._options import make_client, positive_float, positive_int
from ._output import Progress, progress

MAX_PRINTED_FAILURES: Final = 50
"""Failures beyond this many are only in the report, not on stderr."""
MAX_BURST: Final = 200
"""meetergo's documented burst: ``--rate-per-minute N`` allows a burst of min(N, 200)."""

_EPILOG: Final = f"""\
input:
  JSON Lines, one object a line:
    {{"connectionId": "conn-1", "validateAvailability": false, "selectedCalendars": ["primary"]}}
  or CSV with a header row:
    connectionId,primaryCalendar,selectedCalendars,validateAvailability
    conn-1,primary,primary;work,false
  fields: {", ".join(FIELDS)}
  (connectionId is required; userId names the owner, admins only; asUser acts as that user).
  CSV cells: empty leaves the field unset; selectedCalendars are separated by ";" and the
  cell [] clears them; booleans are true or false. Blank lines are skipped.

The report has one JSON line per input line, in input order:
  {{"line": 3, "connectionId": "conn-1", "ok": false, "status": 404, "error": "...", "attempts": 1}}
(status is the HTTP status of a refusal, null on success or when no answer came).
The failed file holds the failed input lines verbatim (CSV: after the header row): run the
same command on it to retry just them.

exit status: 0 all updated, 1 some failed, 2 bad usage or input (with --strict nothing is sent)
"""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``bulk`` command."""
    parser = subparsers.add_parser(
        "bulk",
        parents=parents,
        help="update many connections from a JSON Lines or CSV file",
        description="Update many calendar connections, paced under meetergo's rate limit.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="JSON Lines or CSV file; - reads stdin")
    parser.add_argument("--report", metavar="OUT.jsonl", help="write one JSON result a line")
    parser.add_argument("--failed", metavar="FILE", help="write the failed input lines here")
    parser.add_argument(
        "--concurrency", type=positive_int, metavar="N", help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--rate-per-minute",
        type=positive_float,
        metavar="N",
        help="pace to N requests a minute, bursts of min(N, 200) (default: 100, bursts of 200)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="check every line first; send nothing if any is bad"
    )
    parser.set_defaults(handler=run)


class Outcome(NamedTuple):
    """How one input line ended, as the report tells it."""

    ok: bool
    status: int | None
    error: str | None
    attempts: int


def _outcome(entry: Entry, result: UpdateResult | None, ui: Ui) -> Outcome:
    if result is None:
        return Outcome(False, None, entry.error, 0)
    error = result.error
    status = error.status if isinstance(error, APIStatusError) else None
    message = None if error is None else ui.redact(str(error) or type(error).__name__)
    return Outcome(result.ok, status, message, result.attempts)


class Ledger:
    """Counts outcomes, prints failures, and writes the report and failed files in input order.

    Outcomes arrive in completion order; each waits in a buffer until every earlier line has
    been written, so the files follow the input.
    """

    def __init__(self, ui: Ui, bar: Progress, report: TextIO | None, failed: TextIO | None) -> None:
        self._ui, self._bar = ui, bar
        self._report, self._failed = report, failed
        self._waiting: dict[int, tuple[Entry, Outcome]] = {}
        self._next = 0
        self.ok = self.failures = self.malformed = 0

    def record(self, seq: int, entry: Entry, result: UpdateResult | None) -> None:
        """Count the ``seq``-th entry's outcome (``result`` is ``None`` for a malformed line)."""
        outcome = _outcome(entry, result, self._ui)
        self._count(entry, outcome, malformed=result is None)
        self._waiting[seq] = (entry, outcome)
        while self._next in self._waiting:
            self._write(*self._waiting.pop(self._next))
            self._next += 1

    def _count(self, entry: Entry, outcome: Outcome, *, malformed: bool) -> None:
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
            self._bar.note("... more failures are not shown here (see --report)")

    def _write(self, entry: Entry, outcome: Outcome) -> None:
        if self._report is not None:
            row = {"line": entry.line, "connectionId": entry.connection_id, **outcome._asdict()}
            self._report.write(json.dumps(row, ensure_ascii=False) + "\n")
        if self._failed is not None and not outcome.ok:
            self._failed.write(_with_newline(entry.text))

    def summary(self, elapsed: float, stats: ClientStats) -> str:
        """One line: how many were updated and failed, and what it took."""
        total = self.ok + self.failures
        bad = f" ({self.malformed} malformed)" if self.malformed else ""
        return (
            f"bulk: {self.ok} of {total} updated, {self.failures} failed{bad} in {elapsed:.1f}s; "
            f"{stats.requests} requests, {stats.retries} retries, "
            f"{stats.rate_limited} rate-limited (429)"
        )


def _with_newline(text: str) -> str:
    return text if text.endswith(("\n", "\r")) else text + "\n"


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``bulk`` command."""
    client = make_client(args, **_client_options(args))
    _check_paths(args)
    source = LineSource(args.file, replayable=args.strict)
    if args.strict:
        _validate(source, ui)
    started = time.monotonic()
    ledger = await _run_all(client, source, args, ui)
    # After the progress bar has closed, which holds stdout while it is drawn.
    ui.out(ledger.summary(time.monotonic() - started, client.stats))
    return EXIT_OK if ledger.failures == 0 else EXIT_FAILED


async def _run_all(
    client: MeetergoClient, source: LineSource, args: argparse.Namespace, ui: Ui
) -> Ledger:
    entries, header = records(source)
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.closing(entries))
        report = _open_output(stack, args.report)
        failed = _open_output(stack, args.failed)
        if failed is not None and header is not None:
            failed.write(_with_newline(header))
        bar = stack.enter_context(progress(ui, "updating", _total(source, args, header)))
        ledger = Ledger(ui, bar, report, failed)
        async with client:
            await _update_all(client, entries, ledger)
    return ledger


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    if args.rate_per_minute is not None:
        burst = max(1, min(int(args.rate_per_minute), MAX_BURST))
        options["rate_limit"] = RateLimit.per_minute(args.rate_per_minute, burst=burst)
    return options


def _check_paths(args: argparse.Namespace) -> None:
    outputs = [p for p in (args.report, args.failed) if p is not None]
    if len(outputs) == 2 and _same_file(outputs[0], outputs[1]):
        raise CommandError("--report and --failed must be different files")
    for output in outputs:
        if output == STDIN:
            raise CommandError("--report and --failed take a file name, not -")
        if args.file != STDIN and _same_file(output, args.file):
            raise CommandError(f"{output} is the input file: writing it would destroy the input")


def _same_file(a: str, b: str) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


def _open_output(stack: contextlib.ExitStack, path: str | None) -> TextIO | None:
    if path is None:
        return None
    try:
        # Line-buffered, so a long run can be followed with tail -f.
        file = open(path, "w", encoding="utf-8", newline="", buffering=1)  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    return stack.enter_context(file)


def _validate(source: LineSource, ui: Ui) -> None:
    entries, _ = records(source)
    with contextlib.closing(entries):
        bad = [entry for entry in entries if entry.error is not None]
    for entry in bad[:MAX_PRINTED_FAILURES]:
        ui.err(f"line {entry.line}: {entry.error}")
    if bad:
        lines = "line" if len(bad) == 1 else "lines"
        raise CommandError(f"{source.name}: {len(bad)} malformed {lines}; --strict: nothing sent")


def _total(source: LineSource, args: argparse.Namespace, header: str | None) -> int | None:
    """Count the records for the progress bar (drawn only on a terminal), when cheap."""
    if not sys.stderr.isatty() or (args.file == STDIN and not args.strict):
        return None
    with contextlib.closing(source.lines()) as lines:
        count = sum(1 for line in lines if line.strip())
    return max(0, count - (header is not None))


async def _update_all(client: MeetergoClient, entries: Iterator[Entry], ledger: Ledger) -> None:
    """Send every well-formed entry; record each outcome, malformed lines included."""
    in_flight: dict[int, tuple[int, Entry]] = {}
    sent = itertools.count()

    def feed() -> Iterator[UpdateRequest]:
        # Pulled lazily by the client: a line is read only when a request slot is free.
        for seq, entry in enumerate(entries):
            if entry.request is None:
                ledger.record(seq, entry, None)
            else:
                in_flight[next(sent)] = (seq, entry)
                yield entry.request

    results = client.iter_update_calendar_connections(feed())
    # Close it even on an error, so nothing stays in flight.
    async with contextlib.aclosing(results) as stream:
        async for result in stream:
            seq, entry = in_flight.pop(result.index)
            ledger.record(seq, entry, result)
