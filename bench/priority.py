"""A person's request while a bulk job fills the key: single calls against a bulk run.

Starts a FakeMeetergo (NestJS's throttler, 100 requests in any 5 s) in a process of its own
(and a redis-server for the shared scenario), then runs, side by side in one run:

- **one client, defaults**: a bulk run of 900 updates, and one ``update_calendar_connection``
  every 0.5 s (10% of the budget) from 1 s after the bulk starts until it ends, each a task
  of its own, all from the same client, no ``priority=`` anywhere;
- **two processes, RedisBudget**: the same, the bulk job in one process and the single calls
  in another, both on one ``RedisBudget``;
- **no single calls**: the bulk run alone (today's bulk job);
- ``--long``: meetergo's 100 requests per 60 s, a bulk run of 300, a single call every 5 s.

Efficiency counts every request (bulk and single) against the key's capacity: the first
``limit`` at once, then ``limit / window`` a second, so ideal = (total - limit) / rate; it is
ideal / measured. Single calls are timed from the moment they are made to their answer.
The final state of every connection is read back with a second key and checked.

    python bench/priority.py [--rounds 3] [--long]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from _common import (
    API_KEY,
    USER_ID,
    median,
    requests_for,
    run_together,
    serve_worker,
    server,
    table,
    value,
)
from _common import wrong_values as wrong_bulk
from shared import redis_server

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow

CONCURRENCY = 16
SINGLE_START = 1.0
"""Seconds after the bulk run starts when the first single call is made."""


class Setup(NamedTuple):
    limit: int
    seconds: float
    bulk: int
    every: float
    """Seconds between two single calls."""


SHORT = Setup(100, 5.0, 900, 0.5)
LONG = Setup(100, 60.0, 300, 5.0)
SINGLES = 2000
"""Connections after the bulk ones kept for single calls (conn-<bulk> onwards)."""


class Run(NamedTuple):
    seconds: float
    requests: int
    singles: list[float]
    rate_limited: int
    failures: int
    wrong: int


def _client(args: dict[str, Any]) -> MeetergoClient:
    limit = SlidingWindow(args["limit"], args["seconds"])
    pace: Any = limit
    if args["redis"]:
        from meetergo_async.redis import RedisBudget

        pace = RedisBudget(args["redis"], limit, prefix=args["prefix"])
    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=args["url"],
        rate_limit=pace,
        max_concurrency=CONCURRENCY,
    )


async def _singles(client: MeetergoClient, args: dict[str, Any], done: Any) -> list[Any]:
    """One single call every ``every`` s from SINGLE_START until ``done()``; their outcomes."""
    start = time.monotonic()
    tasks: list[asyncio.Task[Any]] = []
    while True:
        due = start + SINGLE_START + len(tasks) * args["every"]
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        if done():
            break
        i = args["bulk"] + len(tasks)
        update = CalendarConnectionUpdate(primary_calendar=value(args["tag"], i))
        tasks.append(asyncio.create_task(_timed(client.update_calendar_connection, i, update)))
    return list(await asyncio.gather(*tasks))


async def _timed(method: Any, i: int, update: CalendarConnectionUpdate) -> tuple[float, bool]:
    began = time.monotonic()
    try:
        await method(f"conn-{i:04d}", update)
    except Exception:  # noqa: BLE001 - a failed single call is counted, not raised
        return time.monotonic() - began, False
    return time.monotonic() - began, True


async def worker_run(args: dict[str, Any]) -> dict[str, Any]:
    """One process's part: ``bulk``, ``singles`` (until the flag file exists), or ``both``."""
    async with _client(args) as client:
        flag = Path(args["flag"])
        outcome: dict[str, Any] = {"failures": 0, "singles": []}
        if args["role"] == "singles":
            found = await _singles(client, args, flag.exists)
        else:
            bulk = asyncio.ensure_future(
                client.update_calendar_connections(requests_for(args["tag"], 0, args["bulk"]))
            )
            found = []
            if args["role"] == "both":
                found = await _singles(client, args, bulk.done)
            results = await bulk
            flag.touch()  # noqa: ASYNC240 - a marker file, once
            outcome["failures"] = sum(not r.ok for r in results)
        outcome["singles"] = [seconds for seconds, _ in found]
        outcome["failures"] += sum(not ok for _, ok in found)
        stats = client.stats
    return {**outcome, "requests": stats.requests, "rate_limited": stats.rate_limited}


async def _wrong(url: str, tag: str, setup: Setup, singles: int) -> int:
    """Connections whose value is not their update's: bulk ones and the single calls' ones."""
    total = setup.bulk + singles
    return await wrong_bulk(url, tag, total)


def scenario(setup: Setup, roles: list[str], redis_url: str, tag: str) -> Run:
    """Run one worker per role against a fresh server; check the final state."""
    server_args = ["nest", str(setup.limit), repr(setup.seconds)]
    with server(str(setup.bulk + SINGLES), *server_args) as url, tempfile.TemporaryDirectory() as d:
        common = {
            "url": url,
            "tag": tag,
            "limit": setup.limit,
            "seconds": setup.seconds,
            "bulk": setup.bulk,
            "every": setup.every,
            "redis": redis_url if len(roles) > 1 else "",
            "prefix": f"bench-{tag}",
            "flag": os.path.join(d, "bulk-done"),
        }
        me = [sys.executable, str(Path(__file__)), "--worker"]
        reports = run_together([[*me, json.dumps({**common, "role": r})] for r in roles])
        span = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
        singles = [s for r in reports for s in r["singles"]]
        wrong = asyncio.run(_wrong(url, tag, setup, len(singles)))
    return Run(
        span,
        sum(r["requests"] for r in reports),
        singles,
        sum(r["rate_limited"] for r in reports),
        sum(r["failures"] for r in reports),
        wrong,
    )


def efficiency(setup: Setup, run: Run) -> float:
    ideal = (run.requests - setup.limit) / (setup.limit / setup.seconds)
    return ideal / run.seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


SCENARIOS = {
    "one client, defaults": ["both"],
    "bulk and singles in two processes, RedisBudget": ["bulk", "singles"],
    "no single calls": ["bulk"],
}
HEADERS = [
    "scenario",
    "singles",
    "median s",
    "p95 s",
    "max s",
    "p95 after 1st window",
    "efficiency",
    "range",
    "requests",
    "429s",
    "failed",
    "state",
]


def _row(name: str, setup: Setup, found: list[Run]) -> list[object]:
    effs = [efficiency(setup, r) for r in found]
    mid = sorted(found, key=lambda r: efficiency(setup, r))[len(found) // 2]
    p95 = [percentile(r.singles, 0.95) for r in found if r.singles]
    # Those made in the bulk job's first window wait for it: every slot was the job's.
    skip = math.ceil((setup.seconds - SINGLE_START) / setup.every)
    later = [percentile(r.singles[skip:], 0.95) for r in found if r.singles[skip:]]
    if p95:
        single = [
            median([len(r.singles) for r in found]),
            median([median(r.singles) for r in found]),
            median(p95),
            median([max(r.singles) for r in found]),
            median(later) if later else "-",
        ]
    else:
        single = ["-", "-", "-", "-", "-"]
    state = "ok" if all(r.wrong == 0 for r in found) else "WRONG"
    return [
        name,
        *single,
        median(effs),
        f"{min(effs):.3f}-{max(effs):.3f}",
        mid.requests,
        max(r.rate_limited for r in found),
        max(r.failures for r in found),
        state,
    ]


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        serve_worker(worker_run(json.loads(sys.argv[2])))  # --worker JSON
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--long", action="store_true", help="meetergo's 100 per 60 s instead")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    options = parser.parse_args()
    setup = LONG if options.long else SHORT
    chosen = {n: r for n, r in SCENARIOS.items() if not options.only or options.only in n}
    runs: dict[str, list[Run]] = {name: [] for name in chosen}
    with redis_server() as redis_url:
        for round_no in range(options.rounds):
            for i, (name, roles) in enumerate(chosen.items()):
                run = scenario(setup, roles, redis_url, f"r{round_no}s{i}")
                runs[name].append(run)
                print(f"round {round_no + 1}: {_row(name, setup, [run])}", flush=True)
    print(
        f"\nmedians over {options.rounds} round(s): NestThrottler({setup.limit}, "
        f"{setup.seconds:g}), bulk {setup.bulk}, a single call every {setup.every:g} s; "
        "maxima for 429s and failed"
    )
    print(table(HEADERS, [_row(name, setup, found) for name, found in runs.items()]))


if __name__ == "__main__":
    main()
