"""What the SDK costs over raw aiohttp: throughput and client CPU per request.

The same FakeMeetergo (rate limit off) runs in its own process; this process sends 5,000
PATCHes at concurrency 64, alternating raw aiohttp and ``MeetergoClient`` (retries on,
proactive rate limit off) for several rounds, and prints medians and the median of the
ratios paired within each round, with their range, and the garbage collector's share of
the CPU time. ``MeetergoClient`` runs twice: without a hook, and with a no-op
``on_event``, compared with each other as well.
Targets: >= 0.9x raw aiohttp's throughput, <= 1.2x its CPU per request; a no-op
``on_event`` within 0.03 of the throughput without one.

    python bench/overhead.py [--requests 5000] [--concurrency 64] [--rounds 9]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
from _common import API_KEY, USER_ID, median, server, table

from meetergo_async import CalendarConnectionUpdate, MeetergoClient
from meetergo_async._events import Event, OnEvent

PATH = "/v4/calendar-connections/connections/"


async def _workers(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> None:
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def raw_round(url: str, n: int, concurrency: int, conns: int) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}", "x-meetergo-api-user-id": USER_ID}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int) -> object:
            body = {"validateAvailability": i % 2 == 0, "primaryCalendar": "primary"}
            async with session.patch(f"{url}{PATH}conn-{i % conns:04d}", json=body) as resp:
                resp.raise_for_status()
                return await resp.json()

        await _workers(n, concurrency, one)


def _no_op(event: Event) -> None:
    """The cheapest ``on_event`` hook: what the SDK itself costs to report events."""


async def sdk_round(
    url: str, n: int, concurrency: int, conns: int, on_event: OnEvent | None = None
) -> None:
    updates = [
        CalendarConnectionUpdate(validate_availability=flag, primary_calendar="primary")
        for flag in (True, False)
    ]
    async with MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=url,
        rate_limit=None,
        max_concurrency=concurrency,
        on_event=on_event,
    ) as client:

        async def one(i: int) -> object:
            conn_id = f"conn-{i % conns:04d}"
            return await client.update_calendar_connection(conn_id, updates[i % 2])

        await _workers(n, concurrency, one)


async def hooked_round(url: str, n: int, concurrency: int, conns: int) -> None:
    await sdk_round(url, n, concurrency, conns, _no_op)


async def bulk_round(url: str, n: int, concurrency: int, conns: int) -> None:
    update = CalendarConnectionUpdate(validate_availability=True, primary_calendar="primary")
    async with MeetergoClient(
        API_KEY, user_id=USER_ID, base_url=url, rate_limit=None, max_concurrency=concurrency
    ) as client:
        items = ((f"conn-{i % conns:04d}", update) for i in range(n))
        results = await client.update_calendar_connections(items)
        assert all(r.ok for r in results)


class GcTimer:
    """Seconds the garbage collector ran, read from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, _: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


GC = GcTimer()


async def measure(run: Callable[..., Awaitable[None]], *args: object) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and garbage-collector seconds of one round."""
    wall, cpu, gc_before = time.perf_counter(), time.process_time(), GC.total
    await run(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, GC.total - gc_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    n, conc, conns = args.requests, args.concurrency, 500
    runs = {
        "raw aiohttp": raw_round,
        "MeetergoClient": sdk_round,
        "+ on_event no-op": hooked_round,
        "SDK bulk": bulk_round,
    }
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in runs}
    names = list(runs)
    with server(str(conns)) as url:
        asyncio.run(raw_round(url, 500, conc, conns))  # warm up the server and the imports
        for round_no in range(args.rounds):
            # Each round starts with a different client, so none always runs first.
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(asyncio.run(measure(runs[name], url, n, conc, conns)))
    raw = samples["raw aiohttp"]
    rows = []
    for name, values in samples.items():
        # Ratios are paired within a round, then the median taken: a slow spell of the
        # machine moves both sides of a pair alike.
        speed = [base[0] / mine[0] for mine, base in zip(values, raw, strict=True)]
        cost = [mine[1] / base[1] for mine, base in zip(values, raw, strict=True)]
        rows.append(
            [
                name,
                round(median([n / wall for wall, _, _ in values])),
                round(median([cpu / n * 1e6 for _, cpu, _ in values]), 1),
                round(median([gc_s / n * 1e6 for _, _, gc_s in values]), 1),
                median(speed),
                f"{min(speed):.2f}-{max(speed):.2f}",
                median(cost),
                f"{min(cost):.2f}-{max(cost):.2f}",
            ]
        )
    print(f"{n} PATCHes at concurrency {conc}, {args.rounds} alternating rounds, medians")
    headers = ["client", "req/s", "CPU us/req", "of it GC", "throughput x", "range", "CPU x"]
    print(table([*headers, "range"], rows))
    pairs = list(zip(samples["+ on_event no-op"], samples["MeetergoClient"], strict=True))
    speed = [bare[0] / mine[0] for mine, bare in pairs]
    cost = [mine[1] / bare[1] for mine, bare in pairs]
    print(
        f"on_event no-op vs none, paired within each round: throughput {median(speed):.3f}x "
        f"({min(speed):.2f}-{max(speed):.2f}), CPU {median(cost):.3f}x "
        f"({min(cost):.2f}-{max(cost):.2f})"
    )
    print(json.dumps({r[0]: {"rps": r[1], "cpu_us": r[2], "x": r[4], "cpu_x": r[6]} for r in rows}))


if __name__ == "__main__":
    main()
