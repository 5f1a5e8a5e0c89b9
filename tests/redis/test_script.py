"""The budget's Lua script on a real redis-server, called directly; its values, pure.

Each test drives the script the way a client's limiter does: updates carry what processes
learned (ages against the local clock), and the reply grants slots with waits on Redis's
own clock. Waits of a window of 0.5 s are compared with a tolerance for the real time that
passes between calls.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from meetergo_async.pacing._block import BLOCK_PROBE_FIRST as PROBE_FIRST
from meetergo_async.pacing._lesson import RECOVERY_STEP, RECOVERY_WINDOWS
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.redis._journal import Journal as Ledger
from meetergo_async.redis._script import (
    POLL,
    Keys,
    Reply,
    Update,
    arguments,
    budget_keys,
    parse_reply,
    source,
)

API_KEY = "ak_live:2f1d6c1e-1111-4a4a-9c9c-000000000001:s3cr3t-test-key"
OTHER_KEY = "ak_live:2f1d6c1e-2222-4a4a-9c9c-000000000002:other-secret"
WINDOW = 0.5
SLACK = 0.1
"""Seconds of real time allowed between a call and the check of its waits."""


class Script:
    """The budget script of one API key, called as a limiter would."""

    def __init__(
        self, client: aioredis.Redis, keys: Keys, limit: int, window: float = WINDOW
    ) -> None:
        self._script = client.register_script(source())
        self.keys, self.limit, self.window = keys, limit, window
        self.first = 1
        self.granted: list[str] = []
        """The members of the slots the last call granted."""

    async def call(
        self,
        *,
        wanted: int = 0,
        bulk: int = 0,
        updates: Sequence[Update] = (),
        process: str = "p1",
        generation: str = "",
        full: bool = False,
        hello: int = 0,
        limit: int | None = None,
    ) -> Reply:
        args = arguments(
            limit=limit or self.limit,
            window=self.window,
            flight=1.0,
            presence=10.0,
            process=process,
            generation=generation,
            full=full,
            wanted=wanted,
            wanted_bulk=bulk,
            hello=hello,
            first=self.first,
            updates=updates,
            now=time.monotonic(),
        )
        reply = parse_reply(await self._script(keys=list(self.keys), args=args))
        numbers = [
            *range(reply.interactive),
            *range(wanted, len(reply.waits) - reply.interactive + wanted),
        ]
        self.granted = [f"{process}:{self.first + i}" for i in numbers]
        self.first += wanted + bulk
        return reply


def answer(member: str, status: int = 200, *, retry_ms: int = -1, told: int = -1, stamp: int = 0):
    """An attempt answered just now."""
    now = time.monotonic()
    return Update("A", member, now, now, status, retry_ms, told, stamp)


@pytest.fixture
async def script(redis_client: aioredis.Redis, prefix: str) -> Script:
    return Script(redis_client, budget_keys(prefix, API_KEY), limit=3)


async def heard(script: Script) -> Reply:
    """Send the budget's first request alone and report its answer."""
    first = await script.call(wanted=1)
    assert first.waits == (0.0,)
    return await script.call(updates=[answer(script.granted[0])])


# -- pure values ---------------------------------------------------------------------------


def test_keys_share_one_hash_tag_and_hide_the_api_key() -> None:
    keys = budget_keys("app", API_KEY)
    tags = {key[key.index("{") : key.index("}") + 1] for key in keys}
    assert len(tags) == 1
    assert all(key.startswith("app:{") for key in keys)
    for part in (API_KEY, *API_KEY.split(":")[1:]):
        assert all(part not in key for key in keys)
    assert budget_keys("app", OTHER_KEY).log != keys.log
    assert budget_keys("other", API_KEY).log != keys.log


def test_arguments_turn_times_into_ages_in_whole_milliseconds() -> None:
    update = Update("A", "p:1", ended=9.5, sent=9.25, status=429, retry_ms=1000, stamp=3)
    args = arguments(
        limit=100,
        window=60.0,
        flight=30.0,
        presence=120.0,
        process="p",
        generation="g",
        full=True,
        wanted=2,
        hello=1,
        first=7,
        updates=[update],
        now=10.0,
    )
    assert args == [
        100,
        60000,
        30000,
        120000,
        "p",
        "g",
        "1",
        2,
        1,
        7,
        0,
        "A",
        "p:1",
        500,
        750,
        429,
        1000,
        -1,
        3,
    ]


def test_parse_reply_reads_bytes_and_waits_in_seconds() -> None:
    reply = parse_reply([b"ok", b"1.2", 1000, 100, 2, 3, 50, 1, 1, 0, 250])
    assert reply == Reply(False, "1.2", 1000, 100, 2, 3, 0.05, True, 1, (0.0, 0.25))
    assert reply.blocks == 1
    assert parse_reply(["resync", "g", 1, 1, -1, 0, 0, 0, 0]).resync
    with pytest.raises(ValueError, match="unexpected reply"):
        parse_reply([b"ok"])


def test_ledger_sends_news_once_and_its_history_when_asked() -> None:
    ledger = Ledger(window=1.0, flight=5.0)
    ledger.start("p:1", 0.0)
    ledger.start("p:2", 0.1)
    assert ledger.end("p:1", 0.2) == 0.0
    assert ledger.end("p:9", 0.2) is None
    ledger.report(Update("A", "p:1", 0.2, 0.0, 200))
    assert [u.member for u in ledger.take(0.3, full=False)] == ["p:1"]
    assert ledger.take(0.3, full=False) == []
    history = ledger.take(0.3, full=True)
    assert [(u.kind, u.member) for u in history] == [("S", "p:2"), ("E", "p:1")]
    ledger.report(Update("R", "p:3"))
    taken = ledger.take(0.4, full=False)
    ledger.report(Update("R", "p:4"))
    ledger.give_back(taken)  # the call failed: older news first, none lost
    assert [u.member for u in ledger.pending.values()] == ["p:3", "p:4"]
    # After a window (and the margin) an ended request no longer counts: forgotten.
    assert [u.member for u in ledger.take(1.3, full=True)] == ["p:2", "p:3", "p:4"]


# -- the script on Redis ---------------------------------------------------------------------


async def test_the_first_request_goes_alone_then_the_log_fills_then_waits(script: Script) -> None:
    first = await script.call(wanted=3, hello=1)
    assert first.waits == (0.0,)
    assert first.retry == POLL
    assert first.processes == 1
    assert first.limit == 3
    assert not first.heard
    reply = await script.call(wanted=3, updates=[answer("p1:1")])
    assert reply.heard
    assert reply.waits[:2] == (0.0, 0.0)
    # The log is full: the third slot starts when the first request stops counting, a
    # window (and the margin) after its answer. Reserved, not polled: no retry.
    assert WINDOW - SLACK < reply.waits[2] <= WINDOW + EXPIRY_MARGIN + 0.002
    assert reply.retry is None


async def test_slots_reserved_in_the_future_queue_one_behind_another(script: Script) -> None:
    await heard(script)
    now = await script.call(wanted=2)
    assert now.waits == (0.0, 0.0)
    answers = [answer(member) for member in script.granted]
    later = await script.call(wanted=1)
    assert later.waits[0] > WINDOW - SLACK
    # Two requests are in flight and one is reserved: when they stop counting, only their
    # answers tell. Asked again, not reserved past them.
    after = await script.call(wanted=1)
    assert after.waits == ()
    assert after.retry == POLL
    # Their answers came: the next slot queues behind the reserved one.
    reply = await script.call(wanted=1, updates=answers)
    assert reply.waits[0] >= later.waits[0] - (reply.now_ms - later.now_ms) / 1000


async def test_a_429_pauses_every_process_until_retry_after(script: Script) -> None:
    await heard(script)
    granted = await script.call(wanted=1)
    member = script.granted[0]
    reply = await script.call(wanted=1, updates=[answer(member, 429, retry_ms=400)])
    assert reply.waits == ()
    assert 0.3 < (reply.retry or 0) <= 0.4
    assert reply.blocks == granted.blocks + 1
    assert reply.stamp % 2 == 1
    other = await script.call(wanted=2, process="p2")
    assert other.waits == ()
    assert 0.3 < (other.retry or 0) <= 0.4


async def test_a_block_without_retry_after_is_probed_one_at_a_time(script: Script) -> None:
    await heard(script)
    await script.call(wanted=2)
    refused, late = script.granted
    reply = await script.call(wanted=1, updates=[answer(refused, 429)])
    assert reply.waits == ()
    assert PROBE_FIRST - SLACK < (reply.retry or 0) <= PROBE_FIRST
    # The other request, sent before the block was known, is refused too: it changes nothing.
    again = await script.call(wanted=1, updates=[answer(late, 429)])
    assert again.blocks == reply.blocks
    assert (again.retry or 0) <= (reply.retry or 0)
    await asyncio.sleep(PROBE_FIRST)
    probes = await script.call(wanted=2, process="p2")
    assert probes.waits == (0.0,)
    assert probes.retry == POLL
    assert probes.stamp % 2 == 1
    # The probe gets through: the block is over, the server started a fresh log with it.
    # Without rate-limit headers the block taught the limit: 1 was accepted before it.
    probe = answer(script.granted[0], stamp=probes.stamp)
    reply = await script.call(wanted=2, updates=[probe])
    assert reply.stamp % 2 == 0
    assert reply.limit == 1
    assert len(reply.waits) == 1
    assert reply.waits[0] > WINDOW - SLACK
    assert reply.retry == POLL  # at the level once refused: one request at a time


async def test_a_limit_told_by_the_server_binds_every_process(script: Script) -> None:
    await heard(script)
    await script.call(wanted=1)
    reply = await script.call(updates=[answer(script.granted[0], told=2)])
    assert reply.limit == 2
    other = await script.call(wanted=1, process="p2", limit=10)
    assert other.limit == 2
    assert other.waits
    assert other.waits[0] > WINDOW - SLACK


async def teach(script: Script) -> Reply:
    """Have 4 requests accepted, then a 429 and a probe that gets through: the limit is 4."""
    await heard(script)  # 1 accepted
    await script.call(wanted=3)
    await script.call(updates=[answer(member) for member in script.granted])  # 4 accepted
    await script.call(wanted=1)
    refused = await script.call(updates=[answer(script.granted[0], 429, retry_ms=0)])
    assert refused.limit == 10
    probes = await script.call(wanted=1, process="p2")
    assert probes.stamp % 2 == 1
    assert probes.waits == (0.0,)
    return await script.call(process="p2", updates=[answer(script.granted[0], stamp=probes.stamp)])


async def test_a_limit_taught_by_a_block_binds_every_process(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    script = Script(redis_client, budget_keys(prefix, API_KEY), limit=10)
    assert (await teach(script)).limit == 4
    assert (await script.call(process="p3")).limit == 4


async def test_a_taught_limit_climbs_back_for_every_process(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    window = 0.15
    script = Script(redis_client, budget_keys(prefix, API_KEY), limit=10, window=window)
    assert (await teach(script)).limit == 4
    await asyncio.sleep(RECOVERY_WINDOWS * window)  # clean windows: no 429
    await script.call(wanted=1, process="p3")
    climbed = await script.call(process="p3", updates=[answer(script.granted[0])])
    assert climbed.limit == 4 + math.ceil(RECOVERY_STEP * 10)
    assert (await script.call(process="p1")).limit == climbed.limit


async def test_a_slot_given_back_is_free_again(script: Script) -> None:
    await heard(script)
    granted = await script.call(wanted=2)
    assert granted.waits == (0.0, 0.0)
    members = script.granted
    full = await script.call(wanted=1)
    assert full.waits[0] > 0
    released = [Update("R", member) for member in [*members, *script.granted]]
    assert (await script.call(wanted=1, updates=released)).waits == (0.0,)


async def test_budgets_of_two_api_keys_never_meet(
    redis_client: aioredis.Redis, script: Script, prefix: str
) -> None:
    await heard(script)
    await script.call(wanted=2)
    assert (await script.call(wanted=1)).waits[0] > 0  # this key's log is full
    other = Script(redis_client, budget_keys(prefix, OTHER_KEY), limit=3)
    first = await other.call(wanted=1)
    assert first.waits == (0.0,)
    assert not first.heard
    blocked = await other.call(updates=[answer(other.granted[0], 429, retry_ms=400)])
    assert blocked.blocks == 1
    mine = await script.call()
    assert mine.blocks == 0
    assert mine.heard


async def test_presence_counts_the_processes_using_the_budget(script: Script) -> None:
    assert (await script.call(hello=1, process="a")).processes == 1
    assert (await script.call(hello=1, process="b")).processes == 2
    await script.call(hello=-1, process="a")
    assert (await script.call(hello=1, process="b")).processes == 1


async def test_a_lost_budget_asks_for_history_before_granting(
    redis_client: aioredis.Redis, script: Script
) -> None:
    generation = (await heard(script)).generation
    await redis_client.delete(*script.keys)  # what a restart without persistence does
    reply = await script.call(wanted=1, generation=generation)
    assert reply.resync
    assert reply.waits == ()
    assert reply.generation != generation
    now = time.monotonic()
    history = [Update("E", f"p1:{n}", now, now) for n in (1, 2, 3)]
    restored = await script.call(wanted=1, generation=generation, full=True, updates=history)
    assert not restored.resync
    assert restored.waits[0] > WINDOW - SLACK
    in_flight = await script.call(wanted=1, updates=[Update("S", "p1:9", sent=now)])
    assert in_flight.waits == ()
    assert in_flight.retry == POLL


async def test_state_expires_and_holds_no_credential(
    redis_client: aioredis.Redis, script: Script
) -> None:
    await heard(script)
    await script.call(wanted=2, hello=1)
    for key in script.keys:
        assert await redis_client.exists(key)
        assert 0 < await redis_client.pttl(key) <= (1.0 + 2 * WINDOW + 10.0) * 1000
    stored = await dump(redis_client, script.keys)
    for secret in (API_KEY, "s3cr3t-test-key", "2f1d6c1e-1111-4a4a-9c9c-000000000001"):
        assert secret not in stored


async def dump(client: aioredis.Redis, keys: Sequence[str]) -> str:
    """Every key and value of ``keys`` as text."""
    parts: list[Any] = list(keys)
    for key in keys:
        kind = (await client.type(key)).decode()
        if kind == "hash":
            parts += (await client.hgetall(key)).items()
        elif kind == "zset":
            parts += await client.zrange(key, 0, -1, withscores=True)
    return repr(parts)
