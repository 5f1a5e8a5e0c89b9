"""Bulk updates: one result per item, in order, lazily read, bounded, cancellable."""

from __future__ import annotations

import asyncio
import re
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from aioresponses import CallbackResult
from yarl import URL

from meetergo_async import (
    CalendarConnection,
    CalendarConnectionUpdate,
    MeetergoClient,
    NotFoundError,
    RetryPolicy,
    UpdateRequest,
)
from meetergo_async._bulk import MAX_WAITING_PER_WORKER, iter_bulk, run_bulk
from tests.helpers import BASE_URL, USER_ID, FakeTime, base_kind, mocked_client

PREFIX = f"{BASE_URL}/v4/calendar-connections/connections/"
UPDATE = CalendarConnectionUpdate(primary_calendar="primary")


def client(fake_time: FakeTime, **kwargs: object) -> MeetergoClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=2))
    return mocked_client(fake_time, **kwargs)


def hanging_server(mock_api, ids: str = ".*") -> asyncio.Event:
    """Never answer a PATCH whose id matches ``ids``; the event is set when one arrives."""
    started = asyncio.Event()

    async def hang(url: URL, **kwargs: object) -> CallbackResult:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    mock_api.patch(re.compile(re.escape(PREFIX) + ids), callback=hang, repeat=True)
    return started


class ClosingInput:
    """A generator of 1,000 ``(id, update)`` pairs that notes when its cleanup has run.

    It holds the generator, so only an explicit close (not garbage collection) runs it.
    """

    def __init__(self) -> None:
        self.closed = False
        self.items = self._generate()

    def _generate(self) -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        try:
            for i in range(1000):
                yield f"c{i}", UPDATE
        finally:
            self.closed = True


def echo_server(mock_api, *, missing: frozenset[str] = frozenset(), delay_steps: int = 0):
    """Answer every PATCH with the id it names; ids in ``missing`` get 404."""
    state = {"in_flight": 0, "peak": 0, "seen": []}

    async def answer(url: URL, **kwargs: object) -> CallbackResult:
        conn_id = url.path.rsplit("/", 1)[1]
        state["seen"].append((conn_id, kwargs))
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        # Later ids finish first, so completion order differs from input order.
        for _ in range(delay_steps * (50 - int(conn_id[1:]) % 50 if conn_id[1:].isdigit() else 1)):
            await asyncio.sleep(0)
        state["in_flight"] -= 1
        if conn_id in missing:
            return CallbackResult(status=404, payload={"message": "Connection not found"})
        return CallbackResult(payload={"id": conn_id, "primaryCalendar": "primary"})

    mock_api.patch(re.compile(re.escape(PREFIX) + r".*"), callback=answer, repeat=True)
    return state


async def test_results_come_back_in_input_order(mock_api, fake_time) -> None:
    echo_server(mock_api, delay_steps=1)
    ids = [f"c{i}" for i in range(40)]
    async with client(fake_time) as c:
        results = await c.update_calendar_connections([(i, UPDATE) for i in ids])
    assert [r.index for r in results] == list(range(40))
    assert [r.connection_id for r in results] == ids
    assert all(r.ok and r.connection.id == r.connection_id for r in results)
    assert all(r.attempts == 1 for r in results)


async def test_the_iterator_yields_as_items_complete(mock_api, fake_time) -> None:
    echo_server(mock_api, delay_steps=1)
    async with client(fake_time, max_concurrency=10) as c:
        seen = [
            r.index
            async for r in c.iter_update_calendar_connections((f"c{i}", UPDATE) for i in range(10))
        ]
    assert sorted(seen) == list(range(10))
    assert seen != list(range(10))  # completion order, not input order


async def test_partial_failures_do_not_stop_the_others(mock_api, fake_time) -> None:
    echo_server(mock_api, missing=frozenset({"c3", "c7"}))
    async with client(fake_time) as c:
        results = await c.update_calendar_connections([(f"c{i}", UPDATE) for i in range(10)])
    failed = [r for r in results if not r.ok]
    assert [r.connection_id for r in failed] == ["c3", "c7"]
    assert all(isinstance(r.error, NotFoundError) and r.connection is None for r in failed)
    assert all(r.attempts == 1 for r in failed)  # a 404 is not retried
    assert sum(r.ok for r in results) == 8


async def test_invalid_items_get_their_error_and_send_nothing(mock_api, fake_time) -> None:
    state = echo_server(mock_api)
    items = [
        ("c1", UPDATE),
        ("", UPDATE),
        ("c2", CalendarConnectionUpdate()),
        42,
        ("c3", {"primaryCalendar": "x"}),
        (7, UPDATE),
        UpdateRequest("c4", UPDATE),
        ("c5", UPDATE, "extra"),
    ]
    async with client(fake_time) as c:
        results = await c.update_calendar_connections(items)  # type: ignore[arg-type]
    assert len(results) == len(items)
    assert [r.ok for r in results] == [True, False, False, False, False, False, True, False]
    errors = [r.error for r in results if not r.ok]
    assert [base_kind(e) for e in errors] == [
        ValueError,
        ValueError,
        TypeError,
        TypeError,
        TypeError,
        TypeError,
    ]
    # Each error names the argument it is about, as data.
    arguments = [getattr(e, "argument", None) for e in errors]
    assert arguments == ["connection_id", "update", "items", "update", "connection_id", "items"]
    assert all(r.attempts == 0 for r in results if not r.ok)
    assert sorted(conn_id for conn_id, _ in state["seen"]) == ["c1", "c4"]
    assert results[2].connection_id == "c2"
    assert results[3].connection_id is None


async def test_each_item_can_act_for_its_own_user(mock_api, fake_time) -> None:
    state = echo_server(mock_api)
    items = [
        UpdateRequest("c1", UPDATE, as_user="user-a"),
        UpdateRequest("c2", UPDATE, owner_user_id="owner-b"),
        UpdateRequest("c3", UPDATE),
    ]
    async with client(fake_time, max_concurrency=1) as c:
        results = await c.update_calendar_connections(items)
    assert all(r.ok for r in results)
    sent = {conn_id: kwargs for conn_id, kwargs in state["seen"]}
    assert sent["c1"]["headers"]["x-meetergo-api-user-id"] == "user-a"
    assert sent["c2"]["headers"]["x-meetergo-api-user-id"] == USER_ID
    assert sent["c3"]["headers"]["x-meetergo-api-user-id"] == USER_ID
    assert [m for m in mock_api.requests if m[1].query.get("userId") == "owner-b"]


async def test_concurrency_never_exceeds_the_limit(mock_api, fake_time) -> None:
    state = echo_server(mock_api, delay_steps=1)
    async with client(fake_time, max_concurrency=8) as c:
        await c.update_calendar_connections([(f"c{i}", UPDATE) for i in range(60)])
        assert state["peak"] == 8
        state["peak"] = 0
        await c.update_calendar_connections(
            [(f"c{i}", UPDATE) for i in range(60)], max_concurrency=3
        )
        assert state["peak"] == 3


async def test_the_input_is_not_drained_ahead_of_the_work(mock_api, fake_time) -> None:
    echo_server(mock_api, delay_steps=1)
    pulled = 0
    completed = 0

    def items() -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        nonlocal pulled
        for i in range(100):
            pulled += 1
            # Never more than the in-flight limit read beyond what has completed.
            assert pulled - completed <= 4 + 1
            yield f"c{i}", UPDATE

    async with client(fake_time) as c:
        async for _ in c.iter_update_calendar_connections(items(), max_concurrency=4):
            completed += 1
    assert completed == pulled == 100


async def test_an_async_iterable_is_accepted(mock_api, fake_time) -> None:
    echo_server(mock_api)

    async def items() -> AsyncIterator[tuple[str, CalendarConnectionUpdate]]:
        for i in range(5):
            await asyncio.sleep(0)
            yield f"c{i}", UPDATE

    async with client(fake_time) as c:
        results = await c.update_calendar_connections(items())
    assert [r.connection_id for r in results] == [f"c{i}" for i in range(5)]


async def test_an_input_that_raises_finishes_in_flight_items_then_raises(
    mock_api, fake_time
) -> None:
    echo_server(mock_api, delay_steps=1)

    def items() -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        yield "c1", UPDATE
        yield "c2", UPDATE
        raise OSError("input file vanished")

    got = []

    async def consume(c: MeetergoClient) -> None:
        async for result in c.iter_update_calendar_connections(items()):
            got.append(result)

    async with client(fake_time) as c:
        with pytest.raises(OSError, match="input file vanished"):
            await consume(c)
    assert sorted(r.connection_id for r in got) == ["c1", "c2"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_list_form_finishes_in_flight_items_then_raises_the_input_error(
    mock_api, fake_time, kind: str
) -> None:
    state = echo_server(mock_api, delay_steps=1)

    def sync_items() -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        yield "c1", UPDATE
        yield "c2", UPDATE
        raise OSError("input file vanished")

    async def async_items() -> AsyncIterator[tuple[str, CalendarConnectionUpdate]]:
        for item in sync_items():
            yield item

    items = sync_items() if kind == "sync" else async_items()
    async with client(fake_time) as c:
        with pytest.raises(OSError, match="input file vanished"):
            await c.update_calendar_connections(items)
    assert sorted(conn_id for conn_id, _ in state["seen"]) == ["c1", "c2"]
    assert state["in_flight"] == 0


async def test_the_list_form_reads_the_input_only_as_workers_free_up(mock_api, fake_time) -> None:
    state = echo_server(mock_api, delay_steps=1)
    pulled = 0

    def items() -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        nonlocal pulled
        for i in range(60):
            pulled += 1
            # Never more read than what was sent, plus the one a worker is looking at.
            assert pulled <= len(state["seen"]) + 1
            yield f"c{i}", UPDATE

    async with client(fake_time) as c:
        results = await c.update_calendar_connections(items(), max_concurrency=4)
    assert [r.index for r in results] == list(range(60))
    assert state["peak"] == 4


async def test_a_cancelled_list_run_closes_its_generator_input(mock_api, fake_time) -> None:
    started = hanging_server(mock_api)
    source = ClosingInput()
    async with client(fake_time) as c:
        task = asyncio.create_task(c.update_calendar_connections(source.items, max_concurrency=3))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert source.closed


async def test_cancelling_a_bulk_run_leaves_nothing_pending(mock_api, fake_time) -> None:
    started = hanging_server(mock_api, "hang.*")
    mock_api.patch(PREFIX + "after", payload={"id": "after"})
    before = asyncio.all_tasks()
    async with client(fake_time) as c:
        task = asyncio.create_task(
            c.update_calendar_connections([(f"hang{i}", UPDATE) for i in range(20)])
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=2)
        assert asyncio.all_tasks() == before
        assert (await c.update_calendar_connection("after", UPDATE)).id == "after"


async def test_an_unexpected_exception_in_one_item_is_its_result() -> None:
    async def run_one(connection_id: str, *_: object) -> tuple[CalendarConnection, int]:
        if connection_id == "bad":
            raise RuntimeError("bug in a hook")
        return CalendarConnection(id=connection_id), 1

    items = [("a", UPDATE), ("bad", UPDATE), ("c", UPDATE)]
    results = [r async for r in iter_bulk(items, run_one, 2)]
    by_id = {r.connection_id: r for r in results}
    assert isinstance(by_id["bad"].error, RuntimeError)
    assert by_id["a"].ok
    assert by_id["c"].ok


async def _peak_memory(count: int) -> int:
    async def run_one(connection_id: str, *_: object) -> tuple[CalendarConnection, int]:
        await asyncio.sleep(0)
        return CalendarConnection(id=connection_id), 1

    items = ((f"conn-{i:06d}", UPDATE) for i in range(count))
    tracemalloc.start()
    try:
        done = 0
        async for _ in iter_bulk(items, run_one, 32):
            done += 1
        assert done == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_memory_stays_bounded_however_long_the_input() -> None:
    small = await _peak_memory(1_000)
    large = await _peak_memory(20_000)
    # Twenty times the items, about the same peak: nothing is held per item.
    assert large < small * 1.5 + 64 * 1024, (small, large)


async def test_an_abandoned_generator_input_is_closed(mock_api, fake_time) -> None:
    echo_server(mock_api)
    source = ClosingInput()

    async with client(fake_time) as c:
        stream = c.iter_update_calendar_connections(source.items, max_concurrency=2)
        async for _ in stream:
            break
        await stream.aclose()
    assert source.closed


async def test_an_argument_refused_before_sending_reports_no_attempt(mock_api, fake_time) -> None:
    echo_server(mock_api)
    pat = "rgo-" + "a" * 32
    async with MeetergoClient(
        pat, base_url=BASE_URL, rate_limit=None, clock=fake_time.clock, sleep=fake_time.sleep
    ) as c:
        [result] = await c.update_calendar_connections([UpdateRequest("c1", UPDATE, as_user="u")])
    assert isinstance(result.error, ValueError)
    assert result.attempts == 0
    assert not mock_api.requests


# -- updates to the same connection run in input order -------------------------------------


class Recorder:
    """A ``run_one`` that takes a few loop turns per item and records what ran when.

    ``hold`` names ids whose first item waits for ``release`` before it ends.
    """

    def __init__(self, hold: frozenset[str] = frozenset()) -> None:
        self.started: list[tuple[str, str]] = []  # (connection id, primary calendar)
        self.running: dict[str, int] = {}
        self.overlap = 0
        self.hold = hold
        self.release = asyncio.Event()

    async def run_one(
        self, connection_id: str, update: CalendarConnectionUpdate, *_: object
    ) -> tuple[CalendarConnection, int]:
        value = str(update.primary_calendar)
        self.started.append((connection_id, value))
        self.running[connection_id] = self.running.get(connection_id, 0) + 1
        self.overlap = max(self.overlap, self.running[connection_id])
        try:
            if connection_id in self.hold:
                self.hold -= {connection_id}
                await self.release.wait()
            # Later items finish sooner: without ordering they would overtake earlier ones.
            for _ in range(60 - int(value) % 60):
                await asyncio.sleep(0)
            if value.endswith("3"):
                raise RuntimeError("this item fails")
        finally:
            self.running[connection_id] -= 1
        return CalendarConnection(id=connection_id, primary_calendar=value), 1

    def values_of(self, connection_id: str) -> list[str]:
        return [value for cid, value in self.started if cid == connection_id]


def numbered(connection_id: str, number: int) -> tuple[str, CalendarConnectionUpdate]:
    return connection_id, CalendarConnectionUpdate(primary_calendar=str(number))


@pytest.mark.parametrize("form", ["list", "iterator"])
async def test_items_for_one_connection_run_one_at_a_time_in_input_order(form: str) -> None:
    recorder = Recorder()
    # Every third item is for "same"; the others each name a connection of their own.
    items = [numbered("same" if i % 3 == 0 else f"other-{i}", i) for i in range(60)]
    if form == "list":
        results = await run_bulk(items, recorder.run_one, 8)
    else:
        results = [r async for r in iter_bulk(items, recorder.run_one, 8)]
    assert sorted(r.index for r in results) == list(range(60))
    assert recorder.overlap == 1  # never two items of one connection at once
    assert recorder.values_of("same") == [str(i) for i in range(0, 60, 3)]
    failed = sorted(r.index for r in results if not r.ok)
    assert failed == [3, 13, 23, 33, 43, 53]  # a failed item does not stop its successors


async def test_items_for_other_connections_are_not_held_back() -> None:
    recorder = Recorder(hold=frozenset({"slow"}))
    items = [numbered("slow", i) for i in range(6)] + [numbered(f"c{i}", i) for i in range(30)]
    done: list[str] = []
    stream = iter_bulk(items, recorder.run_one, 4)
    async with asyncio.timeout(5):
        async for result in stream:
            done.append(result.connection_id or "")
            if len(done) == 30:
                # Every other connection finished while "slow" still runs its first item.
                assert "slow" not in done
                assert recorder.values_of("slow") == ["0"]
                recorder.release.set()
    assert done[30:] == ["slow"] * 6
    assert recorder.values_of("slow") == [str(i) for i in range(6)]


async def test_items_waiting_for_their_connection_are_bounded() -> None:
    # However many items name one connection, what is read and not yet done stays bounded
    # (so memory does too): the run below reads 1,000 such items.
    recorder = Recorder()
    pulled = 0
    completed = 0

    def items() -> Iterator[tuple[str, CalendarConnectionUpdate]]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            # One item runs, the rest of what was read waits behind it, within the bound.
            assert pulled - completed <= MAX_WAITING_PER_WORKER * 4 + 4 + 1
            yield numbered("same", i)

    async for _ in iter_bulk(items(), recorder.run_one, 4):
        completed += 1
    assert completed == pulled == 1000
    assert recorder.values_of("same") == [str(i) for i in range(1000)]
