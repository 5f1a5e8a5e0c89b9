"""The ``bulk`` command: many updates from a JSON Lines or CSV file, with a per-row report.

A run can be stopped in order (Ctrl-C or SIGTERM: the requests in flight get ``--grace``
seconds to finish, every row read is reported) and resumed from its report (``--resume``).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from meetergo_async import MeetergoClient, SlidingWindow

from ._bulk_dispatch import Dispatch
from ._bulk_fields import FIELDS
from ._bulk_files import check_paths, open_output, open_report, report_path
from ._bulk_input import count_records, records
from ._bulk_report import MAX_PRINTED_FAILURES, Ledger, with_newline
from ._bulk_resume import Earlier, read_report, resume_command, rows_behind, rows_to_send
from ._bulk_source import STDIN, LineSource
from ._common import EXIT_FAILED, EXIT_OK, PROG, CommandError, Ui
from ._interrupts import DEFAULT_GRACE, Interrupts, drive
from ._options import (
    make_client,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from ._progress import DEFAULT_PROGRESS_EVERY, Progress, progress

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

The report has one JSON object a line for each row read, in input order:
  {{"line": 3, "connectionId": "conn-1", "outcome": "failed", "ok": false, "status": 404,
   "error": "...", "attempts": 1}}
outcome is ok, failed or interrupted (in flight when the run stopped, no answer came: it may
have been applied); status is the HTTP status of a refusal, else null. The failed file holds
the input lines not updated, verbatim (CSV: after the header row).

Ctrl-C or SIGTERM stops in order: no new row is read, the requests in flight get --grace
seconds, every row read is reported, and the command to resume is printed. A second signal
stops at once, after writing what is known.

exit status: 0 all updated, 1 some failed, 2 bad usage or input (with --strict nothing is
sent), 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM
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
    parser.add_argument("--report", metavar="OUT.jsonl", help="write one JSON object per row")
    parser.add_argument("--failed", metavar="FILE", help="write the rows not updated here")
    parser.add_argument(
        "--resume",
        metavar="REPORT",
        help="send only the rows REPORT does not record ok (same input required); append to it",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, metavar="N", help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--rate-per-minute",
        type=non_negative_int,
        metavar="N",
        help="at most N requests in any 60 s (default 100, meetergo's limit); 0: no pacing",
    )
    parser.add_argument(
        "--strict", action="store_true", help="check every line first; send nothing if any is bad"
    )
    _add_run_options(parser)
    parser.set_defaults(handler=run)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grace",
        type=non_negative_float,
        metavar="S",
        help=f"on Ctrl-C/SIGTERM, seconds for requests in flight to finish (default "
        f"{DEFAULT_GRACE:g})",
    )
    parser.add_argument(
        "--progress-every",
        type=positive_float,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal (default "
        f"{DEFAULT_PROGRESS_EVERY:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="show no progress bar or lines")


class _Plan(NamedTuple):
    source: LineSource
    report: str | None
    earlier: Earlier | None
    total: int | None


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``bulk`` command."""
    client = make_client(args, **_client_options(args))
    plan = _plan(args, ui)
    if plan.earlier is not None and plan.total == 0:
        ui.out(
            f"bulk: nothing to resume: every row of {plan.source.name} is recorded ok in "
            f"{plan.earlier.path}"
        )
        return EXIT_OK
    interrupts = Interrupts()
    started = time.monotonic()
    with interrupts.installed():
        ledger, dispatch, unread = await _run_all(client, plan, args, ui, interrupts)
    # After the progress bar has closed, which holds stdout while it is drawn.
    ui.out(ledger.summary(time.monotonic() - started, client.stats))
    _print_notes(ui, plan, dispatch)
    if interrupts.exit_status is not None:
        _print_resume(ui, args, plan, interrupts, unread)
        return interrupts.exit_status
    return EXIT_OK if ledger.failures == 0 else EXIT_FAILED


def _plan(args: argparse.Namespace, ui: Ui) -> _Plan:
    report = report_path(args)
    check_paths(args, report)
    source = LineSource(args.file, replayable=args.strict or args.resume is not None)
    if args.strict:
        _validate(source, ui)
    if args.resume is None:
        return _Plan(source, report, None, None if args.quiet else count_records(source))
    earlier = read_report(args.resume)
    plan = _Plan(source, report, earlier, rows_to_send(source, earlier))
    behind = rows_behind(earlier)
    if behind:
        more = f" and {len(behind) - 1} more" if len(behind) > 1 else ""
        ui.err(
            f"bulk: warning: line {behind[0]}{more} will be sent again although a later row "
            "for the same connection is recorded ok: that later update may be undone"
        )
    return plan


async def _run_all(
    client: MeetergoClient, plan: _Plan, args: argparse.Namespace, ui: Ui, interrupts: Interrupts
) -> tuple[Ledger, Dispatch, int | None]:
    entries, header = records(plan.source)
    every = args.progress_every or DEFAULT_PROGRESS_EVERY
    grace = DEFAULT_GRACE if args.grace is None else args.grace
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(contextlib.closing(entries))
        report = open_report(stack, plan.report, plan.earlier)
        failed = open_output(stack, args.failed)
        if failed is not None and header is not None:
            failed.write(with_newline(header))
        bar = await stack.enter_async_context(
            progress(ui, "updating", plan.total, every=every, quiet=args.quiet)
        )
        ledger = Ledger(ui, bar, report, failed, plan.report)
        skip = plan.earlier.done if plan.earlier is not None else ()
        dispatch = Dispatch(ui, entries, ledger, interrupts, skip)
        async with client:
            stopping = _stopping_notice(bar, interrupts, dispatch, grace)
            await drive(dispatch.send_all(client), interrupts, grace, stopping)
        dispatch.abandon(interrupts.name)
        unread = dispatch.unread(plan.source) if interrupts.requested else 0
    return ledger, dispatch, unread


def _stopping_notice(
    bar: Progress, interrupts: Interrupts, dispatch: Dispatch, grace: float
) -> Callable[[], None]:
    def notice() -> None:
        bar.note(
            f"{PROG}: {interrupts.name}: stopping; no more rows are read, the "
            f"{len(dispatch.in_flight)} in flight get up to {grace:g}s to finish "
            "(a second Ctrl-C or SIGTERM stops at once)"
        )

    return notice


def _print_notes(ui: Ui, plan: _Plan, dispatch: Dispatch) -> None:
    if plan.earlier is not None:
        done = len(plan.earlier.done)
        ui.out(f"bulk: resumed from {plan.earlier.path}: {done} rows recorded ok not sent again")
    ids, rows = dispatch.repeated()
    if ids:
        ui.out(
            f"bulk: {ids} connection id(s) appeared more than once ({rows} rows): they were "
            "applied in input order, so the last row of each stays"
        )


def _print_resume(
    ui: Ui, args: argparse.Namespace, plan: _Plan, interrupts: Interrupts, unread: int | None
) -> None:
    left = "the rows after them were not read" if unread is None else f"{unread} rows not read"
    if plan.report is None:
        ui.out(
            f"bulk: stopped by {interrupts.name}; {left}. No --report was given, so this run "
            "cannot be resumed; the rows read are listed above"
        )
        return
    ui.out(f"bulk: stopped by {interrupts.name}; {left}. To resume:")
    ui.out(f"  {resume_command(args, plan.report)}")
    if args.file == STDIN:
        ui.out("  (with the same input on stdin)")
    if args.api_key is not None:
        ui.out("  (with --api-key KEY added, or MEETERGO_API_KEY set: a key is never printed)")


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.concurrency is not None:
        options["max_concurrency"] = args.concurrency
    if args.rate_per_minute is not None:
        # 0 turns pacing off, as `sandbox --rate-per-minute 0` turns the server's limit off.
        limit = args.rate_per_minute
        options["rate_limit"] = SlidingWindow(limit, 60.0) if limit else None
    return options


def _validate(source: LineSource, ui: Ui) -> None:
    entries, _ = records(source)
    with contextlib.closing(entries):
        bad = [entry for entry in entries if entry.error is not None]
    for entry in bad[:MAX_PRINTED_FAILURES]:
        ui.err(f"line {entry.line}: {entry.error}")
    if bad:
        lines = "line" if len(bad) == 1 else "lines"
        raise CommandError(f"{source.name}: {len(bad)} malformed {lines}; --strict: nothing sent")
