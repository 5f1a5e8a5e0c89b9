"""on_event: typed, frozen events for every attempt and every wait; a hook never breaks a call."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import attrs
import pytest
from aioresponses import CallbackResult

from meetergo_async import (
    APIConnectionError,
    AttemptEvent,
    CalendarConnectionUpdate,
    MeetergoClient,
    Priority,
    RetryPolicy,
    SlidingWindow,
    TokenBucket,
    WaitEvent,
)
from meetergo_async._events import Event, hash_user
from meetergo_async.testing import MockTransport, Request, Response, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime, mocked_client

ROUTE = "/v4/calendar-connections/connections/{connection_id}"
LIST_ROUTE = "/v4/calendar-connections/connections"
CONN_URL = f"{BASE_URL}/v4/calendar-connections/connections/conn-1"
LIST_URL = f"{BASE_URL}/v4/calendar-connections/connections"
UPDATE = CalendarConnectionUpdate(validate_availability=True)
OK = {"id": "conn-1", "validateAvailability": True}


def recording(fake_time: FakeTime, **options: Any) -> tuple[MeetergoClient, list[Event]]:
    events: list[Event] = []
    return mocked_client(fake_time, on_event=events.append, **options), events


def attempts(events: list[Event]) -> list[AttemptEvent]:
    return [e for e in events if isinstance(e, AttemptEvent)]


def waits(events: list[Event]) -> list[WaitEvent]:
    return [e for e in events if isinstance(e, WaitEvent)]


async def test_an_answered_attempt_tells_route_status_latency_and_a_hashed_user(
    mock_api: Any, fake_time: FakeTime
) -> None:
    def slow(url: Any, **kwargs: Any) -> CallbackResult:
        fake_time.now += 0.25
        return CallbackResult(payload=OK)

    mock_api.patch(CONN_URL, callback=slow)
    client, events = recording(fake_time)

    async with client:
        await client.update_calendar_connection("conn-1", UPDATE)

    assert events == [AttemptEvent("PATCH", ROUTE, 200, None, 0.25, 1, hash_user(USER_ID))]
    assert USER_ID not in repr(events)
    assert len(hash_user(USER_ID)) == 12
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        events[0].status = 500  # type: ignore[misc]


async def test_retries_show_each_attempt_and_the_backoff_between(
    mock_api: Any, fake_time: FakeTime
) -> None:
    mock_api.patch(CONN_URL, status=503)
    mock_api.patch(CONN_URL, exception=aiohttp.ServerDisconnectedError())
    mock_api.patch(CONN_URL, exception=TimeoutError())
    mock_api.patch(CONN_URL, payload=OK)
    client, events = recording(fake_time)

    async with client:
        await client.update_calendar_connection("conn-1", UPDATE)

    assert [(a.status, a.error, a.attempt) for a in attempts(events)] == [
        (503, None, 1),
        (None, "connection", 2),
        (None, "timeout", 3),
        (200, None, 4),
    ]
    assert [type(e).__name__ for e in events] == [
        "AttemptEvent",
        "WaitEvent",
        "AttemptEvent",
        "WaitEvent",
        "AttemptEvent",
        "WaitEvent",
        "AttemptEvent",
    ]
    assert [w.reason for w in waits(events)] == ["backoff"] * 3
    assert [w.seconds for w in waits(events)] == pytest.approx(fake_time.sleeps)


@pytest.mark.parametrize("pace", [SlidingWindow(100, 60.0), TokenBucket.per_second(50, burst=5)])
async def test_a_429_makes_the_waits_a_pause(
    mock_api: Any, fake_time: FakeTime, pace: SlidingWindow | TokenBucket
) -> None:
    mock_api.get(LIST_URL, status=429, headers={"Retry-After": "2"})
    mock_api.get(LIST_URL, payload={"connections": []})
    client, events = recording(fake_time, rate_limit=pace)

    async with client:
        await client.list_calendar_connections()

    assert [(a.route, a.status) for a in attempts(events)] == [(LIST_ROUTE, 429), (LIST_ROUTE, 200)]
    assert waits(events)
    assert {w.reason for w in waits(events)} == {"pause"}
    assert sum(w.seconds for w in waits(events)) == pytest.approx(2.0)


async def test_waiting_for_a_turn_is_pace(mock_api: Any, fake_time: FakeTime) -> None:
    mock_api.get(LIST_URL, payload={"connections": []}, repeat=True)
    client, events = recording(fake_time, rate_limit=TokenBucket.per_second(2, burst=1))

    async with client:
        for _ in range(3):
            await client.list_calendar_connections()

    assert [(w.reason, w.seconds) for w in waits(events)] == [("pace", 0.5), ("pace", 0.5)]
    assert len(attempts(events)) == 3


async def test_the_acting_user_is_hashed_or_left_out(mock_api: Any, fake_time: FakeTime) -> None:
    mock_api.get(LIST_URL, payload={"connections": []}, repeat=True)
    events: list[Event] = []
    pat = "rgo-" + "a" * 32
    async with mocked_client(fake_time, on_event=events.append) as client:
        await client.list_calendar_connections(as_user="user-2")
    async with MeetergoClient(pat, base_url=BASE_URL, on_event=events.append) as token_client:
        await token_client.list_calendar_connections()

    assert [a.user for a in attempts(events)] == [hash_user("user-2"), None]


async def test_what_a_hook_raises_is_logged_and_the_call_goes_on(
    mock_api: Any, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.patch(CONN_URL, status=503)
    mock_api.patch(CONN_URL, payload=OK)

    def broken(event: Event) -> None:
        raise RuntimeError("exporter down")

    async with mocked_client(fake_time, on_event=broken) as client:
        connection = await client.update_calendar_connection("conn-1", UPDATE)

    assert connection.id == "conn-1"
    logged = [r for r in caplog.records if "on_event hook raised" in r.getMessage()]
    assert [r.getMessage().split(" on ")[-1] for r in logged] == [
        "AttemptEvent; the call goes on",
        "WaitEvent; the call goes on",
        "AttemptEvent; the call goes on",
    ]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in logged)


async def test_a_coroutine_hook_runs_beside_the_call_and_closing_waits_for_it(
    mock_api: Any, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.get(LIST_URL, payload={"connections": []}, repeat=True)
    seen: list[Event] = []
    release = asyncio.Event()

    async def exporter(event: Event) -> None:
        await release.wait()
        seen.append(event)
        raise RuntimeError("exporter down")

    client = mocked_client(fake_time, on_event=exporter)
    async with client:
        await client.list_calendar_connections()
        await client.list_calendar_connections()
        assert seen == []  # the calls did not wait for the hook
        release.set()

    assert [type(e) for e in seen] == [AttemptEvent, AttemptEvent]
    assert sum("on_event hook raised" in r.getMessage() for r in caplog.records) == 2


async def test_a_cancelled_attempt_is_reported_as_cancelled(fake_time: FakeTime) -> None:
    from aiohttp import web

    from tests.integration._servers import http_server

    arrived, never = asyncio.Event(), asyncio.Event()

    async def stall(request: web.BaseRequest) -> web.StreamResponse:
        arrived.set()
        await never.wait()
        raise AssertionError("unreachable")

    events: list[Event] = []
    async with http_server(stall) as url:
        client = MeetergoClient(API_KEY, user_id=USER_ID, base_url=url, on_event=events.append)
        async with client:
            call = asyncio.create_task(client.list_calendar_connections())
            await arrived.wait()
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    assert [(a.status, a.error) for a in attempts(events)] == [(None, "cancelled")]


def test_on_event_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_event must be a function") as error:
        MeetergoClient(API_KEY, user_id=USER_ID, on_event="print")  # type: ignore[arg-type]

    assert getattr(error.value, "argument", None) == "on_event"


async def test_without_a_hook_the_limiter_and_the_sleep_are_not_wrapped(
    fake_time: FakeTime,
) -> None:
    client = mocked_client(fake_time, retry=RetryPolicy())
    hooked = mocked_client(fake_time, on_event=lambda event: None)

    assert type(client._caller._limiter).__name__ == "Gate"
    assert client._caller._retry_sleep(Priority.BULK) == fake_time.sleep
    assert type(hooked._caller._limiter).__name__ == "_TimedPacer"
    assert hooked._caller._sleep == fake_time.sleep  # outage waits are reported by the caller


async def test_waiting_for_an_outage_to_end_is_a_pause(fake_time: FakeTime) -> None:
    from meetergo_async._health import OUTAGE_AFTER, OUTAGE_PROBE_FIRST

    # Another call is under way (its answer held back), so this one is not alone: once the
    # host has refused it OUTAGE_AFTER times, it waits for the outage's probes.
    held = asyncio.Event()
    refusals = OUTAGE_AFTER + 1  # an outage, and a first probe that fails too

    async def handler(request: Request) -> Response:
        nonlocal refusals
        if request.method == "GET":
            await held.wait()
            return json_response({"connections": []})
        if refusals:
            refusals -= 1
            raise APIConnectionError("refused", connected=False)
        return json_response(OK)

    events: list[Event] = []
    no_backoff = RetryPolicy(max_attempts=10, initial_backoff=0.0)
    client = mocked_client(
        fake_time, transport=MockTransport(handler), retry=no_backoff, on_event=events.append
    )
    async with client:
        other = asyncio.create_task(client.list_calendar_connections())
        await asyncio.sleep(0)
        await client.update_calendar_connection("conn-1", UPDATE)
        held.set()
        await other

    patches = [a for a in attempts(events) if a.method == "PATCH"]
    assert [a.error for a in patches] == ["connection"] * (OUTAGE_AFTER + 1) + [None]
    # The first probe goes at once; the second waits OUTAGE_PROBE_FIRST after the first failed.
    assert [(w.reason, w.seconds) for w in waits(events) if w.seconds] == [
        ("pause", OUTAGE_PROBE_FIRST)
    ]
