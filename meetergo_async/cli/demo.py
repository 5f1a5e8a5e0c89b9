"""The ``demo`` command: a bulk update against an in-process FakeMeetergo, then a summary."""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from meetergo_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    CalendarConnectionUpdate,
    ClientStats,
    MeetergoClient,
    RetryEvent,
    SlidingWindow,
    UpdateRequest,
    to_dict,
)

from ._common import EXIT_FAILED, EXIT_OK, Ui
from ._options import non_negative_int, positive_float, positive_int
from ._progress import Progress, progress

if TYPE_CHECKING:
    from meetergo_async.testing import FakeMeetergo

DEMO_CONNECTIONS: Final = 300
DEMO_SERVER_RATE: Final = 25.0
"""The fake's limit, requests a second on average: 300 updates take about 13 s."""
DEMO_WINDOW: Final = 2.0
"""The window of the fake's throttler and the client's, in seconds (meetergo's is 60)."""
DEMO_PROGRESS_EVERY: Final = 2.0
"""Seconds between progress lines when stderr is not a terminal."""
_DESCRIPTION: Final = (
    "Run a bulk update against a local FakeMeetergo: no credentials, no network. The server "
    "counts requests as meetergo's throttler does (a sliding log; one request over the limit "
    "blocks the key for a window) and injects faults. The client is configured too fast on "
    "purpose (twice the server's limit by default), so the run shows it keeping to the "
    "server's limit, retrying 503s and cut connections, and still updating every connection "
    "exactly as asked, which is checked against the server's state at the end."
)
DEMO_FAULTS: Final[Mapping[str, Any]] = {
    "fail_rate": 0.05,
    "fail_statuses": (503,),
    "drop_before_rate": 0.01,
    "drop_after_rate": 0.01,
}


def register(subparsers: Any) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="bulk-update a local fake meetergo (no credentials, no network)",
        description=_DESCRIPTION,
        epilog="exit status: 0 every update made and verified, 1 otherwise",
    )
    parser.add_argument(
        "--connections",
        type=positive_int,
        default=DEMO_CONNECTIONS,
        metavar="N",
        help=f"how many connections to update (default {DEMO_CONNECTIONS})",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="seed of faults and updates"
    )
    parser.add_argument(
        "--server-rate",
        type=positive_float,
        default=DEMO_SERVER_RATE,
        metavar="R",
        help=f"the server's limit: R x {DEMO_WINDOW:g} requests in any {DEMO_WINDOW:g} s "
        f"(default {DEMO_SERVER_RATE:g})",
    )
    parser.add_argument(
        "--client-rate",
        type=positive_float,
        metavar="R",
        help="the client's configured limit, the same way (default: twice --server-rate)",
    )
    _add_output_options(parser)
    parser.set_defaults(handler=run)


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress-every",
        type=positive_float,
        default=DEMO_PROGRESS_EVERY,
        metavar="S",
        help=f"seconds between progress lines when stderr is not a terminal (default "
        f"{DEMO_PROGRESS_EVERY:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="show no progress bar or lines")


def demo_updates(ids: Sequence[str], seed: int) -> list[UpdateRequest]:
    """One update per connection, every field set, each different from the fake's defaults."""
    rng = random.Random(seed)
    requests = []
    for index, connection_id in enumerate(ids):
        work = f"work-{index:04d}"
        update = CalendarConnectionUpdate(
            primary_calendar=work,
            selected_calendars=[work, "primary"] + ["holidays"] * rng.randint(0, 1),
            validate_availability=rng.random() < 0.5,
            cancel_if_declined_or_deleted=rng.random() < 0.5,
            disable_attendee_notification=rng.random() < 0.5,
            sync_buffers_to_calendar=True,
        )
        requests.append(UpdateRequest(connection_id, update))
    return requests


def verify(state: Mapping[str, Mapping[str, Any]], requests: Sequence[UpdateRequest]) -> int:
    """Count the requests whose every field equals the connection's state on the server."""
    return sum(
        all(state[r.connection_id].get(k) == v for k, v in to_dict(r.update).items())
        for r in requests
    )


def _retry_kind(event: RetryEvent) -> str:
    error = event.error
    if isinstance(error, APIStatusError):
        return str(error.status)
    if isinstance(error, APITimeoutError):
        return "timeout"
    return "cut connection" if isinstance(error, APIConnectionError) else type(error).__name__


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``demo`` command."""
    # Imported here, not at the top: the sandbox pulls in aiohttp's server, which the
    # commands that reach the real API never need.
    from meetergo_async.testing import FakeMeetergo, NestThrottler

    limits = _Limits.of(args.server_rate, args.client_rate or 2 * args.server_rate)
    retries: Counter[str] = Counter()
    fake = FakeMeetergo(
        generate=args.connections,
        rate_limit=NestThrottler(limits.server, DEMO_WINDOW),
        seed=args.seed,
        record_requests=False,
        **DEMO_FAULTS,
    )
    async with fake:
        requests = demo_updates(list(fake.connections), args.seed)
        client = _make_client(fake, SlidingWindow(limits.client, DEMO_WINDOW), retries)
        ui.out("\n".join(_setup_lines(len(requests), limits, args.seed)))
        started = time.monotonic()
        shown = progress(ui, "updating", len(requests), every=args.progress_every, quiet=args.quiet)
        async with client, shown as bar:
            failed = await _update(client, requests, bar)
        elapsed = time.monotonic() - started
        verified = verify(fake.connections, requests)
        report = _Report(len(requests), failed, verified, elapsed, retries)
        ui.out("\n".join(_summary_lines(report, client.stats, fake, limits)))
    return EXIT_OK if failed == 0 and verified == len(requests) else EXIT_FAILED


class _Limits(NamedTuple):
    """Requests in any ``DEMO_WINDOW``: the server's limit and the client's configured one."""

    server: int
    client: int

    @classmethod
    def of(cls, server_rate: float, client_rate: float) -> _Limits:
        return cls(*(max(1, round(rate * DEMO_WINDOW)) for rate in (server_rate, client_rate)))


def _make_client(fake: FakeMeetergo, pace: SlidingWindow, retries: Counter[str]) -> MeetergoClient:
    return MeetergoClient(
        api_key=fake.api_key,
        user_id=fake.user_id,
        base_url=fake.url,
        rate_limit=pace,
        on_retry=lambda event: retries.update([_retry_kind(event)]),
    )


async def _update(client: MeetergoClient, requests: list[UpdateRequest], bar: Progress) -> int:
    failed = 0
    async for result in client.iter_update_calendar_connections(requests):
        failed += not result.ok
        if result.error is not None:
            bar.note(f"{result.connection_id}: {result.error}")
        bar.advance(result.ok, f"client pace {client.stats.rate or 0:.1f} req/s")
    return failed


def _setup_lines(count: int, limits: _Limits, seed: int) -> list[str]:
    faults = DEMO_FAULTS
    window = f"{DEMO_WINDOW:g} s"
    ratio = limits.client / limits.server
    why = f"{ratio:.3g}x the server's limit on purpose"
    return [
        f"meetergo-async demo: {count} updates against a local FakeMeetergo (no network)",
        f"  server    meetergo's throttler: at most {limits.server} requests in any {window} "
        f"(an overshoot blocks the key for {window})",
        f"  faults    (seed {seed}) {faults['fail_rate']:.0%} answered 503, "
        f"{faults['drop_before_rate']:.0%} cut before applying, "
        f"{faults['drop_after_rate']:.0%} after",
        f"  client    SlidingWindow({limits.client}, {DEMO_WINDOW:g})"
        + (f": {why}" if ratio > 1 else ", within the server's limit"),
    ]


class _Report(NamedTuple):
    total: int
    failed: int
    verified: int
    elapsed: float
    retries: Counter[str]


def _summary_lines(
    report: _Report, stats: ClientStats, fake: FakeMeetergo, limits: _Limits
) -> list[str]:
    total = report.total
    elapsed = report.elapsed
    statuses = fake.status_counts
    why = ", ".join(f"{n} after a {kind}" for kind, n in report.retries.most_common())
    # A 503 fault is answered before the rate limit counts the request; the rest passed it.
    let_through = statuses.total() - statuses[429] - statuses[503]
    client_rate = limits.client / DEMO_WINDOW
    pace = stats.rate or client_rate
    adapted = f"kept to its configured {client_rate:g} req/s"
    if pace < client_rate:
        adapted = (
            f"went from {client_rate:g} to {pace:g} req/s: the server's limit, read from its "
            "X-RateLimit-Limit header"
        )
    blocked = "never blocked" if statuses[429] == 0 else "blocked after each overshoot"
    lines = [
        f"  result    {total - report.failed} updated, {report.failed} failed; "
        f"verified {report.verified}/{total} against the server's state",
        f"  requests  {stats.requests} sent, {stats.retries} retries ({why or 'none'})",
        f"  429s      {stats.rate_limited} seen by the client ({statuses[429]} sent by the "
        f"server): the key was {blocked}",
        f"  pacing    the client {adapted}",
        f"  time      {elapsed:.1f}s, {total / elapsed:.1f} updates/s",
        *rate_lines(let_through, elapsed, limits.server),
    ]
    again = sum(n - 1 for n in fake.update_counts.values() if n > 1)
    if again:
        lines.append(
            f"  applied   {again} update(s) again (cut after applying, then retried): "
            "harmless, each field is an absolute assignment"
        )
    return lines


def rate_lines(let_through: int, elapsed: float, limit: int) -> list[str]:
    """Say what the server let through: against its steady rate, and against its ceiling.

    Two measures of two things. The steady rate is the limit spread over its window (50 in
    any 2 s: 25 req/s), what a long run can keep to. The ceiling is the most a sliding log
    lets through in the run's time: a full window's worth at the start, and again every
    window after; a run that starts at the steady rate, as a paced client does, leaves the
    first burst unused, so it gets less of the ceiling than of the steady rate.
    """
    steady = limit / DEMO_WINDOW
    rate = let_through / elapsed
    most = limit * math.ceil(elapsed / DEMO_WINDOW)
    window = f"{DEMO_WINDOW:g} s"
    return [
        f"  rate      the server let through {let_through} requests, {rate:.1f} req/s over the "
        f"run: {rate / steady:.0%} of its steady limit, {steady:g} req/s ({limit} in any {window})",
        f"  ceiling   its sliding log allows at most {most} in {elapsed:.1f}s ({limit} at once at "
        f"the start, {limit} more every {window}): {let_through / most:.0%} of that was used",
    ]
