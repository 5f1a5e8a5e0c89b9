"""Running the ``bulk`` command: plan the run, send the rows, report each, say how to resume."""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from meetergo_async import DEFAULT_RATE_LIMIT, MeetergoClient, SlidingWindow

from .._common import EXIT_FAILED, EXIT_OK, PROG, CommandError, Ui
from .._eta import Projection
from .._interrupts import DEFAULT_GRACE, Interrupts, drive
from .._options import credentials, in_words, make_client
from .._progress import DEFAULT_PROGRESS_EVERY, Progress, progress
from ._dispatch import Dispatch
from ._dry_run import dry_run
from ._report import (
    MAX_PRINTED_FAILURES,
    ReportWriter,
    check_paths,
    open_output,
    open_report,
    report_path,
    with_newline,
)
from ._resume import Earlier, read_report, resume_command, rows_behind, rows_to_send
from .input import STDIN, LineSource, count_records, records

ENV_REDIS_URL: Final = "MEETERGO_REDIS_URL"
"""Where ``--redis-url`` is read from when the option is not given."""


class _Plan(NamedTuple):
    source: LineSource
    report: str | None
    earlier: Earlier | None
    total: int | None


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``bulk`` command."""
    projection = Projection()
    client = make_client(args, on_event=projection.on_event, **_client_options(args))
    if args.dry_run:
        return await dry_run(args, ui, client, credentials(args)["user_id"][0], _budget(args))
    if args.json:
        raise CommandError("--json prints a dry run's plan: it goes with --dry-run")
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
        writer, dispatch, unread = await _run_all(client, plan, args, ui, interrupts, projection)
    # After the progress bar has closed, which holds stdout while it is drawn.
    ui.out(writer.summary(time.monotonic() - started, client.stats))
    _print_notes(ui, plan, dispatch)
    if interrupts.exit_status is not None:
        _print_resume(ui, args, plan, interrupts, unread)
        return interrupts.exit_status
    return EXIT_OK if writer.failures == 0 else EXIT_FAILED


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
    client: MeetergoClient,
    plan: _Plan,
    args: argparse.Namespace,
    ui: Ui,
    interrupts: Interrupts,
    projection: Projection,
) -> tuple[ReportWriter, Dispatch, int | None]:
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
            progress(
                ui, "updating", plan.total, every=every, quiet=args.quiet, projection=projection
            )
        )
        writer = ReportWriter(ui, bar, report, failed, plan.report)
        if plan.total is not None:
            projection.bind(client.forecast, functools.partial(_unsent, plan.total, client, writer))
        skip = plan.earlier.done if plan.earlier is not None else ()
        dispatch = Dispatch(ui, entries, writer, interrupts, skip)
        async with client:
            stopping = _stopping_notice(bar, interrupts, dispatch, grace)
            await drive(dispatch.send_all(client), interrupts, grace, stopping)
        dispatch.abandon(interrupts.name)
        unread = dispatch.unread(plan.source) if interrupts.requested else 0
    return writer, dispatch, unread


def _unsent(total: int, client: MeetergoClient, writer: ReportWriter) -> int:
    """The rows not sent yet: neither malformed nor with an attempt out (a row whose retry
    waits counts again, as it needs a turn again)."""
    stats = client.stats
    return total - writer.malformed - (stats.requests - stats.retries)


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
    redis_url = _redis_url(args)
    if redis_url is not None:
        window = options.get("rate_limit", DEFAULT_RATE_LIMIT)
        if window is None:
            raise CommandError("--redis-url shares a limit: it cannot go with --rate-per-minute 0")
        options["rate_limit"] = _shared_budget(redis_url, window, args.redis_url is None)
    return options


def _redis_url(args: argparse.Namespace) -> str | None:
    return args.redis_url or os.environ.get(ENV_REDIS_URL, "").strip() or None


def _budget(args: argparse.Namespace) -> str:
    """The limit a run would keep to, in words."""
    limit = DEFAULT_RATE_LIMIT.limit if args.rate_per_minute is None else args.rate_per_minute
    if not limit:
        return "no limit (--rate-per-minute 0)"
    shared = ", the key's budget shared through Redis" if _redis_url(args) else ""
    return f"{limit} requests in any 60 s{shared}"


def _shared_budget(url: str, window: SlidingWindow, from_env: bool) -> Any:
    """A ``RedisBudget`` on ``url``, loaded only when asked for (the ``redis`` extra)."""
    source = ENV_REDIS_URL if from_env else "--redis-url"
    try:
        from meetergo_async.redis import RedisBudget
    except ImportError:
        raise CommandError(
            f'{source} needs the redis extra: pip install "meetergo-async[redis]"'
        ) from None
    try:
        return RedisBudget(url, window)
    except (TypeError, ValueError) as exc:
        raise CommandError(in_words(exc, {"redis": source})) from None


def _validate(source: LineSource, ui: Ui) -> None:
    entries, _ = records(source)
    with contextlib.closing(entries):
        bad = [entry for entry in entries if entry.error is not None]
    for entry in bad[:MAX_PRINTED_FAILURES]:
        ui.err(f"line {entry.line}: {entry.error}")
    if bad:
        lines = "line" if len(bad) == 1 else "lines"
        raise CommandError(f"{source.name}: {len(bad)} malformed {lines}; --strict: nothing sent")
