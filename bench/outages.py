"""How the client rides out outages: restarts of the server, faults, a gateway throttling with 503.

FakeMeetergo runs in its own process; for an outage it stops serving (connections are
refused), then starts again on the same port with the same state, as a restarted app behind
a proxy does. Every scenario uses the default RetryPolicy (one a policy of three attempts),
checks that each connection ends with its own update, and prints failures, the most
attempts an item took, the requests sent while the service was down, wall time and the
client's peak memory.

    python bench/outages.py [--rounds 3] [--only PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

from _common import API_KEY, SERVER, USER_ID, median, requests_for, table, wrong_values

from meetergo_async import MeetergoClient, RetryPolicy, SlidingWindow, TokenBucket


class Scenario(NamedTuple):
    name: str
    n: int
    server: list[str]
    outages: list[float]  # seconds each; spread evenly through the run
    concurrency: int = 16
    rate_limit: Any = None
    retry: RetryPolicy | None = None


SCENARIOS = [
    Scenario("1 two 3 s restarts", 2000, ["latency=0.02"], [3.0, 3.0]),
    Scenario("2 one 20 s restart", 2000, ["latency=0.02"], [20.0]),
    # A service that set its policy to three attempts: the outage holds its calls back
    # without spending them, and the probes go to calls with attempts to spare.
    Scenario(
        "2b one 30 s restart, max_attempts=3",
        2000,
        ["latency=0.02"],
        [30.0],
        retry=RetryPolicy(max_attempts=3),
    ),
    Scenario(
        "3 soak: 10% 503, 3% cut, a restart",
        20000,
        ["fail=0.10", "drop=0.03", "latency=0.005"],
        [3.0],
        concurrency=32,
    ),
    Scenario(
        "4 gateway 503 limiter, 4x (bucket)",
        1000,
        ["token-bucket", "50", "10", "refuse=503", "no-retry-after"],
        [],
        rate_limit=TokenBucket.per_second(200, burst=40),
    ),
    # A sliding window learns the bucket's burst per window, far below its rate: documented.
    Scenario(
        "4b gateway 503 limiter, 4x (window)",
        1000,
        ["token-bucket", "50", "10", "refuse=503", "no-retry-after"],
        [],
        rate_limit=SlidingWindow(200, 1.0),
    ),
]


@contextlib.contextmanager
def controlled_server(n: int, args: list[str]) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    command = [sys.executable, str(SERVER), str(n), *args, "control"]
    # Our own script with fixed arguments.
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip(), proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Outcome(NamedTuple):
    seconds: float
    failed: int
    wrong: int
    requests: int
    most_attempts: int
    down_requests: list[int]
    refused: int
    peak_mb: float


async def run(url: str, proc: subprocess.Popen[str], scenario: Scenario, tag: str) -> Outcome:
    options: dict[str, Any] = {"rate_limit": scenario.rate_limit}
    if scenario.retry is not None:
        options["retry"] = scenario.retry
    client = MeetergoClient(
        API_KEY, user_id=USER_ID, base_url=url, max_concurrency=scenario.concurrency, **options
    )
    down: list[int] = []
    done = 0
    marks = [
        (k + 1) * scenario.n // (len(scenario.outages) + 1) for k in range(len(scenario.outages))
    ]

    async def outage(seconds: float) -> None:
        assert proc.stdin is not None
        assert proc.stdout is not None
        before = client.stats.requests
        proc.stdin.write(f"down {seconds}\n")
        proc.stdin.flush()
        await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)  # "up"
        down.append(client.stats.requests - before)

    tasks: list[asyncio.Task[None]] = []
    failed = 0
    most = 0
    start = time.perf_counter()
    async with client:
        stream = client.iter_update_calendar_connections(requests_for(tag, 0, scenario.n))
        async with contextlib.aclosing(stream) as results:
            async for result in results:
                done += 1
                failed += not result.ok
                most = max(most, result.attempts)
                if marks and done >= marks[0]:
                    marks.pop(0)
                    tasks.append(asyncio.create_task(outage(scenario.outages[len(tasks)])))
        await asyncio.gather(*tasks)
        stats = client.stats
    seconds = time.perf_counter() - start
    wrong = await wrong_values(url, tag, scenario.n)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Outcome(seconds, failed, wrong, stats.requests, most, down, stats.rate_limited, peak)


def run_scenario(scenario: Scenario, round_no: int) -> Outcome:
    """Run one round in a process of its own, so that its peak memory is its own."""
    command = [sys.executable, __file__, "--worker", scenario.name, str(round_no)]
    # This script with fixed arguments.
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return Outcome(**json.loads(done.stdout.strip().splitlines()[-1]))


def worker(name: str, round_no: int) -> None:
    scenario = next(s for s in SCENARIOS if s.name == name)
    with controlled_server(scenario.n, scenario.server) as (url, proc):
        outcome = asyncio.run(run(url, proc, scenario, f"r{round_no}"))
    print(json.dumps(outcome._asdict()), flush=True)


HEADERS = [
    "scenario",
    "N",
    "seconds",
    "failed",
    "state",
    "requests",
    "most attempts",
    "sent while down",
    "refused for rate",
    "peak MB",
]


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", help="run the scenarios whose name starts with this")
    options = parser.parse_args()
    rows = []
    for scenario in SCENARIOS:
        if options.only and not scenario.name.startswith(options.only):
            continue
        runs = sorted(
            (run_scenario(scenario, r) for r in range(options.rounds)), key=lambda o: o.seconds
        )
        mid = runs[len(runs) // 2]
        rows.append(
            [
                scenario.name,
                scenario.n,
                round(median([r.seconds for r in runs]), 2),
                max(r.failed for r in runs),
                "ok" if all(r.wrong == 0 for r in runs) else "WRONG",
                mid.requests,
                max(r.most_attempts for r in runs),
                "/".join(str(d) for d in mid.down_requests) or "-",
                f"{mid.refused} ({mid.refused / mid.requests:.1%})",
                round(mid.peak_mb),
            ]
        )
        print(table(HEADERS, rows[-1:]).splitlines()[-1], flush=True)
    print(f"\nmedian over {options.rounds} round(s); failed and state: the worst round")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()
