"""How well the client paces itself against a rate-limited server (issue scenarios 1-4).

Each scenario starts a FakeMeetergo in its own process and bulk-updates N connections.
Efficiency = ideal time / measured time, where the ideal is ``(N - burst) / rate`` for a
token bucket and the start of the last window needed for fixed windows.

    python bench/ratelimit.py [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from _common import API_KEY, USER_ID, median, server, table
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, RateLimit

PATH = "/v4/calendar-connections/connections/"
UPDATE = CalendarConnectionUpdate(validate_availability=False)


async def sdk_run(url: str, n: int, limit: RateLimit) -> tuple[int, int, int]:
    """Bulk-update with the SDK: (failures, requests sent, 429s seen)."""
    async with MeetergoClient(API_KEY, user_id=USER_ID, base_url=url, rate_limit=limit) as client:
        results = await client.update_calendar_connections(
            (f"conn-{i:04d}", UPDATE) for i in range(n)
        )
        stats = client.stats
    return sum(not r.ok for r in results), stats.requests, stats.rate_limited


class _TooMany(Exception):
    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after


async def naive_run(url: str, n: int, _: object) -> tuple[int, int, int]:
    """The naive way: gather every update, each with its own tenacity policy."""
    counts = {"requests": 0, "429": 0}
    headers = {"Authorization": f"Bearer {API_KEY}", "x-meetergo-api-user-id": USER_ID}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def once(i: int) -> None:
            counts["requests"] += 1
            body = {"validateAvailability": False}
            async with session.patch(f"{url}{PATH}conn-{i:04d}", json=body) as resp:
                await resp.read()
                if resp.status == 429:
                    counts["429"] += 1
                    raise _TooMany(None)
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

        ok = await asyncio.gather(*(one(i) for i in range(n)))
    return n - sum(ok), counts["requests"], counts["429"]


Runner = Callable[[str, int, Any], Awaitable[tuple[int, int, int]]]
SCENARIOS: list[tuple[str, list[str], int, float, Runner, Any]] = [
    # name, server args, N, ideal seconds, runner, client limit
    ("1 matched", ["token-bucket", "50", "10"], 500, 490 / 50, sdk_run,
     RateLimit.per_second(50, burst=10)),
    ("2 client 4x too fast", ["token-bucket", "50", "10"], 500, 490 / 50, sdk_run,
     RateLimit.per_second(200, burst=40)),
    ("3 4x, no Retry-After", ["token-bucket", "50", "10", "no-retry-after"], 500, 490 / 50,
     sdk_run, RateLimit.per_second(200, burst=40)),
    ("3b windows 250/5s, 4x", ["window", "250", "5"], 750, 10.0, sdk_run,
     RateLimit.per_second(200, burst=40)),
    ("4 naive gather+tenacity", ["token-bucket", "50", "10"], 500, 490 / 50, naive_run, None),
]  # fmt: skip


def run_scenario(
    args: list[str], n: int, runner: Runner, limit: Any
) -> tuple[float, int, int, int]:
    with server(str(n), *args) as url:
        start = time.perf_counter()
        failures, requests, too_many = asyncio.run(runner(url, n, limit))
        return time.perf_counter() - start, failures, requests, too_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", help="run the scenarios whose name starts with this")
    options = parser.parse_args()
    rows = []
    for name, args, n, ideal, runner, limit in SCENARIOS:
        if options.only and not name.startswith(options.only):
            continue
        runs = [run_scenario(args, n, runner, limit) for _ in range(options.rounds)]
        elapsed = median([r[0] for r in runs])
        failures, requests, too_many = runs[len(runs) // 2][1:]
        rows.append(
            [name, n, round(elapsed, 2), ideal / elapsed, requests, too_many,
             f"{too_many / requests:.1%}", failures]
        )  # fmt: skip
    print(f"medians over {options.rounds} round(s); efficiency = ideal / measured time")
    print(table(["scenario", "N", "seconds", "efficiency", "requests", "429s", "429 %",
                 "failed"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
