"""How well the client paces itself against rate-limited servers, side by side in one run.

Each scenario starts a FakeMeetergo in its own process and bulk-updates N connections, each
to a value of its own, then reads the final state back with a second key and checks it.
Efficiency = ideal time / measured time. The ideal for NestJS's throttler (a sliding log of
``limit`` per ``ttl``) is ``(N - limit) / (limit / ttl)``: the first ``limit`` at once, then
the rate; for a token bucket ``(N - burst) / rate``; for fixed windows the start of the last
window needed.

    python bench/ratelimit.py [--rounds 3] [--only PREFIX] [--long]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
from _common import (
    API_KEY,
    PATH,
    USER_ID,
    median,
    requests_for,
    run_together,
    server,
    table,
    value,
    wrong_values,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from meetergo_async import (
    MeetergoClient,
    RateLimit,
    SlidingWindow,
)


class Outcome(NamedTuple):
    failures: int
    requests: int
    rate_limited: int


async def sdk_run(url: str, tag: str, start: int, count: int, limit: Any) -> Outcome:
    """Bulk-update with the SDK."""
    options = {} if limit == "default" else {"rate_limit": limit}
    async with MeetergoClient(API_KEY, user_id=USER_ID, base_url=url, **options) as client:
        results = await client.update_calendar_connections(requests_for(tag, start, count))
        stats = client.stats
    return Outcome(sum(not r.ok for r in results), stats.requests, stats.rate_limited)


class _TooMany(Exception):
    pass


async def naive_run(url: str, tag: str, start: int, count: int, _: object) -> Outcome:
    """The naive way: gather every update, each with its own tenacity policy."""
    counts = {"requests": 0, "429": 0}
    headers = {"Authorization": f"Bearer {API_KEY}", "x-meetergo-api-user-id": USER_ID}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def once(i: int) -> None:
            counts["requests"] += 1
            body = {"primaryCalendar": value(tag, i)}
            async with session.patch(f"{url}{PATH}/conn-{i:04d}", json=body) as resp:
                await resp.read()
                if resp.status == 429:
                    counts["429"] += 1
                    raise _TooMany
                resp.raise_for_status()

        async def one(i: int) -> bool:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(10),
                wait=wait_random_exponential(multiplier=0.5, max=20),
                retry=retry_if_exception(lambda e: isinstance(e, _TooMany)),
                reraise=True,
            )
            try:
                await retrying(once, i)
            except Exception:  # noqa: BLE001 - counted as a failure
                return False
            return True

        ok = await asyncio.gather(*(one(i) for i in range(start, start + count)))
    return Outcome(count - sum(ok), counts["requests"], counts["429"])


async def neighbour(url: str, count: int, seconds: float) -> None:
    """Another user of the same key sends ``count`` requests over the ``seconds`` before the run.

    ``seconds`` 0: all at once, the instant before the run.
    """
    headers = {"Authorization": f"Bearer {API_KEY}", "x-meetergo-api-user-id": USER_ID}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(i: int) -> None:
            await asyncio.sleep(seconds * i / count)
            async with session.get(f"{url}{PATH}") as resp:
                await resp.read()

        await asyncio.gather(*(one(i) for i in range(count)))


Runner = Callable[[str, str, int, int, Any], Awaitable[Outcome]]


class Scenario(NamedTuple):
    name: str
    server: list[str]
    n: int
    ideal: float
    runner: Runner
    limit: Any
    processes: int = 1
    neighbour: int = 0
    neighbour_seconds: float = 0.0
    long: bool = False


NEST = ["nest", "250", "5"]
NEST_IDEAL = (1500 - 250) / (250 / 5)
BUCKET = ["token-bucket", "50", "10"]
SCENARIOS = [
    Scenario("A matched, headers", NEST, 1500, NEST_IDEAL, sdk_run, SlidingWindow(250, 5)),
    Scenario("B matched, no headers", [*NEST, "no-headers"], 1500, NEST_IDEAL, sdk_run,
             SlidingWindow(250, 5)),
    Scenario("C 4x, headers", NEST, 1500, NEST_IDEAL, sdk_run, SlidingWindow(1000, 5)),
    Scenario("D 4x, named 'short'", [*NEST, "suffix=-short"], 1500, NEST_IDEAL, sdk_run,
             SlidingWindow(1000, 5)),
    Scenario("E 4x, no headers", [*NEST, "no-headers"], 1500, NEST_IDEAL, sdk_run,
             SlidingWindow(1000, 5)),
    Scenario("F neighbour sent 100 just before", NEST, 1500, NEST_IDEAL, sdk_run,
             SlidingWindow(250, 5), neighbour=100),
    # 1,500 is six windows exactly: the 100 a neighbour took cost a seventh to any client,
    # whose best is then 30 s (0.833 of the ideal). 1,400 shows the same without that step.
    Scenario("F2 the same, N = 1400", NEST, 1400, (1400 - 250) / 50, sdk_run,
             SlidingWindow(250, 5), neighbour=100),
    Scenario("G two processes", NEST, 1500, NEST_IDEAL, sdk_run, SlidingWindow(250, 5),
             processes=2),
    Scenario("H SDK defaults, 100/60s", ["nest", "100", "60"], 300, (300 - 100) / (100 / 60),
             sdk_run, "default", long=True),
    Scenario("I naive gather+tenacity", NEST, 1500, NEST_IDEAL, naive_run, None),
    Scenario("1 bucket, matched", BUCKET, 500, 490 / 50, sdk_run,
             RateLimit.per_second(50, burst=10)),
    Scenario("2 bucket, 4x", BUCKET, 500, 490 / 50, sdk_run, RateLimit.per_second(200, burst=40)),
    Scenario("3 bucket, 4x, no Retry-After", [*BUCKET, "no-retry-after"], 500, 490 / 50, sdk_run,
             RateLimit.per_second(200, burst=40)),
    Scenario("3b windows 250/5s, 4x", ["window", "250", "5"], 750, 10.0, sdk_run,
             RateLimit.per_second(200, burst=40)),
    Scenario("4 naive, bucket", BUCKET, 500, 490 / 50, naive_run, None),
]  # fmt: skip


def worker_main(args: list[str]) -> None:
    """``--worker URL TAG START COUNT LIMIT SECONDS``: one process of a shared-key scenario.

    It says ``ready`` once imported, starts when told ``go`` on stdin, and reports its
    outcome and its wall-clock start and end, so that start-up is not measured.
    """
    url, tag, start, count, limit, seconds = args
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.time()
    outcome = asyncio.run(
        sdk_run(url, tag, int(start), int(count), SlidingWindow(int(limit), float(seconds)))
    )
    print(json.dumps({**outcome._asdict(), "began": began, "ended": time.time()}), flush=True)


def run_processes(url: str, tag: str, scenario: Scenario) -> tuple[float, Outcome]:
    """Run the scenario's processes side by side; their combined time and outcome."""
    share = scenario.n // scenario.processes
    limit: SlidingWindow = scenario.limit
    me = [sys.executable, str(Path(__file__)), "--worker"]
    reports = run_together(
        [
            [*me, url, tag, str(p * share), str(share), str(limit.limit), str(limit.seconds)]
            for p in range(scenario.processes)
        ]
    )
    elapsed = max(r.pop("ended") for r in reports) - min(r.pop("began") for r in reports)
    outcomes = [Outcome(**r) for r in reports]
    return elapsed, Outcome(*(sum(o[i] for o in outcomes) for i in range(3)))


def run_scenario(scenario: Scenario, round_no: int) -> tuple[float, Outcome, int]:
    tag = f"r{round_no}"
    with server(str(scenario.n), *scenario.server) as url:
        if scenario.neighbour:
            asyncio.run(neighbour(url, scenario.neighbour, scenario.neighbour_seconds))
        if scenario.processes > 1:
            elapsed, outcome = run_processes(url, tag, scenario)
        else:
            start = time.perf_counter()
            outcome = asyncio.run(scenario.runner(url, tag, 0, scenario.n, scenario.limit))
            elapsed = time.perf_counter() - start
        wrong = asyncio.run(wrong_values(url, tag, scenario.n))
    return elapsed, outcome, wrong


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", help="run the scenarios whose name starts with this")
    parser.add_argument("--long", action="store_true", help="also the 60 s-window scenario")
    options = parser.parse_args()
    rows = []
    for scenario in SCENARIOS:
        if options.only and not scenario.name.startswith(options.only):
            continue
        if scenario.long and not options.long:
            continue
        runs = sorted(
            (run_scenario(scenario, r) for r in range(options.rounds)), key=lambda r: r[0]
        )
        elapsed = median([r[0] for r in runs])
        _, outcome, wrong = runs[len(runs) // 2]
        efficiencies = [scenario.ideal / r[0] for r in runs]
        rows.append([
            scenario.name, scenario.n, round(elapsed, 2), scenario.ideal / elapsed,
            f"{min(efficiencies):.3f}-{max(efficiencies):.3f}", outcome.requests,
            outcome.rate_limited, f"{outcome.rate_limited / outcome.requests:.1%}",
            outcome.failures, "ok" if wrong == 0 else f"{wrong} wrong",
        ])  # fmt: skip
        print(table(HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    print(f"\nmedians over {options.rounds} round(s); efficiency = ideal / measured time")
    print(table(HEADERS, rows))


HEADERS = ["scenario", "N", "seconds", "efficiency", "range", "requests", "429s", "429 %",
           "failed", "state"]  # fmt: skip

if __name__ == "__main__":
    main()
