"""Retries, pacing and bulk updates end to end, over real sockets against FakeMeetergo."""

from __future__ import annotations

import asyncio
import gc

import pytest

from meetergo_async import (
    AuthenticationError,
    BadRequestError,
    CalendarConnectionUpdate,
    MeetergoClient,
    NotFoundError,
    PermissionDeniedError,
    RetryPolicy,
    ServerError,
    TokenBucket,
    UpdateRequest,
)
from meetergo_async.testing import FakeMeetergo, FixedWindow
from tests.helpers import FakeTime

PATH = "/v4/calendar-connections/connections/"


def client_for(fake: FakeMeetergo, fake_time: FakeTime | None = None, **kwargs: object):
    if fake_time is not None:
        kwargs.update(clock=fake_time.clock, sleep=fake_time.sleep)
    kwargs.setdefault("rate_limit", None)
    return MeetergoClient(fake.api_key, user_id=fake.user_id, base_url=fake.url, **kwargs)


async def test_update_and_list_round_trip() -> None:
    async with FakeMeetergo(generate=3) as fake, client_for(fake) as client:
        update = CalendarConnectionUpdate(
            primary_calendar="work",
            selected_calendars=["work", "home"],
            sync_buffers_to_calendar=True,
        )
        conn = await client.update_calendar_connection("conn-0001", update)
        listed = {c.id: c for c in await client.list_calendar_connections()}
    assert conn.primary_calendar == "work"
    assert conn.selected_calendars == ("work", "home")
    assert conn.updated_at is not None
    assert conn.updated_at.tzinfo is not None
    assert listed["conn-0001"].sync_buffers_to_calendar is True
    assert sorted(listed) == ["conn-0000", "conn-0001", "conn-0002"]
    [recorded] = [r for r in fake.requests if r.method == "PATCH"]
    assert recorded.json == {
        "primaryCalendar": "work",
        "selectedCalendars": ["work", "home"],
        "syncBuffersToCalendar": True,
    }


@pytest.mark.parametrize("conn_id", ["a/b", "../x", "a?b#c", "ä ö", "%2F", "..", "."])
async def test_tricky_ids_reach_their_own_connection(conn_id: str) -> None:
    async with FakeMeetergo() as fake, client_for(fake) as client:
        fake.add_connection(id=conn_id)
        conn = await client.update_calendar_connection(
            conn_id, CalendarConnectionUpdate(validate_availability=False)
        )
    assert conn.id == conn_id
    assert fake.update_counts[conn_id] == 1
    assert fake.connections[conn_id]["validateAvailability"] is False


async def test_the_servers_refusals_become_typed_errors() -> None:
    update = CalendarConnectionUpdate(validate_availability=True)
    async with FakeMeetergo(generate=1) as fake:
        async with client_for(fake) as client:
            with pytest.raises(NotFoundError, match="Connection not found"):
                await client.update_calendar_connection("nope", update)
            with pytest.raises(PermissionDeniedError):
                await client.update_calendar_connection("conn-0000", update, as_user="stranger")
        async with MeetergoClient(
            "ak_live:0000:wrong", user_id=fake.user_id, base_url=fake.url, rate_limit=None
        ) as wrong:
            with pytest.raises(AuthenticationError):
                await wrong.update_calendar_connection("conn-0000", update)
        fake.enqueue("PATCH", PATH + "conn-0000", status=400, json={"message": ["a", "b"]})
        async with client_for(fake) as client:
            with pytest.raises(BadRequestError, match="a; b"):
                await client.update_calendar_connection("conn-0000", update)
    assert fake.status_counts[404] == 1


async def test_503s_then_success_over_the_wire(fake_time) -> None:
    async with FakeMeetergo(generate=1) as fake, client_for(fake, fake_time) as client:
        fake.enqueue("PATCH", PATH + "conn-0000", status=503)
        fake.enqueue("PATCH", PATH + "conn-0000", status=503, headers={"Retry-After": "2"})
        [result] = await client.update_calendar_connections(
            [("conn-0000", CalendarConnectionUpdate(validate_availability=False))]
        )
    assert result.ok
    assert result.attempts == 3
    assert fake_time.sleeps[-1] == 2.0
    assert fake.update_counts["conn-0000"] == 1


async def test_exhausted_retries_raise_the_last_error(fake_time) -> None:
    fake = FakeMeetergo(generate=1, fail_rate=1.0, fail_statuses=(502,))
    policy = RetryPolicy(max_attempts=3)
    async with fake, client_for(fake, fake_time, retry=policy) as client:
        with pytest.raises(ServerError) as info:
            await client.update_calendar_connection(
                "conn-0000", CalendarConnectionUpdate(validate_availability=False)
            )
    assert info.value.status == 502
    assert info.value.attempts == 3
    assert len(fake.requests) == 3


async def test_a_429_pauses_the_whole_client_until_retry_after(fake_time) -> None:
    gate = asyncio.Event()
    backing_off = asyncio.Event()

    async def sleep(seconds: float) -> None:
        fake_time.sleeps.append(seconds)
        if len(fake_time.sleeps) == 1:
            backing_off.set()
            await gate.wait()  # hold the 429'd call in its backoff; time stands still
        fake_time.now += seconds

    async with FakeMeetergo(generate=20, rate_limit=None) as fake:
        fake.enqueue("PATCH", PATH + "conn-0000", status=429, headers={"Retry-After": "7"})
        async with client_for(
            fake, rate_limit=TokenBucket(1000, burst=1000), clock=fake_time.clock, sleep=sleep
        ) as client:
            update = CalendarConnectionUpdate(validate_availability=False)
            first = asyncio.create_task(client.update_calendar_connection("conn-0000", update))
            await backing_off.wait()
            await client.update_calendar_connection("conn-0001", update)
            gate.set()
            await first
    # Another task's call waited out the pause that the 429 started.
    assert fake_time.sleeps[:2] == [7.0, pytest.approx(7.0)]
    assert client.stats.rate_limited == 1


async def test_pacing_against_a_fixed_window_server_avoids_429s() -> None:
    window = FixedWindow(limit=30, window_seconds=1.0)
    fake = FakeMeetergo(generate=40, rate_limit=window)
    async with fake, client_for(fake, rate_limit=TokenBucket(1000, burst=100)) as client:
        results = await client.update_calendar_connections(
            (f"conn-{i:04d}", CalendarConnectionUpdate(validate_availability=False))
            for i in range(40)
        )
    assert all(r.ok for r in results)
    # The client read X-RateLimit-Remaining and waited for the window instead of being refused
    # (requests already in flight when the budget ran out may still draw one).
    assert fake.status_counts[429] <= 16


async def test_bulk_with_missing_ids_and_per_item_users() -> None:
    async with (
        FakeMeetergo(generate=5, user_ids=["user-a", "user-b"]) as fake,
        MeetergoClient(
            fake.api_key, user_id="user-a", base_url=fake.url, rate_limit=None
        ) as client,
    ):
        update = CalendarConnectionUpdate(disable_attendee_notification=True)
        items = [
            UpdateRequest("conn-0000", update),
            UpdateRequest("missing", update),
            UpdateRequest("conn-0002", update, as_user="user-b"),
            ("conn-0003", CalendarConnectionUpdate()),
        ]
        results = await client.update_calendar_connections(items)
    assert [r.ok for r in results] == [True, False, True, False]
    assert isinstance(results[1].error, NotFoundError)
    assert isinstance(results[3].error, ValueError)
    users = {r.connection_id: r.headers.get("x-meetergo-api-user-id") for r in fake.requests}
    assert users == {"conn-0000": "user-a", "missing": "user-a", "conn-0002": "user-b"}


async def test_fault_soak_every_item_ends_ok_and_nothing_leaks() -> None:
    """2,000 updates at concurrency 32 with 10% 503s and 2% cut connections."""
    n = 2000
    tasks_before = asyncio.all_tasks()
    fake = FakeMeetergo(
        generate=n,
        rate_limit=None,
        seed=42,
        fail_rate=0.10,
        fail_statuses=(503,),
        drop_before_rate=0.01,
        drop_after_rate=0.01,
        record_requests=False,
    )
    policy = RetryPolicy(max_attempts=8, initial_backoff=0.001, max_backoff=0.01)
    updates = {
        f"conn-{i:04d}": CalendarConnectionUpdate(
            validate_availability=i % 2 == 0, primary_calendar=f"cal-{i}"
        )
        for i in range(n)
    }
    async with fake, client_for(fake, retry=policy, max_concurrency=32) as client:
        results = await client.update_calendar_connections(updates.items())
        final = fake.connections
        statuses = dict(fake.status_counts)
    assert len(results) == n
    assert [r.index for r in results] == list(range(n))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    for conn_id, update in updates.items():
        assert final[conn_id]["validateAvailability"] is update.validate_availability
        assert final[conn_id]["primaryCalendar"] == update.primary_calendar
    assert statuses[503] > 100  # the faults did happen
    assert statuses[0] > 10  # connections were cut (counted under 0)
    assert sum(r.attempts for r in results) > n
    gc.collect()
    assert asyncio.all_tasks() == tasks_before
