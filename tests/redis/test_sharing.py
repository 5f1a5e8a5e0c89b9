"""Clients of one API key share one budget through a real Redis, against FakeMeetergo.

Each client stands for a process: it has its own limiter and its own Redis connections,
so what they share goes through Redis only. Windows are short (0.4-0.5 s): Redis's clock
is real, so time must pass, a little.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from meetergo_async import (
    CalendarConnectionUpdate,
    MeetergoClient,
    SlidingWindow,
    UpdateRequest,
    WaitEvent,
)
from meetergo_async._config import resolve_settings
from meetergo_async.redis import RedisBudget
from meetergo_async.testing import FakeMeetergo, NestThrottler

from ._server import RedisServer, until

PATH = "/v4/calendar-connections/connections"
OTHER_KEY = "ak_live:2f1d6c1e-2222-4a4a-9c9c-000000000002:other-secret"


def items(start: int, count: int, tag: str = "v") -> list[UpdateRequest]:
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"{tag}{i}"))
        for i in range(start, start + count)
    ]


def client(fake: FakeMeetergo, budget: Any, *, api_key: str | None = None, **options: Any):
    return MeetergoClient(
        api_key or fake.api_key,
        user_id=fake.user_id,
        base_url=fake.url,
        rate_limit=budget,
        **options,
    )


async def test_two_clients_share_the_limit_of_one_key(
    redis_server: RedisServer, prefix: str
) -> None:
    limit, ttl, n = 8, 0.3, 16
    async with FakeMeetergo(generate=n, rate_limit=NestThrottler(limit, ttl)) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(limit, ttl), prefix=prefix)
        started = time.monotonic()

        async def run(start: int) -> tuple[int, int]:
            async with client(fake, budget, max_concurrency=4) as c:
                results = await c.update_calendar_connections(items(start, n // 2))
                return sum(not r.ok for r in results), c.stats.rate_limited

        outcomes = await asyncio.gather(run(0), run(n // 2))
        elapsed = time.monotonic() - started
    assert outcomes == [(0, 0), (0, 0)]  # nothing failed, never a 429
    assert fake.status_counts == {200: n}
    assert elapsed >= (n - limit) / (limit / ttl)  # at the pace of one budget
    assert [c["primaryCalendar"] for c in fake.connections.values()] == [f"v{i}" for i in range(n)]


async def test_a_429_seen_by_one_client_pauses_the_others(
    redis_server: RedisServer, prefix: str
) -> None:
    # The server's limit is far away: the scripted 429 teaches only its pause.
    async with FakeMeetergo(generate=2, rate_limit=NestThrottler(100, 0.5)) as fake:
        fake.enqueue("PATCH", f"{PATH}/conn-0000", 429, headers={"Retry-After": "0.3"})
        budget = RedisBudget(redis_server.url, SlidingWindow(50, 0.5), prefix=prefix)
        async with client(fake, budget) as first, client(fake, budget) as second:
            await second.list_calendar_connections()  # both have heard the budget
            task = asyncio.create_task(
                first.update_calendar_connection("conn-0000", items(0, 1)[0].update)
            )
            await until(lambda: fake.status_counts[429] == 1)
            await asyncio.sleep(0.05)  # the 429 reaches Redis
            started = time.monotonic()
            await second.update_calendar_connection("conn-0001", items(1, 1)[0].update)
            waited = time.monotonic() - started
            await task
    assert 0.2 < waited < 0.5  # held until Retry-After ended, counted from the 429's answer
    assert second.stats.rate_limited == 0  # it never sent into the pause
    assert fake.status_counts == {200: 3, 429: 1}


async def test_a_429_without_retry_after_pauses_the_others_until_a_probe(
    redis_server: RedisServer, prefix: str
) -> None:
    async with FakeMeetergo(generate=2, rate_limit=NestThrottler(100, 0.5)) as fake:
        fake.enqueue("PATCH", f"{PATH}/conn-0000", 429)  # no header: the client probes
        budget = RedisBudget(redis_server.url, SlidingWindow(50, 0.5), prefix=prefix)
        async with client(fake, budget) as first, client(fake, budget) as second:
            await second.list_calendar_connections()
            task = asyncio.create_task(
                first.update_calendar_connection("conn-0000", items(0, 1)[0].update)
            )
            await until(lambda: fake.status_counts[429] == 1)
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await second.update_calendar_connection("conn-0001", items(1, 1)[0].update)
            waited = time.monotonic() - started
            await task
    assert 0.15 < waited < 0.6  # the first probe goes PROBE_FIRST (0.25 s) after the 429
    assert fake.status_counts == {200: 3, 429: 1}


async def test_a_limit_one_client_learned_binds_the_others(
    redis_server: RedisServer, prefix: str
) -> None:
    async with FakeMeetergo(generate=6, rate_limit=NestThrottler(4, 0.3)) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(40, 0.3), prefix=prefix)
        async with client(fake, budget) as first, client(fake, budget) as second:
            await first.list_calendar_connections()  # X-RateLimit-Limit: 4
            assert first.stats.rate == 4 / 0.3
            results = await asyncio.gather(
                first.update_calendar_connections(items(0, 3)),
                second.update_calendar_connections(items(3, 3)),
            )
            assert second.stats.rate == 4 / 0.3
    assert all(r.ok for batch in results for r in batch)
    assert fake.status_counts[429] == 0


async def test_a_cancelled_wait_gives_its_slot_back(
    redis_server: RedisServer, redis_client: aioredis.Redis, prefix: str
) -> None:
    async with FakeMeetergo(generate=3, rate_limit=None) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(2, 5.0), prefix=prefix)
        log = budget.keys(fake.api_key).log
        async with client(fake, budget) as c:
            await c.list_calendar_connections()
            await c.list_calendar_connections()  # the log is full for 5 s
            waiting = asyncio.create_task(c.list_calendar_connections())
            await until(lambda: _count(redis_client, log, 3))  # its slot, reserved 5 s ahead
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await until(lambda: _count(redis_client, log, 2))  # given back
    assert fake.status_counts == {200: 2}


async def test_one_budget_object_keeps_the_keys_of_two_api_keys_apart(
    redis_server: RedisServer, redis_client: aioredis.Redis, prefix: str
) -> None:
    async with FakeMeetergo(
        generate=2, rate_limit=None, api_keys=(FakeMeetergo().api_key, OTHER_KEY)
    ) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(2, 5.0), prefix=prefix)
        async with client(fake, budget) as first, client(fake, budget, api_key=OTHER_KEY) as other:
            for _ in range(2):
                await first.list_calendar_connections()  # the first key's log is full
            started = time.monotonic()
            for _ in range(2):
                await other.list_calendar_connections()
            assert time.monotonic() - started < 0.5  # the other key's budget is untouched
    keys = [key async for key in redis_client.scan_iter(f"{prefix}:*")]
    tags = {key.decode().split("{")[1].split("}")[0] for key in keys}
    assert len(tags) == 2


async def test_no_credential_reaches_redis(
    redis_server: RedisServer, redis_client: aioredis.Redis, prefix: str
) -> None:
    async with FakeMeetergo(generate=4, rate_limit=NestThrottler(3, 0.2)) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(3, 0.2), prefix=prefix)
        fake.enqueue("PATCH", f"{PATH}/conn-0003", 429, headers={"Retry-After": "0.1"})
        async with client(fake, budget) as c:
            results = await c.update_calendar_connections(items(0, 4))
        secret = fake.api_key
    assert all(r.ok for r in results)
    stored: list[object] = []
    async for key in redis_client.scan_iter(f"{prefix}:*"):
        stored.append(key)
        kind = (await redis_client.type(key)).decode()
        if kind == "hash":
            stored += (await redis_client.hgetall(key)).items()
        else:
            stored += await redis_client.zrange(key, 0, -1, withscores=True)
    assert len(stored) > 4
    text = repr(stored)
    for part in (secret, *secret.split(":")[1:], fake.user_id):
        assert part not in text


async def test_a_client_closes_the_redis_it_opened_and_never_a_given_one(
    redis_server: RedisServer, redis_client: aioredis.Redis, prefix: str
) -> None:
    async def connections() -> int:
        return len(await redis_client.client_list())

    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        before = await connections()
        async with client(fake, RedisBudget(redis_server.url, prefix=prefix)) as c:
            await c.list_calendar_connections()
            assert await connections() == before + 1
        assert await connections() == before
        given = aioredis.from_url(redis_server.url)
        try:
            async with client(fake, RedisBudget(given, prefix=prefix)) as c:
                await c.list_calendar_connections()
            assert await given.ping()  # still open, still usable
            assert await connections() == before + 1
        finally:
            await given.aclose()


async def _count(client: aioredis.Redis, key: str, expected: int) -> bool:
    return bool(await client.zcard(key) == expected)


def test_a_budget_is_a_rate_limit_option_and_checks_its_arguments(
    redis_server: RedisServer,
) -> None:
    budget = RedisBudget(redis_server.url, SlidingWindow(10, 1.0))
    settings = resolve_settings(
        api_key="ak_live:x:y",
        user_id="u",
        base_url=None,
        allow_insecure_http=False,
        timeout=30.0,
        retry=MeetergoClient.__init__.__kwdefaults__["retry"],
        rate_limit=budget,
        max_concurrency=4,
        max_response_bytes=1000,
    )
    assert settings.rate_limit is budget
    assert "s3cr3t" not in repr(budget)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"redis": "http://127.0.0.1"}, ValueError, "redis"),
        ({"redis": 6379}, TypeError, "redis"),
        ({"window": 100}, TypeError, "window"),
        ({"prefix": "a{b}"}, ValueError, "prefix"),
        ({"on_unavailable": "wait"}, ValueError, "on_unavailable"),
        ({"local_share": 0}, ValueError, "local_share"),
        ({"timeout": 0}, ValueError, "timeout"),
    ]
    for change, kind, name in cases:
        arguments: dict[str, Any] = {"redis": redis_server.url, **change}
        with pytest.raises(kind, match=name) as caught:
            RedisBudget(**arguments)
        assert getattr(caught.value, "argument", None) == name


async def test_a_wait_behind_a_shared_pause_is_reported_as_a_pause(
    redis_server: RedisServer, prefix: str
) -> None:
    seen: dict[str, list[WaitEvent]] = {"first": [], "second": []}

    def recorder(name: str) -> Any:
        return lambda event: seen[name].append(event) if isinstance(event, WaitEvent) else None

    async with FakeMeetergo(generate=2, rate_limit=NestThrottler(100, 0.5)) as fake:
        fake.enqueue("PATCH", f"{PATH}/conn-0000", 429, headers={"Retry-After": "0.3"})
        budget = RedisBudget(redis_server.url, SlidingWindow(50, 0.5), prefix=prefix)
        first = client(fake, budget, on_event=recorder("first"))
        second = client(fake, budget, on_event=recorder("second"))
        async with first, second:
            await second.list_calendar_connections()
            task = asyncio.create_task(
                first.update_calendar_connection("conn-0000", items(0, 1)[0].update)
            )
            await until(lambda: fake.status_counts[429] == 1)
            await asyncio.sleep(0.05)  # the 429 reaches Redis; the second has not heard yet
            await second.update_calendar_connection("conn-0001", items(1, 1)[0].update)
            await task
    # Waits of a tenth of a second or more: the pause, for the one that met the 429 (its
    # retry's wait) and for the one held back by the budget (its wait for a turn).
    assert {w.reason for w in seen["first"] if w.seconds >= 0.1} == {"pause"}
    assert {w.reason for w in seen["second"] if w.seconds >= 0.1} == {"pause"}
