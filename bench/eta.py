"""How true the ``bulk`` command's ETA is: each progress line's ETA against the time really left.

Runs ``meetergo-async bulk`` (in this process, as ``cli.run_async``) on ``--rows`` rows
against a FakeMeetergo that counts as meetergo's throttler does (``NestThrottler(limit,
window)``), with the client at the same limit, and a plain progress line every ``--every``
seconds; each line is stamped as it is printed. Then, for each line: the ETA it told, the
time really left (until the command returned) and their ratio. The target: from 10% of the
rows done on, every ratio within 25% of 1 at meetergo's limit (100 requests in 60 s), where
300 rows go in bursts of 100 at 0, 60 and 120 s.

A scaled run (``--window 6``) takes a tenth of the time; the command's own window is fixed
at 60 s, so this script swaps it for ``--window`` (the one thing it changes in the command).
ETAs are printed in whole seconds, which is coarse when the window is short.

    python bench/eta.py [--rows 300] [--limit 100] [--window 60] [--every 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import re
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from meetergo_async import SlidingWindow
from meetergo_async.cli import run_async
from meetergo_async.cli.bulk import _command
from meetergo_async.testing import FakeMeetergo, NestThrottler

_LINE = re.compile(r"updating: (\d+)/(\d+) .*ETA (?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
TARGET = 0.25
"""The largest relative error allowed once ``FROM`` of the rows are done."""
FROM = 0.10


class _Stamped(io.TextIOBase):
    """Stderr that notes when each line was written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def write(self, text: str) -> int:
        now = time.monotonic()
        self.lines += [(now, line) for line in text.splitlines() if line]
        return len(text)


def _seconds(match: re.Match[str]) -> int:
    hours, minutes, secs = (int(group or 0) for group in match.groups()[2:])
    return hours * 3600 + minutes * 60 + secs


async def _run(args: argparse.Namespace, source: Path) -> tuple[float, float, _Stamped, int]:
    stamped = _Stamped()
    window = args.window

    def scaled(limit: int, _: float) -> SlidingWindow:
        return SlidingWindow(limit, window)

    async with FakeMeetergo(
        generate=args.rows, rate_limit=NestThrottler(args.limit, window)
    ) as fake:
        command = ["bulk", str(source), "--progress-every", f"{args.every:g}"]
        command += ["--rate-per-minute", str(args.limit), "--base-url", fake.url]
        command += ["--api-key", fake.api_key, "--user-id", fake.user_id]
        with (
            mock.patch.object(_command, "SlidingWindow", scaled),
            mock.patch("sys.stderr", stamped),
        ):
            started = time.monotonic()
            status = await run_async(command)
            ended = time.monotonic()
    return started, ended, stamped, status


def _table(stamped: _Stamped, started: float, ended: float) -> tuple[float, float]:
    """Print each line's ETA, time left and ratio; the worst errors from ``FROM`` on."""
    print(f"{'at':>7} {'done':>9} {'ETA':>6} {'left':>7} {'ratio':>6}")
    worst = rounded = 0.0
    for at, line in stamped.lines:
        match = _LINE.search(line)
        if match is None:
            continue
        done, total = int(match[1]), int(match[2])
        told, left = _seconds(match), ended - at
        ratio = told / left if left > 0 else math.inf
        counted = done >= FROM * total
        if counted:
            worst = max(worst, abs(ratio - 1))
            rounded = max(rounded, _beyond_rounding(told, left))
        mark = "" if counted else "  (before 10%)"
        print(
            f"{at - started:7.1f} {done:>4}/{total:<4} {told:5d}s {left:6.1f}s {ratio:6.2f}{mark}"
        )
    return worst, rounded


def _beyond_rounding(told: int, left: float) -> float:
    """The relative error of an ETA printed rounded up to ``told`` whole seconds, beyond
    that rounding: none when ``left`` is within the second below ``told``."""
    if told - 1 <= left <= told:
        return 0.0
    return min(abs(told - left), abs(told - 1 - left)) / left if left > 0 else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "rows.jsonl"
        rows = (
            f'{{"connectionId": "conn-{i:04d}", "primaryCalendar": "w"}}\n'
            for i in range(args.rows)
        )
        source.write_text("".join(rows))
        started, ended, stamped, status = asyncio.run(_run(args, source))
    took = ended - started
    print(
        f"bulk: {args.rows} rows at {args.limit} per {args.window:g} s: {took:.1f}s, exit {status}"
    )
    worst, rounded = _table(stamped, started, ended)
    verdict = "within" if worst <= TARGET else "NOT within"
    print(f"worst error from {FROM:.0%} done on: {worst:.0%} ({verdict} the {TARGET:.0%} target)")
    print(f"  less the whole second each line rounds up: {rounded:.0%}")
    sys.exit(0 if status == 0 else 1)


if __name__ == "__main__":
    main()
