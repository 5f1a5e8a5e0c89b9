"""The retry policy: what is retried, how long it waits, when it stops, what the caller sees."""

from __future__ import annotations

import asyncio
import logging
import random

import aiohttp
import pytest
import tenacity
from yarl import URL

from meetergo_async import (
    APIConnectionError,
    APITimeoutError,
    APITLSError,
    AuthenticationError,
    BadRequestError,
    CalendarConnectionUpdate,
    ConflictError,
    MeetergoClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from meetergo_async._retry import Operation
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime, mocked_client

CONN = "conn-1"
URL_ = f"{BASE_URL}/v4/calendar-connections/connections/{CONN}"
LIST_URL = f"{BASE_URL}/v4/calendar-connections/connections"
UPDATE = CalendarConnectionUpdate(validate_availability=True)
OK = {"id": CONN, "validateAvailability": True}


client = mocked_client


def sent(mock_api, method: str = "PATCH", url: str = URL_) -> int:
    return len(mock_api.requests.get((method, URL(url)), []))


def _status(code: int):
    return BadRequestError("x", status=code) if code < 500 else ServerError("x", status=code)


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (RateLimitError("x", status=429), True, True),
        (RateLimitError("x", status=429), False, True),
        (ServerError("x", status=503), True, True),
        (ServerError("x", status=503), False, False),
        (ServerError("x", status=501), True, False),
        (APIConnectionError("reset"), True, True),
        (APIConnectionError("reset"), False, False),
        (APITimeoutError("slow"), True, True),
        (APITimeoutError("slow"), False, False),
        (APITLSError("handshake failed"), True, False),  # another attempt fails the same way
        (APITLSError("handshake failed"), False, False),
        *[(_status(code), True, True) for code in (408, 500, 502, 504)],
        *[(_status(code), True, False) for code in (400, 401, 403, 404, 406, 409)],
        (ValueError("bug"), True, False),
        (asyncio.CancelledError(), True, False),
    ],
)
def test_what_each_operation_retries(error, idempotent, expected) -> None:
    assert Operation("PATCH", idempotent=idempotent).should_retry(error) is expected


async def test_two_503s_then_success_makes_three_attempts(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=503)
    mock_api.patch(URL_, status=503)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time) as c:
        conn = await c.update_calendar_connection(CONN, UPDATE)
    assert conn.validate_availability is True
    assert sent(mock_api) == 3
    assert len(fake_time.sleeps) == 2


async def test_bulk_result_reports_attempts(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=503)
    mock_api.patch(URL_, status=502)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time) as c:
        [result] = await c.update_calendar_connections([(CONN, UPDATE)])
    assert result.ok
    assert result.attempts == 3


async def test_exhaustion_raises_the_last_typed_error(mock_api, fake_time) -> None:
    for status in (503, 500, 502, 504, 503):
        mock_api.patch(URL_, status=status, payload={"message": f"down {status}"})
    async with client(fake_time, retry=RetryPolicy(max_attempts=5)) as c:
        with pytest.raises(ServerError) as info:
            await c.update_calendar_connection(CONN, UPDATE)
    assert not isinstance(info.value, tenacity.RetryError)
    assert info.value.status == 503
    assert info.value.message == "down 503"
    assert info.value.attempts == 5
    assert sent(mock_api) == 5


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
    ],
)
async def test_client_errors_are_sent_once(mock_api, fake_time, status, error) -> None:
    mock_api.patch(URL_, status=status, repeat=True)
    async with client(fake_time) as c:
        with pytest.raises(error) as info:
            await c.update_calendar_connection(CONN, UPDATE)
    assert sent(mock_api) == 1
    assert info.value.attempts == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize(
    "exception",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("Response payload is not completed"),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        TimeoutError(),
    ],
)
async def test_lost_connections_and_timeouts_are_retried(mock_api, fake_time, exception) -> None:
    mock_api.patch(URL_, exception=exception)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time) as c:
        conn = await c.update_calendar_connection(CONN, UPDATE)
    assert conn.id == CONN
    assert sent(mock_api) == 2


async def test_get_is_retried_after_408(mock_api, fake_time) -> None:
    mock_api.get(LIST_URL, status=408)
    mock_api.get(LIST_URL, payload={"connections": [OK], "total": 1})
    async with client(fake_time) as c:
        conns = await c.list_calendar_connections()
    assert [conn.id for conn in conns] == [CONN]
    assert sent(mock_api, "GET", LIST_URL) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"Retry-After": "5", "retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "Thu, 01 Jan 2015 00:00:00 GMT"}, 0.0),
    ],
)
async def test_retry_after_sets_the_wait(mock_api, fake_time, headers, expected) -> None:
    mock_api.patch(URL_, status=429, headers=headers)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time) as c:
        await c.update_calendar_connection(CONN, UPDATE)
    assert fake_time.sleeps == [pytest.approx(expected)]


@pytest.mark.parametrize("garbage", ["-5", "1e309", "nan", "tomorrow", ""])
async def test_unusable_retry_after_falls_back_to_backoff(
    mock_api, fake_time, monkeypatch, garbage
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    mock_api.patch(URL_, status=429, headers={"Retry-After": garbage})
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time, retry=RetryPolicy(initial_backoff=0.5)) as c:
        await c.update_calendar_connection(CONN, UPDATE)
    assert fake_time.sleeps == [0.5]


async def test_backoff_is_full_jitter_doubling_up_to_the_cap(
    mock_api, fake_time, monkeypatch
) -> None:
    ranges: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        ranges.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    for _ in range(5):
        mock_api.patch(URL_, status=503)
    policy = RetryPolicy(max_attempts=6, initial_backoff=1.0, max_backoff=5.0, deadline=None)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time, retry=policy) as c:
        await c.update_calendar_connection(CONN, UPDATE)
    assert ranges == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 5.0), (0, 5.0)]
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_retry_after_beyond_the_cap_stops_at_once(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=429, headers={"Retry-After": "120"}, repeat=True)
    async with client(fake_time, retry=RetryPolicy(max_retry_after=60)) as c:
        with pytest.raises(RateLimitError) as info:
            await c.update_calendar_connection(CONN, UPDATE)
    assert info.value.retry_after == 120.0
    assert info.value.attempts == 1
    assert sent(mock_api) == 1
    assert fake_time.sleeps == []


async def test_a_wait_that_would_end_after_the_deadline_is_not_started(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=503, headers={"Retry-After": "6"}, repeat=True)
    async with client(fake_time, retry=RetryPolicy(deadline=10)) as c:
        with pytest.raises(ServerError) as info:
            await c.update_calendar_connection(CONN, UPDATE)
    assert fake_time.sleeps == [6.0]
    assert info.value.attempts == 2
    assert sent(mock_api) == 2


async def test_per_call_policy_overrides_the_default(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=503, repeat=True)
    async with client(fake_time) as c:
        with pytest.raises(ServerError) as info:
            await c.update_calendar_connection(CONN, UPDATE, retry=RetryPolicy(max_attempts=1))
        assert sent(mock_api) == 1
        with pytest.raises(ServerError):
            await c.update_calendar_connection(CONN, UPDATE, retry=RetryPolicy(max_attempts=2))
    assert info.value.attempts == 1
    assert sent(mock_api) == 3


async def test_client_default_policy_applies(mock_api, fake_time) -> None:
    mock_api.patch(URL_, status=500, repeat=True)
    async with client(fake_time, retry=RetryPolicy(max_attempts=3)) as c:
        with pytest.raises(ServerError) as info:
            await c.update_calendar_connection(CONN, UPDATE)
    assert info.value.attempts == 3
    assert sent(mock_api) == 3


async def test_first_success_builds_no_retry_machinery(mock_api, fake_time, monkeypatch) -> None:
    import meetergo_async._retry as retry_module

    def refuse(*args: object) -> None:
        raise AssertionError("tenacity built for a call that succeeded at once")

    monkeypatch.setattr(retry_module, "_build", refuse)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time) as c:
        assert (await c.update_calendar_connection(CONN, UPDATE)).id == CONN


async def test_cancel_during_backoff_stops_at_once(mock_api, fake_time) -> None:
    sleeping = asyncio.Event()

    async def never_wakes(seconds: float) -> None:
        sleeping.set()
        await asyncio.Event().wait()

    mock_api.patch(URL_, status=503)
    mock_api.patch(URL_, payload=OK, repeat=True)
    async with MeetergoClient(
        API_KEY, user_id=USER_ID, base_url=BASE_URL, rate_limit=None, sleep=never_wakes
    ) as c:
        task = asyncio.create_task(c.update_calendar_connection(CONN, UPDATE))
        await sleeping.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sent(mock_api) == 1
        # The client still works after a cancelled call.
        assert (await c.update_calendar_connection(CONN, UPDATE)).id == CONN


async def test_each_retry_is_logged_without_the_key(mock_api, fake_time, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="meetergo_async")
    mock_api.patch(URL_, status=503, headers={"Retry-After": "1"})
    mock_api.patch(URL_, exception=aiohttp.ServerDisconnectedError())
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time, retry=RetryPolicy(max_attempts=5)) as c:
        await c.update_calendar_connection(CONN, UPDATE)
    messages = [
        r.getMessage() for r in caplog.records if r.name.partition(".")[0] == "meetergo_async"
    ]
    assert len(messages) == 2
    assert "PATCH /v4/calendar-connections/connections/conn-1" in messages[0]
    assert "attempt 1 of 5 failed (503), waiting 1.00s" in messages[0]
    assert "attempt 2 of 5 failed (ServerDisconnectedError)" in messages[1]
    assert API_KEY not in caplog.text
    assert "s3cr3t" not in caplog.text


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_on_retry_gets_an_event_before_each_wait(mock_api, fake_time, kind) -> None:
    events: list[RetryEvent] = []

    def record(event: RetryEvent) -> None:
        events.append(event)

    async def record_async(event: RetryEvent) -> None:
        await asyncio.sleep(0)
        events.append(event)

    mock_api.patch(URL_, status=429, headers={"Retry-After": "3"})
    mock_api.patch(URL_, status=503, headers={"Retry-After": "1"})
    mock_api.patch(URL_, payload=OK)
    hook = record if kind == "sync" else record_async
    async with client(fake_time, on_retry=hook) as c:
        await c.update_calendar_connection(CONN, UPDATE)
    assert [(e.method, e.attempt, e.wait) for e in events] == [("PATCH", 1, 3.0), ("PATCH", 2, 1.0)]
    assert isinstance(events[0].error, RateLimitError)
    assert isinstance(events[1].error, ServerError)
    assert events[0].path == "/v4/calendar-connections/connections/conn-1"


async def test_a_failing_on_retry_hook_is_logged_not_raised(mock_api, fake_time, caplog) -> None:
    def broken(event: RetryEvent) -> None:
        raise RuntimeError("hook bug")

    mock_api.patch(URL_, status=503)
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time, on_retry=broken) as c:
        assert (await c.update_calendar_connection(CONN, UPDATE)).id == CONN
    assert any("on_retry callback raised" in r.getMessage() for r in caplog.records)


async def test_retries_take_a_limiter_token_each(mock_api, fake_time) -> None:
    from meetergo_async import TokenBucket

    # A 500 (a 503 with Retry-After would be a gateway throttling, and lower the rate).
    mock_api.patch(URL_, status=500, headers={"Retry-After": "0"})
    mock_api.patch(URL_, payload=OK)
    async with client(fake_time, rate_limit=TokenBucket(rate=1.0, burst=1)) as c:
        await c.update_calendar_connection(CONN, UPDATE)
        assert c.stats.requests == 2
        assert c.stats.retries == 1
    # The retry had to wait one second for its token even though Retry-After said 0.
    assert sum(fake_time.sleeps) == pytest.approx(1.0)


async def test_an_attempt_whose_turn_comes_after_the_deadline_is_not_sent(mock_api) -> None:
    from meetergo_async import APITimeoutError, TokenBucket

    fake_time = FakeTime()
    mock_api.patch(URL_, status=503, headers={"Retry-After": "1"})
    mock_api.patch(URL_, payload=OK)
    # One request every 20 s: the retry's token comes after the 10 s deadline.
    slow = TokenBucket(rate=0.05, burst=1)
    async with client(fake_time, rate_limit=slow, retry=RetryPolicy(deadline=10)) as c:
        with pytest.raises(APITimeoutError, match="deadline has passed") as info:
            await c.update_calendar_connection(CONN, UPDATE)
        assert c.stats.requests == 1
    assert info.value.attempts == 1
    assert sent(mock_api) == 1
