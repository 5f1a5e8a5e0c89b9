"""The lanes as a user meets them: single calls interactive, bulk items bulk, ``priority=``.

A MockTransport answers; injected time; the rate limit is small, so the lanes matter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from meetergo_async import (
    APITimeoutError,
    CalendarConnectionUpdate,
    MeetergoClient,
    Priority,
    RetryPolicy,
    SlidingWindow,
    UpdateRequest,
    WaitEvent,
)
from meetergo_async._events import Event
from meetergo_async.testing import (
    MockTransport,
    Request,
    Response,
    error_response,
    json_response,
)
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime, VirtualTime

UPDATE = CalendarConnectionUpdate(validate_availability=True)


def echo(request: Request) -> Response:
    if request.method == "GET":
        return json_response({"connections": []})
    return json_response({"id": request.url.name})


def recorder() -> tuple[list[str], asyncio.Event, Callable[[Request], Response]]:
    """The connections requested, in order; an event set once two were; the handler."""
    order: list[str] = []
    two_sent = asyncio.Event()

    def record(request: Request) -> Response:
        order.append(request.url.name)
        if len(order) == 2:
            two_sent.set()
        return echo(request)

    return order, two_sent, record


def client_of(clock: FakeTime | VirtualTime, **options: object) -> MeetergoClient:
    options.setdefault("rate_limit", None)
    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        transport=options.pop("transport", MockTransport(echo)),  # type: ignore[arg-type]
        clock=clock.clock,
        sleep=clock.sleep,
        **options,  # type: ignore[arg-type]
    )


async def test_single_calls_are_interactive_and_bulk_items_bulk(fake_time: FakeTime) -> None:
    async with client_of(fake_time) as client:
        await client.update_calendar_connection("conn-1", UPDATE)
        await client.list_calendar_connections()
        await client.update_calendar_connections([("conn-2", UPDATE), ("conn-3", UPDATE)])
        async for _ in client.iter_update_calendar_connections([("conn-4", UPDATE)]):
            pass
        stats = client.stats
    assert (stats.interactive_requests, stats.bulk_requests) == (2, 3)
    assert stats.requests == 5


async def test_priority_overrides_the_default_of_a_method_and_of_an_item(
    fake_time: FakeTime,
) -> None:
    async with client_of(fake_time) as client:
        await client.update_calendar_connection("conn-1", UPDATE, priority="bulk")
        await client.list_calendar_connections(priority=Priority.BULK)
        await client.update_calendar_connections(
            [
                UpdateRequest("conn-2", UPDATE),  # the run's
                UpdateRequest("conn-3", UPDATE, priority="interactive"),  # its own
            ],
            priority="interactive",
        )
        await client.update_calendar_connections([UpdateRequest("conn-4", UPDATE, priority="bulk")])
        stats = client.stats
    assert (stats.interactive_requests, stats.bulk_requests) == (2, 3)


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("urgent", ValueError, "priority must be 'interactive' or 'bulk', got 'urgent'"),
        (1, TypeError, "priority must be 'interactive' or 'bulk', got int"),
    ],
)
async def test_a_bad_priority_is_refused_before_anything_is_sent(
    fake_time: FakeTime, value: object, kind: type[Exception], message: str
) -> None:
    sent: list[Request] = []

    def record(request: Request) -> Response:
        sent.append(request)
        return echo(request)

    async with client_of(fake_time, transport=MockTransport(record)) as client:
        with pytest.raises(kind, match=message):
            await client.update_calendar_connection("conn-1", UPDATE, priority=value)  # type: ignore[arg-type]
        with pytest.raises(kind, match=message):
            await client.update_calendar_connections([], priority=value)  # type: ignore[arg-type]
        with pytest.raises(kind, match=message):
            UpdateRequest("conn-1", UPDATE, priority=value)
    assert sent == []


async def test_a_wait_event_names_the_lane_that_waited() -> None:
    time = VirtualTime()
    events: list[Event] = []
    async with client_of(
        time, rate_limit=SlidingWindow(2, 1.0), on_event=events.append, max_concurrency=4
    ) as client:
        await client.update_calendar_connections([(f"conn-{i}", UPDATE) for i in range(4)])
        await client.update_calendar_connection("conn-9", UPDATE)
    waits = [e for e in events if isinstance(e, WaitEvent) and e.reason == "pace"]
    assert {e.priority for e in waits} == {Priority.BULK, Priority.INTERACTIVE}
    assert WaitEvent("pace", 1.0).priority is Priority.INTERACTIVE  # the default


async def test_a_single_call_goes_before_the_bulk_items_queued_before_it() -> None:
    time = VirtualTime()
    order, two_sent, record = recorder()

    async with client_of(
        time, transport=MockTransport(record), rate_limit=SlidingWindow(2, 1.0)
    ) as client:
        bulk = client.update_calendar_connections([(f"bulk-{i}", UPDATE) for i in range(6)])
        run = asyncio.ensure_future(bulk)
        await two_sent.wait()  # the first window's two slots are the bulk job's
        await client.update_calendar_connection("person", UPDATE)
        await run
    assert order.index("person") == 2  # the next slot after it came


async def test_bulk_items_waiting_for_a_turn_hold_no_place_a_single_call_needs() -> None:
    time = VirtualTime()
    order, two_sent, record = recorder()

    async with client_of(
        time, transport=MockTransport(record), rate_limit=SlidingWindow(2, 1.0), max_concurrency=2
    ) as client:
        # Both places of max_concurrency=2 are the bulk job's, but its items wait for a turn.
        run = asyncio.ensure_future(
            client.update_calendar_connections([(f"bulk-{i}", UPDATE) for i in range(6)])
        )
        await two_sent.wait()
        await client.update_calendar_connection("person", UPDATE)
        await run
    assert order.index("person") == 2


async def test_a_turn_that_comes_after_the_deadline_is_given_back() -> None:
    time = VirtualTime()
    answers = [error_response(503), echo]

    def handler(request: Request) -> Response:
        answer = answers.pop(0) if answers else echo
        return answer if isinstance(answer, Response) else answer(request)

    policy = RetryPolicy(max_attempts=2, initial_backoff=0.01, deadline=0.5)
    async with client_of(
        time, transport=MockTransport(handler), rate_limit=SlidingWindow(1, 10.0), retry=policy
    ) as client:
        with pytest.raises(APITimeoutError, match="deadline"):
            # Its retry's turn comes when the first attempt stops counting: past the deadline.
            await client.update_calendar_connection("conn-1", UPDATE)
        async with asyncio.timeout(5):  # real seconds: a turn not given back is waited for ever
            await client.update_calendar_connection("conn-2", UPDATE)
    assert client.stats.requests == 2
