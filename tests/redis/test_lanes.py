"""The lanes are the key's, not the process's: the budget script on a real Redis.

Interactive slots are granted before bulk ones in one call, a bulk slot is never reserved
far ahead (so an interactive call of any process takes the next slot first), and while
interactive requests were sent within the window the bulk lane leaves one free. Times are
Redis's own; the window is short so that a window passes in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from meetergo_async import CalendarConnectionUpdate, SlidingWindow
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.redis import RedisBudget
from meetergo_async.redis._script import BULK_AHEAD, Reply, Update, budget_keys
from meetergo_async.testing import FakeMeetergo, NestThrottler
from tests.redis.test_script import API_KEY, SLACK, WINDOW, Script, answer
from tests.redis.test_sharing import client, items

from ._server import RedisServer

UPDATE = CalendarConnectionUpdate(validate_availability=True)


async def heard(script: Script) -> Reply:
    """The budget's first request, a bulk one, sent alone and answered."""
    first = await script.call(bulk=1)
    assert first.waits == (0.0,)
    return await script.call(updates=[answer(script.granted[0])])


@pytest.fixture
async def script(redis_client: aioredis.Redis, prefix: str) -> Script:
    return Script(redis_client, budget_keys(prefix, API_KEY), limit=3)


async def test_without_interactive_calls_bulk_work_takes_every_slot(script: Script) -> None:
    await heard(script)
    reply = await script.call(bulk=2)
    assert reply.waits == (0.0, 0.0)
    assert reply.interactive == 0


async def test_an_interactive_slot_goes_first_and_bulk_ones_leave_one_free(
    script: Script,
) -> None:
    await heard(script)  # one of the three slots counts
    reply = await script.call(wanted=1, bulk=2)
    assert reply.interactive == 1
    assert reply.waits == (0.0,)  # the bulk ones leave the last slot to the next person
    assert reply.retry is not None
    person = await script.call(wanted=1, process="p2")  # another process's call
    assert person.waits == (0.0,)


async def test_a_bulk_slot_is_never_reserved_far_ahead_but_an_interactive_one_is(
    script: Script,
) -> None:
    await heard(script)
    await script.call(bulk=2)  # the log is full until a window after the first answer
    bulk = await script.call(bulk=1)
    assert bulk.waits == ()
    assert WINDOW - BULK_AHEAD - SLACK < (bulk.retry or 0) <= WINDOW + EXPIRY_MARGIN
    person = await script.call(wanted=1, process="p2")
    assert WINDOW - SLACK < person.waits[0] <= WINDOW + EXPIRY_MARGIN + 0.002
    # When that slot frees, it is the person's: the bulk job queues behind it.
    await asyncio.sleep(person.waits[0])
    after = await script.call(bulk=1)
    assert after.waits == ()


async def test_the_headroom_goes_a_window_after_the_last_interactive_call(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    window = 0.2
    script = Script(redis_client, budget_keys(prefix, API_KEY), limit=5, window=window)
    await heard(script)
    await script.call(wanted=1, updates=[])
    person = script.granted[0]
    held = await script.call(bulk=2, updates=[answer(person)])
    assert held.waits == (0.0,)  # of the three free, two stay: for the person and the next
    await asyncio.sleep(window + 2 * EXPIRY_MARGIN)
    free = await script.call(bulk=5)
    assert free.waits == (0.0,) * 4  # all but the bulk one still in flight


async def test_a_slot_given_back_is_no_interactive_call_seen(script: Script) -> None:
    await heard(script)
    await script.call(wanted=1)
    reply = await script.call(bulk=2, updates=[Update("R", script.granted[0])])
    assert reply.waits == (0.0, 0.0)


async def test_a_person_in_another_process_is_not_stuck_behind_a_bulk_job(
    redis_server: RedisServer, prefix: str
) -> None:
    limit, ttl, n = 10, 0.3, 60
    async with FakeMeetergo(generate=n + 5, rate_limit=NestThrottler(limit, ttl)) as fake:
        budget = RedisBudget(redis_server.url, SlidingWindow(limit, ttl), prefix=prefix)
        async with client(fake, budget, max_concurrency=8) as bulk, client(fake, budget) as bot:
            job = asyncio.ensure_future(bulk.update_calendar_connections(items(0, n)))
            await asyncio.sleep(ttl / 2)  # the job has taken the window's slots
            waits = []
            for i in range(4):
                started = time.monotonic()
                await bot.update_calendar_connection(f"conn-{n + i:04d}", UPDATE)
                waits.append(time.monotonic() - started)
                await asyncio.sleep(ttl / 4)
            assert not job.done()  # all of them while the job ran
            results = await job
    assert all(r.ok for r in results)
    assert fake.status_counts == {200: n + 4}  # never a 429
    assert waits[0] <= ttl + 0.1  # the first after a quiet spell: the window's first slot
    # Then the headroom: a slot at once, or soon, never the job's next burst (about a window).
    assert sorted(waits[1:])[1] < 0.02
    assert max(waits[1:]) < ttl / 2
