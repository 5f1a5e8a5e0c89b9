"""The shared budget on a real 3-node Redis Cluster, through ``redis.asyncio.RedisCluster``.

What the single-server tests show, where a cluster could change it: clients share one
budget, its keys sit on one slot of one node (the script touches them all in one call),
the script survives a flush of every node, and the budget follows its slot when it is
served from, or moved to, another node (``MOVED``). Each client stands for a process: it
has a ``RedisCluster`` client of its own. Windows are short (0.2 s): Redis's clock
is real.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import time
from typing import Any

import pytest
from redis.crc import key_slot

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow, UpdateRequest
from meetergo_async.redis import RedisBudget
from meetergo_async.redis._script import budget_keys, source
from meetergo_async.testing import FakeMeetergo, NestThrottler

from ._cluster import Address, Cluster
from ._server import until

PATH = "/v4/calendar-connections/connections"


def items(start: int, count: int) -> list[UpdateRequest]:
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"v{i}"))
        for i in range(start, start + count)
    ]


def client(fake: FakeMeetergo, budget: RedisBudget, **options: Any) -> MeetergoClient:
    return MeetergoClient(
        fake.api_key, user_id=fake.user_id, base_url=fake.url, rate_limit=budget, **options
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def keys_on(cluster: Cluster, address: Address, prefix: str) -> set[str]:
    """The keys under ``prefix`` that the node at ``address`` holds."""
    async with contextlib.aclosing(cluster.node(address)) as node:
        return {key.decode() for key in await node.keys(f"{prefix}:*")}


async def test_two_clients_share_the_limit_of_one_key_through_the_cluster(
    redis_cluster: Cluster, prefix: str
) -> None:
    limit, ttl, n = 8, 0.2, 32
    async with (
        contextlib.aclosing(redis_cluster.client()) as one,
        contextlib.aclosing(redis_cluster.client()) as other,
        FakeMeetergo(generate=n, rate_limit=NestThrottler(limit, ttl)) as fake,
    ):
        started = time.monotonic()

        async def run(redis: Any, start: int) -> tuple[int, int]:
            budget = RedisBudget(redis, SlidingWindow(limit, ttl), prefix=prefix)
            async with client(fake, budget, max_concurrency=4) as c:
                results = await c.update_calendar_connections(items(start, n // 2))
                return sum(not r.ok for r in results), c.stats.rate_limited

        outcomes = await asyncio.gather(run(one, 0), run(other, n // 2))
        elapsed = time.monotonic() - started
    assert outcomes == [(0, 0), (0, 0)]  # nothing failed, never a 429
    assert fake.status_counts == {200: n}
    assert elapsed >= (n - limit) / (limit / ttl)  # at the pace of one budget
    # Who sent each request, in order: the first takes at most a window and the slots its
    # 4 tasks reserve before the other asks; from then on they take turns.
    senders = "".join("ab"[int(str(r.connection_id)[-4:]) >= n // 2] for r in fake.requests)
    turns = [sender for sender, _ in itertools.groupby(senders)]
    assert len(turns) >= 3, senders
    assert [c["primaryCalendar"] for c in fake.connections.values()] == [f"v{i}" for i in range(n)]


async def test_the_budget_lives_on_one_slot_of_one_node_and_names_no_credential(
    redis_cluster: Cluster, prefix: str
) -> None:
    async with (
        contextlib.aclosing(redis_cluster.client()) as redis,
        FakeMeetergo(generate=4, rate_limit=NestThrottler(3, 0.2)) as fake,
    ):
        budget = RedisBudget(redis, SlidingWindow(3, 0.2), prefix=prefix)
        keys = set(budget.keys(fake.api_key))
        fake.enqueue("PATCH", f"{PATH}/conn-0003", 429, headers={"Retry-After": "0.1"})
        async with client(fake, budget) as c:
            results = await c.update_calendar_connections(items(0, 4))
            await c.list_calendar_connections()  # a single call: the seen set too
            # All five keys exist while the client is there (it leaves the presence set).
            await until(lambda: redis.exists(*keys), timeout=2.0)
            assert await redis.exists(*keys) == len(keys)
            found = {
                node: await keys_on(redis_cluster, node, prefix) for node in redis_cluster.nodes
            }
            async with contextlib.aclosing(redis_cluster.node(redis_cluster.nodes[0])) as node:
                slots = {await node.cluster("KEYSLOT", key) for key in keys}
            stored = [*keys, *[await dump(redis, key) for key in keys]]
    assert all(r.ok for r in results)
    owner = redis_cluster.owner(budget.keys(fake.api_key).log)
    assert found[owner] == keys  # every key on the node that serves the slot
    assert all(not held for node, held in found.items() if node != owner)
    assert slots == {key_slot(next(iter(keys)).encode())}  # one slot, as the server counts
    text = repr(stored)
    for part in (fake.api_key, *fake.api_key.split(":")[1:], fake.user_id):
        assert part not in text


async def dump(redis: Any, key: str) -> object:
    kind = (await redis.type(key)).decode()
    if kind == "hash":
        return await redis.hgetall(key)
    return await redis.zrange(key, 0, -1, withscores=True)


async def test_a_script_flush_on_every_node_is_survived(
    redis_cluster: Cluster, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    sha = hashlib.sha1(source().encode()).hexdigest()  # noqa: S324 - Redis's name
    async with (
        contextlib.aclosing(redis_cluster.client()) as redis,
        FakeMeetergo(generate=1, rate_limit=None) as fake,
    ):
        budget = RedisBudget(redis, SlidingWindow(100, 5.0), prefix=prefix)
        log = budget.keys(fake.api_key).log
        owner = redis_cluster.owner(log)
        async with client(fake, budget) as c:
            for _ in range(2):
                await c.list_calendar_connections()
            for address in redis_cluster.nodes:
                async with contextlib.aclosing(redis_cluster.node(address)) as node:
                    await node.script_flush()
            async with contextlib.aclosing(redis_cluster.node(owner)) as node:
                assert await node.script_exists(sha) == [False]
                await c.list_calendar_connections()  # NOSCRIPT: loaded again, run again
                assert await node.script_exists(sha) == [True]
            await until(lambda: _count(redis, log, 3))  # its answer reaches Redis
    assert warnings_of(caplog) == []  # never took Redis for down
    assert len(fake.requests) == 3


async def _count(redis: Any, key: str, expected: int) -> bool:
    return bool(await redis.zcard(key) == expected)


async def test_a_budget_starting_from_a_node_without_its_slot_finds_the_owner(
    redis_cluster: Cluster, prefix: str
) -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        keys = budget_keys(prefix, fake.api_key)
        owner = redis_cluster.owner(keys.log)
        start = next(node for node in redis_cluster.nodes if node != owner)
        async with contextlib.aclosing(redis_cluster.client(startup=[start])) as redis:
            budget = RedisBudget(redis, SlidingWindow(100, 5.0), prefix=prefix)
            async with client(fake, budget) as c:
                for _ in range(3):
                    await c.list_calendar_connections()
                await until(lambda: _count(redis, keys.log, 3))
                held = {
                    node: await keys_on(redis_cluster, node, prefix) for node in redis_cluster.nodes
                }
    assert held[owner] == set(keys)
    assert not held[start]


async def test_the_budget_follows_its_slot_to_another_node(
    redis_cluster: Cluster, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    async with (
        contextlib.aclosing(redis_cluster.client()) as redis,
        FakeMeetergo(generate=1, rate_limit=None) as fake,
    ):
        budget = RedisBudget(redis, SlidingWindow(100, 5.0), prefix=prefix)
        keys = budget.keys(fake.api_key)
        slot = key_slot(keys.log.encode())
        before = redis_cluster.owner(keys.log)
        after = next(node for node in redis_cluster.nodes if node != before)
        async with client(fake, budget) as c:
            for _ in range(2):
                await c.list_calendar_connections()
            await until(lambda: _count(redis, keys.log, 2))
            generation = await redis.hget(keys.state, "gen")
            redis_cluster.move_slot(slot, after)
            try:
                assert redis.get_node_from_key(keys.log).port == before[1]  # as it knew it
                await c.list_calendar_connections()  # MOVED: asked again of `after`
                assert redis.get_node_from_key(keys.log).port == after[1]
                await until(lambda: _count(redis, keys.log, 3))
                moved = await keys_on(redis_cluster, after, prefix)
                kept = await redis.hget(keys.state, "gen")
            finally:
                redis_cluster.move_slot(slot, before)  # the layout other tests start from
    assert moved == set(keys)
    assert kept == generation  # the same budget, not a lost one begun again
    assert warnings_of(caplog) == []
    assert len(fake.requests) == 3


async def test_the_lanes_hold_on_a_cluster(redis_cluster: Cluster, prefix: str) -> None:
    limit, ttl, n = 10, 0.3, 60
    update = CalendarConnectionUpdate(validate_availability=True)
    async with (
        contextlib.aclosing(redis_cluster.client()) as job_redis,
        contextlib.aclosing(redis_cluster.client()) as bot_redis,
        FakeMeetergo(generate=n + 4, rate_limit=NestThrottler(limit, ttl)) as fake,
    ):
        window = SlidingWindow(limit, ttl)
        job_budget = RedisBudget(job_redis, window, prefix=prefix)
        bot_budget = RedisBudget(bot_redis, window, prefix=prefix)
        async with (
            client(fake, job_budget, max_concurrency=8) as job,
            client(fake, bot_budget) as bot,
        ):
            run = asyncio.ensure_future(job.update_calendar_connections(items(0, n)))
            await asyncio.sleep(ttl / 2)  # the job has taken the window's slots
            waits = []
            for i in range(4):
                started = time.monotonic()
                await bot.update_calendar_connection(f"conn-{n + i:04d}", update)
                waits.append(time.monotonic() - started)
                await asyncio.sleep(ttl / 4)
            assert not run.done()
            results = await run
    assert all(r.ok for r in results)
    assert fake.status_counts == {200: n + 4}
    assert waits[0] <= ttl + 0.1  # the first after a quiet spell: the window's first slot
    assert sorted(waits[1:])[1] < 0.02  # then a slot at once (or soon), not the next burst
    assert max(waits[1:]) < ttl / 2
