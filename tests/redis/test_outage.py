"""When Redis goes away: pace locally on a share, or fail fast; come back when it answers.

Every test has a redis-server of its own, killed or restarted by its PID mid-test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from meetergo_async import (
    BudgetUnavailableError,
    CalendarConnectionUpdate,
    MeetergoClient,
    MeetergoError,
    SlidingWindow,
    UpdateRequest,
)
from meetergo_async.redis import RedisBudget
from meetergo_async.redis._fallback import RETRY_SECONDS
from meetergo_async.redis._script import source
from meetergo_async.testing import FakeMeetergo, NestThrottler

from ._server import RedisServer, until


def items(count: int) -> list[UpdateRequest]:
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"v{i}"))
        for i in range(count)
    ]


class Clock:
    """The monotonic clock, which a test may move forward (Redis's own clock stays real)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def client(fake: FakeMeetergo, budget: RedisBudget, **options: Any) -> MeetergoClient:
    return MeetergoClient(
        fake.api_key, user_id=fake.user_id, base_url=fake.url, rate_limit=budget, **options
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_killed_mid_run_the_local_budget_finishes_with_one_warning(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    limit, ttl, n = 8, 0.25, 20
    async with FakeMeetergo(generate=n, rate_limit=NestThrottler(limit, ttl)) as fake:
        budget = RedisBudget(own_redis.url, SlidingWindow(limit, ttl), prefix=prefix)
        async with client(fake, budget, max_concurrency=4) as c:
            run = asyncio.create_task(c.update_calendar_connections(items(n)))
            await until(lambda: fake.status_counts[200] >= limit // 2)
            own_redis.kill()
            results = await run
            rate = c.stats.rate
    assert [r.ok for r in results] == [True] * n
    assert [c["primaryCalendar"] for c in fake.connections.values()] == [f"v{i}" for i in range(n)]
    (warning,) = warnings_of(caplog)
    assert "Redis did not answer" in warning
    assert f"paces itself at {limit} requests per {ttl:g}s" in warning
    assert rate == limit / ttl  # one client seen: the whole limit is its share


async def test_raise_fails_calls_at_once_and_sends_nothing(
    own_redis: RedisServer, prefix: str
) -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        budget = RedisBudget(own_redis.url, prefix=prefix, on_unavailable="raise")
        async with client(fake, budget) as c:
            await c.list_calendar_connections()  # Redis answers: the shared budget paces
            own_redis.kill()
            timings = []
            for _ in range(2):
                started = time.monotonic()
                with pytest.raises(BudgetUnavailableError) as caught:
                    await c.list_calendar_connections()
                timings.append(time.monotonic() - started)
    assert isinstance(caught.value, MeetergoError)
    assert caught.value.attempts == 0
    assert "Redis did not answer" in str(caught.value)
    assert caught.value.path == "/v4/calendar-connections/connections"
    assert timings[0] < budget.timeout + 0.2  # one try, bounded by the budget's timeout
    assert timings[1] < 0.05  # within RETRY_SECONDS: without even asking Redis
    assert len(fake.requests) == 1  # only the call made before Redis died


async def test_a_restarted_redis_gets_the_script_and_history_back_without_new_clients(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        budget = RedisBudget(own_redis.url, SlidingWindow(100, 5.0), prefix=prefix)
        keys = budget.keys(fake.api_key)
        async with client(fake, budget) as c:
            for _ in range(3):
                await c.list_calendar_connections()
            own_redis.restart()  # a new process on the same port: no script, no data
            await c.list_calendar_connections()
            await asyncio.sleep(0.15)  # its answer reaches Redis (not urgent: within 0.1 s)
            async with contextlib.aclosing(aioredis.from_url(own_redis.url)) as check:
                sha = hashlib.sha1(source().encode()).hexdigest()  # noqa: S324 - Redis's name
                assert await check.script_exists(sha) == [True]  # loaded again
                assert await check.zcard(keys.log) == 4  # the 3 before the restart, and it
    assert warnings_of(caplog) == []
    assert len(fake.requests) == 4


async def test_the_client_returns_to_the_shared_budget_when_redis_answers_again(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    clock = Clock()
    caplog.set_level(logging.INFO, logger="meetergo_async")
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        budget = RedisBudget(own_redis.url, SlidingWindow(100, 5.0), prefix=prefix)
        async with client(fake, budget, clock=clock) as c:
            await c.list_calendar_connections()
            own_redis.kill()
            await c.list_calendar_connections()  # paced locally
            await c.list_calendar_connections()
            own_redis.start()
            clock.offset += RETRY_SECONDS
            await c.list_calendar_connections()  # asks Redis, which answers
            await asyncio.sleep(0.15)
            async with contextlib.aclosing(aioredis.from_url(own_redis.url)) as check:
                logged = await check.zcard(budget.keys(fake.api_key).log)
    messages = [r.getMessage() for r in caplog.records]
    assert len(warnings_of(caplog)) == 1
    assert any("shared rate budget paces this client again" in m for m in messages)
    assert logged == 4  # the requests sent while Redis was down count in the budget again


async def test_the_local_share_divides_the_limit_by_the_clients_seen(
    own_redis: RedisServer, prefix: str
) -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        seen = RedisBudget(own_redis.url, SlidingWindow(10, 1.0), prefix=prefix)
        fixed = RedisBudget(own_redis.url, SlidingWindow(10, 1.0), prefix=prefix, local_share=4)
        async with client(fake, seen) as a, client(fake, seen) as b, client(fake, fixed) as f:
            for each in (a, b, f, a, b):
                await each.list_calendar_connections()  # each says it uses the budget
            assert a.stats.rate == 10.0
            own_redis.kill()
            for each in (a, b, f):
                await each.list_calendar_connections()
            rates = [each.stats.rate for each in (a, b, f)]
    assert rates == [10 // 3, 10 // 3, 10 // 4]  # 3 clients seen; f was told its share


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts and never answers; yield its port."""
    holding: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        holding.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in holding:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("mode", ["local", "raise"])
async def test_a_redis_that_never_answers_costs_one_timeout(mode: str, prefix: str) -> None:
    async with silent_server() as port, FakeMeetergo(generate=1, rate_limit=None) as fake:
        url = f"redis://127.0.0.1:{port}/0"
        budget = RedisBudget(url, prefix=prefix, timeout=0.2, on_unavailable=mode)  # type: ignore[arg-type]
        async with client(fake, budget) as c:
            started = time.monotonic()
            call: Callable[[], Any] = c.list_calendar_connections
            if mode == "local":
                await call()
                assert len(fake.requests) == 1
            else:
                with pytest.raises(BudgetUnavailableError, match="TimeoutError"):
                    await call()
            elapsed = time.monotonic() - started
    assert elapsed < 0.6
