"""When a Redis Cluster does not answer: the budget's fallback, as with one server.

A ``RedisCluster`` client fails in ways of its own: with no node to ask, it raises
``RedisClusterUnreachableError``, which is not a ``RedisError`` (before the budget counted
it as Redis being down, the pump died of it and the call waited forever: ``asyncio.timeout``
here turns such a hang into a failure). A node that dies mid-run, and comes back, is the
cluster client's retries and topology refresh, bounded by the budget's ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode

from meetergo_async import (
    BudgetUnavailableError,
    CalendarConnectionUpdate,
    MeetergoClient,
    SlidingWindow,
    UpdateRequest,
)
from meetergo_async.redis import RedisBudget
from meetergo_async.testing import FakeMeetergo, NestThrottler

from ._cluster import Cluster
from ._server import free_ports, until

HANG = 5.0
"""Seconds after which a call counts as hung."""


def items(count: int) -> list[UpdateRequest]:
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"v{i}"))
        for i in range(count)
    ]


def client(fake: FakeMeetergo, budget: RedisBudget, **options: Any) -> MeetergoClient:
    return MeetergoClient(
        fake.api_key, user_id=fake.user_id, base_url=fake.url, rate_limit=budget, **options
    )


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("mode", ["local", "raise"])
async def test_a_cluster_with_no_node_to_ask_is_redis_down(
    mode: str, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    nowhere = [ClusterNode("127.0.0.1", port) for port in free_ports(2)]  # nothing listens
    redis = aioredis.RedisCluster(startup_nodes=nowhere)
    async with contextlib.aclosing(redis), FakeMeetergo(generate=1, rate_limit=None) as fake:
        budget = RedisBudget(redis, prefix=prefix, on_unavailable=mode)  # type: ignore[arg-type]
        async with client(fake, budget) as c, asyncio.timeout(HANG):
            if mode == "local":
                await c.list_calendar_connections()
                await c.list_calendar_connections()
            else:
                with pytest.raises(BudgetUnavailableError, match="RedisClusterUnreachable") as e:
                    await c.list_calendar_connections()
                assert e.value.attempts == 0
    assert len(fake.requests) == (2 if mode == "local" else 0)
    (warning,) = warnings_of(caplog)  # one, however many calls
    assert "Redis did not answer (RedisClusterUnreachableError" in warning


async def test_a_killed_node_paces_locally_and_its_restart_brings_the_budget_back(
    own_cluster: Cluster, caplog: pytest.LogCaptureFixture, prefix: str
) -> None:
    caplog.set_level(logging.INFO, logger="meetergo_async")
    limit, ttl, n = 8, 0.25, 20
    async with (
        contextlib.aclosing(own_cluster.client()) as redis,
        FakeMeetergo(generate=n, rate_limit=NestThrottler(limit, ttl)) as fake,
    ):
        budget = RedisBudget(redis, SlidingWindow(limit, ttl), prefix=prefix)
        keys = budget.keys(fake.api_key)
        owner = own_cluster.owner(keys.log)
        async with client(fake, budget, max_concurrency=4) as c, asyncio.timeout(HANG + 5):
            run = asyncio.create_task(c.update_calendar_connections(items(n)))
            await until(lambda: fake.status_counts[200] >= limit // 2)
            own_cluster.kill(owner)  # the node that serves the budget's slot
            results = await run
            rate = c.stats.rate
            own_cluster.restart(owner)  # without data; about 2 s until it serves again
            await c.list_calendar_connections()  # RETRY_SECONDS are over: asks Redis
            await until(lambda: redis.exists(keys.state))  # the budget begins again there
    assert [r.ok for r in results] == [True] * n
    assert fake.status_counts == {200: n + 1}  # never a 429
    (warning,) = warnings_of(caplog)
    assert f"paces itself at {limit} requests per {ttl:g}s" in warning
    assert rate == limit / ttl  # one client seen: the whole limit is its share
    messages = [r.getMessage() for r in caplog.records]
    assert any("shared rate budget paces this client again" in m for m in messages)
