"""One API key from several processes: a budget shared through Redis, against each on its own.

Starts a FakeMeetergo (NestJS's throttler, 250 requests in any 5 s) and a redis-server in
processes of their own, then runs side by side in one run:

- P processes (default 4) x CONCURRENCY tasks each, 1,500 updates split between them, with
  one ``RedisBudget(SlidingWindow(250, 5))``, and with each process configured with the full
  limit and no Redis (what users do today);
- one process with the ``RedisBudget`` against the same server, for its Redis round trips;
- one process on an unlimited server, the in-process limiter against the ``RedisBudget``
  (both told 1,000,000 a minute, so neither waits), and no limiter at all
  (``rate_limit=None``): the throughput the round trips cost.

Efficiency = ideal / measured time, ideal = (N - limit) / (limit / ttl): the first ``limit``
at once, then the rate. Round trips are counted by Redis itself (INFO commandstats). The
workers start on "go", so starting Python is not measured; the final state is read with a
second key (VERIFY_KEY) and checked.

    python bench/shared.py [--rounds 3] [--processes 4] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import redis
from _common import API_KEY, USER_ID, median, run_together, serve_worker, server, table
from ratelimit import requests_for, wrong_values

from meetergo_async import MeetergoClient, SlidingWindow

N, LIMIT, TTL = 1500, 250, 5.0
N_UNLIMITED = 3000
"""Updates of the throughput comparison: enough for a second or two of work."""
IDEAL = (N - LIMIT) / (LIMIT / TTL)
UNLIMITED = SlidingWindow(1_000_000, 60.0)


class Run(NamedTuple):
    n: int
    seconds: float
    requests: int
    rate_limited: int
    failures: int
    wrong: int
    round_trips: int


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, persistence off; yield its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        sys.exit("redis-server is not installed (Debian: apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        command = [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
        ]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed
        url = f"redis://127.0.0.1:{port}/0"
        try:
            _wait_for(url)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# Redis counts the commands a script runs as calls of their own: they are no round trips.
_IN_SCRIPT = {
    "time",
    "hmget",
    "hset",
    "zremrangebyscore",
    "zcard",
    "zcount",
    "zrange",
    "zadd",
    "zrem",
    "del",
    "pexpire",
}


def commands(url: str) -> int:
    """Commands clients have sent so far (INFO excluded): one round trip each."""
    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(
        int(v.get("calls", 0)) + int(v.get("rejected_calls", 0))
        for name, v in stats.items()
        if name.removeprefix("cmdstat_") not in {*_IN_SCRIPT, "info"}
    )


async def worker_run(args: dict[str, Any]) -> dict[str, Any]:
    """One process's share: a bulk update with a RedisBudget or its own limit."""
    limit = SlidingWindow(args["limit"], args["seconds"])
    pace: Any = limit if args["paced"] else None
    if args["redis"]:
        from meetergo_async.redis import RedisBudget

        pace = RedisBudget(args["redis"], limit, prefix=args["prefix"])
    async with MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=args["url"],
        rate_limit=pace,
        max_concurrency=args["concurrency"],
    ) as client:
        results = await client.update_calendar_connections(
            requests_for(args["tag"], args["start"], args["count"])
        )
        stats = client.stats
    return {
        "failures": sum(not r.ok for r in results),
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
    }


def run_processes(jobs: list[dict[str, Any]]) -> tuple[float, dict[str, int]]:
    """Run one worker per job side by side; their combined span and summed outcome."""
    me = [sys.executable, str(Path(__file__)), "--worker"]
    reports = run_together([[*me, json.dumps(job)] for job in jobs])
    span = max(r.pop("ended") for r in reports) - min(r.pop("began") for r in reports)
    return span, {k: sum(r[k] for r in reports) for k in ("failures", "requests", "rate_limited")}


def scenario(
    redis_url: str,
    *,
    processes: int,
    concurrency: int,
    shared: bool,
    limited: bool,
    tag: str,
    paced: bool = True,
) -> Run:
    """Update N connections (N_UNLIMITED unlimited) from ``processes`` workers; check them."""
    limit = SlidingWindow(LIMIT, TTL) if limited else UNLIMITED
    server_args = ["nest", str(LIMIT), str(int(TTL))] if limited else []
    n = N if limited else N_UNLIMITED
    with server(str(n), *server_args) as url:
        share = n // processes
        jobs = [
            {
                "url": url,
                "tag": tag,
                "start": p * share,
                "count": share,
                "limit": limit.limit,
                "seconds": limit.seconds,
                "concurrency": concurrency,
                "paced": paced,
                "redis": redis_url if shared else "",
                "prefix": f"bench-{tag}",
            }
            for p in range(processes)
        ]
        before = commands(redis_url)
        span, outcome = run_processes(jobs)
        trips = commands(redis_url) - before - 1  # the INFO connection's own handshake
        wrong = asyncio.run(wrong_values(url, tag, n))
    return Run(
        n,
        span,
        outcome["requests"],
        outcome["rate_limited"],
        outcome["failures"],
        wrong,
        max(0, trips),
    )


SCENARIOS = {
    "P processes, RedisBudget": {"shared": True, "limited": True, "many": True},
    "P processes, each the full limit": {"shared": False, "limited": True, "many": True},
    "1 process, RedisBudget": {"shared": True, "limited": True, "many": False},
    "1 process, unlimited server, in-process": {"shared": False, "limited": False, "many": False},
    "1 process, unlimited server, RedisBudget": {"shared": True, "limited": False, "many": False},
    "1 process, unlimited server, no limiter": {
        "shared": False,
        "limited": False,
        "many": False,
        "paced": False,
    },
}
HEADERS = [
    "scenario",
    "seconds",
    "efficiency",
    "range",
    "updates/s",
    "requests",
    "429s",
    "failed",
    "state",
    "Redis trips/request",
]


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        serve_worker(worker_run(json.loads(sys.argv[2])))  # --worker JSON
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    runs: dict[str, list[Run]] = {name: [] for name in SCENARIOS}
    with redis_server() as redis_url:
        for round_no in range(options.rounds):
            for i, (name, kind) in enumerate(SCENARIOS.items()):
                processes = options.processes if kind["many"] else 1
                run = scenario(
                    redis_url,
                    processes=processes,
                    concurrency=options.concurrency,
                    shared=kind["shared"],
                    limited=kind["limited"],
                    tag=f"r{round_no}s{i}",
                    paced=kind.get("paced", True),
                )
                runs[name].append(run)
                print(f"round {round_no + 1}: {name}: {_row(name, [run])}", flush=True)
    rows = [_row(name, found) for name, found in runs.items()]
    print(
        f"\nmedians over {options.rounds} round(s), P = {options.processes}, "
        f"{options.concurrency} tasks each; ideal {IDEAL:g} s"
    )
    print(table(HEADERS, rows))
    print("\nunlimited server, throughput of the RedisBudget over the same round's:")
    shared = runs["1 process, unlimited server, RedisBudget"]
    for other in ("in-process", "no limiter"):
        baseline = runs[f"1 process, unlimited server, {other}"]
        ratios = [o.seconds / s.seconds for s, o in zip(shared, baseline, strict=True)]
        print(f"  {other}: median {median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")


def _row(name: str, found: list[Run]) -> list[object]:
    ordered = sorted(found, key=lambda r: r.seconds)
    mid = ordered[len(ordered) // 2]
    limited = mid.n == N
    efficiencies = [IDEAL / r.seconds for r in found]
    span = f"{min(efficiencies):.3f}-{max(efficiencies):.3f}" if limited else "-"
    trips = f"{mid.round_trips / mid.requests:.2f}" if "RedisBudget" in name else "-"
    return [
        name,
        round(mid.seconds, 2),
        IDEAL / mid.seconds if limited else "-",
        span,
        round(mid.n / mid.seconds),
        mid.requests,
        mid.rate_limited,
        mid.failures,
        "ok" if mid.wrong == 0 else f"{mid.wrong} wrong",
        trips,
    ]


if __name__ == "__main__":
    main()
