"""Cancellation at random moments leaves nothing behind; faults lose no bulk item.

Every cancellation test starts its ``FakeMeetergo`` before taking the snapshot of tasks,
cancels at moments drawn from a seeded ``random.Random``, then checks that no task of the
client is left, that no "Unclosed" warning is made, and that the client still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from meetergo_async import (
    CalendarConnection,
    CalendarConnectionUpdate,
    MeetergoClient,
    MeetergoError,
    NotFoundError,
    RetryPolicy,
    TokenBucket,
    UpdateResult,
)
from meetergo_async.testing import DROPPED, FakeMeetergo
from tests.helpers import FakeTime, VirtualTime
from tests.integration._servers import (
    acquired_connections,
    collect_unclosed_warnings,
    connection_path,
    leftover_tasks,
    read_request,
    tcp_server,
    wait_for_eof,
)

CID = "conn-0000"
UPDATE = CalendarConnectionUpdate(validate_availability=True)
FOLLOW_UP = CalendarConnectionUpdate(primary_calendar="after-the-cancel")
ITERATIONS = 6
HANG = 2.0
"""Seconds after which a wait that should be short counts as a hang (and fails, not blocks)."""


@contextlib.asynccontextmanager
async def no_hang(what: str, seconds: float = HANG) -> AsyncIterator[None]:
    """Fail the test, instead of blocking the suite, if the body does not end in time."""
    hung = False
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        hung = True
    if hung:
        message = f"{what} did not finish within {seconds:g}s"
        raise pytest.fail.Exception(message, pytrace=False) from None


def paced_client(fake: FakeMeetergo, rate: float, **options: Any) -> MeetergoClient:
    """A client with a real pace (real clock and sleep): waits in its limiter are real."""
    limit = TokenBucket.per_second(rate, burst=1)
    return MeetergoClient(
        fake.api_key, user_id=fake.user_id, base_url=fake.url, rate_limit=limit, **options
    )


def make_client(
    fake: FakeMeetergo, fake_time: FakeTime | VirtualTime | None = None, **options: Any
) -> MeetergoClient:
    time = fake_time or FakeTime()
    settings: dict[str, Any] = {
        "user_id": fake.user_id,
        "base_url": fake.url,
        "rate_limit": None,
        "clock": time.clock,
        "sleep": time.sleep,
    } | options
    return MeetergoClient(fake.api_key, **settings)


async def settle(task: asyncio.Task[Any]) -> object:
    """Wait for a task that may have been cancelled; its result, error or ``"cancelled"``."""
    try:
        return await task
    except asyncio.CancelledError:
        return "cancelled"
    except MeetergoError as error:
        return error


async def assert_still_works(client: MeetergoClient, fake: FakeMeetergo) -> None:
    assert acquired_connections(client) == 0, "a cancelled request kept its connection"
    async with no_hang("the call after a cancellation"):
        result = await client.update_calendar_connection(CID, FOLLOW_UP)
    assert result.id == CID
    assert result.primary_calendar == "after-the-cancel"
    assert fake.connections[CID]["primaryCalendar"] == "after-the-cancel"


async def assert_clean(before: set[asyncio.Task[Any]]) -> None:
    left = await leftover_tasks(before)
    assert not left, f"tasks left behind: {left}"
    assert collect_unclosed_warnings() == []


# -- a single call -------------------------------------------------------------------------


@pytest.mark.parametrize("paced", [False, True], ids=["unpaced", "paced"])
async def test_a_call_cancelled_while_sending_leaves_nothing_behind(paced: bool) -> None:
    rng = random.Random(101)
    async with FakeMeetergo(generate=3, rate_limit=None, latency=0.02) as fake:
        before = asyncio.all_tasks()
        outcomes = []
        for _ in range(ITERATIONS):
            client = paced_client(fake, 500) if paced else make_client(fake)
            async with client:
                task = asyncio.create_task(client.update_calendar_connection(CID, UPDATE))
                await asyncio.sleep(rng.uniform(0.0, 0.03))
                task.cancel()
                outcome = await settle(task)
                assert outcome == "cancelled" or isinstance(outcome, CalendarConnection)
                outcomes.append(outcome)
                await assert_still_works(client, fake)
            await assert_clean(before)
    assert "cancelled" in outcomes


async def test_calls_cancelled_while_waiting_for_the_limiter_leave_the_others_intact() -> None:
    rng = random.Random(202)
    async with FakeMeetergo(generate=12, rate_limit=None) as fake:
        ids = sorted(fake.connections)
        before = asyncio.all_tasks()
        cancelled = completed = 0
        for _ in range(4):
            # Real time here: the point is to cancel calls queued in the limiter's sleep.
            async with paced_client(fake, 150) as client:
                tasks = [
                    asyncio.create_task(client.update_calendar_connection(cid, UPDATE))
                    for cid in ids
                ]
                await asyncio.sleep(rng.uniform(0.001, 0.03))
                victims = set(rng.sample(range(len(tasks)), k=rng.randint(1, len(tasks) - 1)))
                for index in victims:
                    tasks[index].cancel()
                try:
                    async with no_hang("the calls left in the queue"):
                        outcomes = [await settle(task) for task in tasks]
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for index, (cid, outcome) in enumerate(zip(ids, outcomes, strict=True)):
                    if index in victims and outcome == "cancelled":
                        cancelled += 1
                        continue
                    assert isinstance(outcome, CalendarConnection), (cid, outcome)
                    assert outcome.id == cid
                    completed += 1
                await assert_still_works(client, fake)
            await assert_clean(before)
        assert cancelled, "no call was cancelled while queued"
        assert completed, "no call was left to finish"


async def test_a_paced_client_whose_first_call_is_cancelled_still_sends_the_next() -> None:
    # The first request holds the only token; it is cancelled after the server got it and
    # before the answer. The next call must wait one interval (10 ms), not forever.
    async with FakeMeetergo(generate=3, rate_limit=None, latency=0.2) as fake:
        before = asyncio.all_tasks()
        async with paced_client(fake, 100) as client:
            first = asyncio.create_task(client.update_calendar_connection(CID, UPDATE))
            async with no_hang("the first request reaching the server"):
                while not fake.requests:  # noqa: ASYNC110 - the fake offers no event for it
                    await asyncio.sleep(0.001)
            first.cancel()
            assert await settle(first) == "cancelled"
            async with no_hang("the call after the cancelled first call", 1.0):
                result = await client.update_calendar_connection("conn-0001", FOLLOW_UP)
            assert result.id == "conn-0001"
        await assert_clean(before)


async def test_a_call_cancelled_during_its_backoff_wait_leaves_nothing_behind() -> None:
    rng = random.Random(303)
    async with FakeMeetergo(generate=3, rate_limit=None) as fake:
        before = asyncio.all_tasks()
        during_the_wait = 0
        for _ in range(ITERATIONS):
            waiting = asyncio.Event()
            blocking = [True]

            async def blocking_sleep(
                seconds: float, waiting: asyncio.Event = waiting, blocking: list[bool] = blocking
            ) -> None:
                if blocking[0]:
                    waiting.set()
                    await asyncio.Event().wait()  # only a cancellation ends it

            # A call cancelled before its request arrived leaves the 503 to the next call:
            # that one's wait, after the cancellation, passes at once.
            fake.enqueue("PATCH", connection_path(CID), 503)
            client = make_client(fake, sleep=blocking_sleep, retry=RetryPolicy(max_attempts=3))
            async with client:
                task = asyncio.create_task(client.update_calendar_connection(CID, UPDATE))
                if rng.random() < 0.5:
                    await waiting.wait()
                await asyncio.sleep(rng.uniform(0.0, 0.01))
                during_the_wait += waiting.is_set()
                task.cancel()
                assert await settle(task) == "cancelled"
                blocking[0] = False
                await assert_still_works(client, fake)
            await assert_clean(before)
            assert fake.pending_scripts == 0
        assert during_the_wait


class SlowBody:
    """A raw server: ``slow`` gets its headers and a few bytes, then nothing; others an answer.

    One request per connection, so a handler ends when its client closes the connection.
    """

    def __init__(self) -> None:
        self.stalled = 0
        self.stalling = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line, _, _ = await read_request(reader)
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if "/slow " in line:
            self.stalled += 1
            writer.write(f"{head}Content-Length: 100\r\n\r\n".encode() + b'{"id": "sl')
            await writer.drain()
            self.stalling.set()
            await wait_for_eof(reader, timeout=5.0)
            return
        body = json.dumps({"id": CID, "primaryCalendar": "after-the-cancel"}).encode()
        writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()


async def test_a_call_cancelled_while_reading_the_body_leaves_nothing_behind() -> None:
    rng = random.Random(505)
    server = SlowBody()
    async with tcp_server(server.handle) as url:
        before = asyncio.all_tasks()
        for _ in range(ITERATIONS):
            client = MeetergoClient(
                "rgo-" + "0" * 32, base_url=url, rate_limit=None, retry=RetryPolicy(max_attempts=1)
            )
            async with client:
                server.stalling.clear()
                task = asyncio.create_task(client.update_calendar_connection("slow", UPDATE))
                async with no_hang("the server starting the slow body"):
                    await server.stalling.wait()
                await asyncio.sleep(rng.uniform(0.0, 0.01))
                task.cancel()
                assert await settle(task) == "cancelled"
                assert acquired_connections(client) == 0
                result = await client.update_calendar_connection(CID, FOLLOW_UP)
                assert result.primary_calendar == "after-the-cancel"
            await assert_clean(before)
    assert server.stalled == ITERATIONS


# -- a bulk run ----------------------------------------------------------------------------


def bulk_items(fake: FakeMeetergo, seed: int) -> list[tuple[str, CalendarConnectionUpdate]]:
    return [
        (cid, CalendarConnectionUpdate(primary_calendar=f"cal-{seed}-{i}"))
        for i, cid in enumerate(sorted(fake.connections))
    ]


async def test_a_bulk_run_cancelled_at_random_moments_leaves_nothing_behind() -> None:
    rng = random.Random(404)
    async with FakeMeetergo(generate=60, rate_limit=None, latency=0.002) as fake:
        before = asyncio.all_tasks()
        interrupted = 0
        for iteration in range(ITERATIONS):
            items = bulk_items(fake, iteration)
            got: list[UpdateResult] = []

            async def consume(
                client: MeetergoClient, items: list[Any] = items, got: list[UpdateResult] = got
            ) -> None:
                async for result in client.iter_update_calendar_connections(items):
                    got.append(result)

            async with make_client(fake, max_concurrency=8) as client:
                if iteration % 2:
                    task: asyncio.Task[Any] = asyncio.create_task(consume(client))
                else:
                    task = asyncio.create_task(client.update_calendar_connections(items))
                await asyncio.sleep(rng.uniform(0.0, 0.03))
                task.cancel()
                outcome = await settle(task)
                interrupted += outcome == "cancelled"
                if outcome != "cancelled":
                    results = got if iteration % 2 else outcome
                    assert isinstance(results, list)
                    assert sorted(r.index for r in results) == list(range(len(items)))
                assert len({r.index for r in got}) == len(got)
                await assert_still_works(client, fake)
            await assert_clean(before)
        assert interrupted


async def test_a_bulk_iterator_closed_early_cancels_what_is_in_flight() -> None:
    async with FakeMeetergo(generate=40, rate_limit=None, latency=0.005) as fake:
        before = asyncio.all_tasks()
        async with make_client(fake, max_concurrency=8) as client:
            seen = 0
            iterator = client.iter_update_calendar_connections(bulk_items(fake, 0))
            async with contextlib.aclosing(iterator) as results:
                async for _ in results:
                    seen += 1
                    if seen == 5:
                        break
            assert await leftover_tasks(before) == set()
            await assert_still_works(client, fake)
        await assert_clean(before)
    assert sum(fake.update_counts.values()) < 40


# -- nothing lost ------------------------------------------------------------------------


async def test_updates_applied_but_unanswered_are_repeated_and_none_is_lost() -> None:
    # With this many failures the client also waits out outages, from many tasks at once:
    # a clock that adds up every sleep would race past the deadline, so time is virtual.
    fake_time = VirtualTime()
    retry = RetryPolicy(max_attempts=12, initial_backoff=0.01, max_backoff=0.05)
    async with FakeMeetergo(generate=80, rate_limit=None, drop_after_rate=0.3, seed=5) as fake:
        ids = sorted(fake.connections)
        updates = {
            cid: CalendarConnectionUpdate(
                primary_calendar=f"cal-{i}",
                selected_calendars=[f"cal-{i}", "shared"],
                validate_availability=i % 2 == 0,
            )
            for i, cid in enumerate(ids)
        }
        async with make_client(fake, fake_time, retry=retry) as client:
            results = await client.update_calendar_connections(list(updates.items()))
        assert len(results) == len(updates)
        assert [r.index for r in results] == list(range(len(ids)))
        assert [r.connection_id for r in results] == ids
        assert all(r.ok for r in results), [r for r in results if not r.ok]
        counts = fake.update_counts
        assert set(counts) == set(ids)
        assert any(counts[cid] >= 2 for cid in ids), "no update was dropped after applying"
        assert sum(counts.values()) == len(ids) + fake.status_counts[DROPPED]
        for result in results:
            cid = result.connection_id
            assert cid is not None
            assert result.attempts == counts[cid]
            stored = fake.connections[cid]
            update = updates[cid]
            assert stored["primaryCalendar"] == update.primary_calendar
            assert stored["selectedCalendars"] == [f"cal-{result.index}", "shared"]
            assert stored["validateAvailability"] == update.validate_availability
            assert result.connection is not None
            assert result.connection.primary_calendar == update.primary_calendar


INVALID_ITEMS: list[Any] = [
    ("", UPDATE),
    ("conn-0001", None),
    "conn-0001",
    42,
    ("conn-0001", UPDATE, "extra"),
    ("conn-0001", CalendarConnectionUpdate()),
    (" ", UPDATE),
    ("conn\r\n0001", UPDATE),
]


def mixed_items(n: int) -> Iterator[tuple[int, Any]]:
    """``(kind, item)``: 0 a known connection, 1 an unknown id, 2 an invalid item."""
    invalid = iter(INVALID_ITEMS * n)
    for i in range(n):
        if i % 29 == 7:
            yield 2, next(invalid)
        elif i % 11 == 3:
            yield 1, (f"missing-{i}", UPDATE)
        else:
            yield 0, (f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"cal-{i}"))


def check_mixed_results(
    kinds: list[int], items: list[Any], results: list[UpdateResult], fake: FakeMeetergo
) -> None:
    indexes = [r.index for r in results]
    assert len(results) == len(items)
    assert len(set(indexes)) == len(indexes), "an item reported twice"
    assert sorted(indexes) == list(range(len(items))), "an item lost"
    for result in results:
        kind, item = kinds[result.index], items[result.index]
        if kind == 2:
            assert isinstance(result.error, TypeError | ValueError), result
            assert result.attempts == 0
            continue
        assert result.connection_id == item[0]
        if kind == 1:
            assert isinstance(result.error, MeetergoError), result
            continue
        if result.ok:
            stored = fake.connections[item[0]]
            assert stored["primaryCalendar"] == item[1].primary_calendar
        else:
            assert isinstance(result.error, MeetergoError)
            assert not isinstance(result.error, NotFoundError)


async def test_a_bulk_run_with_every_kind_of_fault_reports_each_item_exactly_once(
    fake_time: FakeTime,
) -> None:
    kinds, items = map(list, zip(*mixed_items(300), strict=True))
    retry = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)
    fake = FakeMeetergo(
        generate=300,
        rate_limit=None,
        seed=9,
        fail_rate=0.1,
        drop_before_rate=0.1,
        drop_after_rate=0.1,
    )
    async with fake, make_client(fake, fake_time, retry=retry) as client:
        results = await client.update_calendar_connections(items)
        check_mixed_results(kinds, items, results, fake)
        assert sum(r.ok for r in results) > 200
        assert any(isinstance(r.error, NotFoundError) for r in results)

        # The same, streamed from a lazy source and yielded as each item completes.
        some_kinds, some_items = kinds[:120], items[:120]

        async def lazily() -> AsyncIterator[Any]:
            for item in some_items:
                await asyncio.sleep(0)
                yield item

        streamed = [r async for r in client.iter_update_calendar_connections(lazily())]
        check_mixed_results(some_kinds, some_items, streamed, fake)
    assert fake.status_counts[DROPPED] > 0
    assert any(500 <= status < 600 for status in fake.status_counts)
