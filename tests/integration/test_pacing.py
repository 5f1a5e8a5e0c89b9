"""Pacing end to end against FakeMeetergo's NestThrottler, on one fake clock for both sides.

The server counts like meetergo's (a sliding log and a block); the client and the server
share a clock that only the client's sleeps move, so a run of several windows takes no
real time and its duration is exact.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow, UpdateRequest
from meetergo_async.pacing._lesson import RECOVERY_STEP
from meetergo_async.testing import FakeMeetergo, NestThrottler

LIMIT, TTL, N = 10, 60.0, 35


class SharedTime:
    """One clock for the server and the client; a sleep that runs its course moves it on.

    A sleep first lets the requests in flight on the loopback finish (a few real
    milliseconds), so that none is answered at a time it did not take; a sleep cancelled
    meanwhile (the limiter also waits for answers) leaves the clock alone.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.005)
        self.now += max(0.0, seconds)


async def run(
    client_limit: int, *, headers: bool = True, suffix: str = "", neighbour: int = 0
) -> tuple[float, FakeMeetergo, MeetergoClient, list[bool]]:
    time = SharedTime()
    fake = FakeMeetergo(
        generate=N,
        rate_limit=NestThrottler(LIMIT, TTL),
        rate_limit_headers=None if headers else False,
        header_suffix=suffix,
        clock=time.clock,
    )
    async with fake:
        options: dict[str, Any] = {"clock": time.clock, "sleep": time.sleep}
        if neighbour:
            async with MeetergoClient(
                fake.api_key, user_id=fake.user_id, base_url=fake.url, rate_limit=None, **options
            ) as other:
                for _ in range(neighbour):
                    await other.list_calendar_connections()
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=SlidingWindow(client_limit, TTL),
            max_concurrency=4,
            **options,
        )
        items = [
            UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"c{i}"))
            for i in range(N)
        ]
        start = time.now
        async with client:
            results = await client.update_calendar_connections(items)
        assert [c["primaryCalendar"] for c in fake.connections.values()] == [
            f"c{i}" for i in range(N)
        ]
        return time.now - start, fake, client, [r.ok for r in results]


# 35 updates at 10 per 60 s: 10 at once, then 10 more each window: 180 s and a little.
IDEAL = (N // LIMIT) * TTL


@pytest.mark.parametrize(
    ("headers", "suffix"), [(True, ""), (False, ""), (True, "-short")], ids=["on", "off", "named"]
)
async def test_configured_like_the_server_it_never_draws_a_429(headers: bool, suffix: str) -> None:
    elapsed, fake, _client, ok = await run(LIMIT, headers=headers, suffix=suffix)
    assert all(ok)
    assert fake.status_counts[429] == 0
    assert IDEAL <= elapsed < IDEAL + 1.0


async def test_four_times_too_fast_with_headers_it_adopts_the_servers_limit() -> None:
    elapsed, fake, client, ok = await run(4 * LIMIT)
    assert all(ok)
    assert fake.status_counts[429] == 0
    assert elapsed < IDEAL + 1.0
    assert client.stats.rate == pytest.approx(LIMIT / TTL)


async def test_four_times_too_fast_without_headers_one_block_teaches_the_limit() -> None:
    elapsed, fake, client, ok = await run(4 * LIMIT, headers=False)
    assert all(ok)
    # The overshoot and the three in flight with it, then probes into the block: at 0.25,
    # 1.25, 5.25, 21.25 and 51.25 s after it (each wait four times the last, at most half
    # a window); the one at 60 s finds the block over.
    assert fake.status_counts[429] <= 4 + 5
    # Taught 10 a window; after two clean windows it may have begun to climb back.
    rate = client.stats.rate
    assert rate is not None
    assert LIMIT / TTL <= rate <= (LIMIT + RECOVERY_STEP * 4 * LIMIT) / TTL + 1e-9
    assert elapsed < IDEAL + TTL  # the block began right after a full window's burst


async def test_a_neighbours_requests_are_left_alone_not_overrun() -> None:
    _elapsed, fake, client, ok = await run(LIMIT, neighbour=4)
    assert all(ok)
    assert fake.status_counts[429] == 0
    assert client.stats.rate == pytest.approx(LIMIT / TTL)  # the long-run pace is kept


async def test_probes_into_a_block_do_not_spend_a_calls_attempts() -> None:
    # One call at a time, no headers: the third is refused and the key blocked for a minute.
    # Its probes into the block are the pause going on, not failures of the call.
    time = SharedTime()
    server = NestThrottler(2, TTL)
    fake = FakeMeetergo(rate_limit=server, rate_limit_headers=False, clock=time.clock)
    async with fake:
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            clock=time.clock,
            sleep=time.sleep,
        )
        async with client:
            for _ in range(3):
                await client.list_calendar_connections()
    statuses = [r.status for r in fake.requests]
    assert statuses[:3] == [200, 200, 429]
    assert statuses[-1] == 200
    assert len(statuses) - 3 > 5  # more probes than the five attempts a call has
    # Here the call's backoff and the client's pause each move the one clock on.
    assert TTL <= time.now < 2 * TTL
