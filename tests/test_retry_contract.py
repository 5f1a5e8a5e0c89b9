"""A call's RetryPolicy is a promise, whatever the client's state: the contract, case by case.

1. A call sends at most ``max_attempts`` requests; then it raises the last typed error with
   ``attempts`` set. Every request counts, probes included.
2. Between two of its own attempts it waits at most what its policy allows; it may wait
   longer only while parked, not sending, behind another call's probe or a client-wide
   pause (against its deadline, never its attempts).
3. Only evidence about the service declares an outage: one call failing alone is its own.
4. A call alone is its own prober and keeps its own backoff.
5. The same for the pause after a 429.
6. ``max_attempts=1`` is one request and no wait, whatever the state.

Every test runs on a MockTransport and injected time: no socket, no real wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from meetergo_async import (
    APIConnectionError,
    CalendarConnectionUpdate,
    MeetergoClient,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SlidingWindow,
    UpdateRequest,
)
from meetergo_async.testing import MockTransport, Request, Response, error_response, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime, VirtualTime

UPDATE = CalendarConnectionUpdate(validate_availability=True)
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.05, deadline=30)
ENGINE_503 = {"statusCode": 503, "message": "Service Unavailable"}


def client_of(
    handler: Callable[[Request], Response], time: FakeTime | VirtualTime, **options: object
) -> tuple[MeetergoClient, MockTransport]:
    transport = MockTransport(handler)
    options.setdefault("rate_limit", None)
    client = MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        transport=transport,
        clock=time.clock,
        sleep=time.sleep,
        **options,  # type: ignore[arg-type]
    )
    return client, transport


def connection(request: Request) -> Response:
    return json_response({"id": request.url.name})


def always_503(request: Request) -> Response:
    return error_response(503)


# -- 1, 3, 4: a lone call against a failing service -----------------------------------------


async def test_a_lone_call_against_503s_ends_after_its_attempts(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    def gateway_then_app(request: Request) -> Response:
        # The first calls meet the host refusing connections: an outage is declared.
        if len(transport.requests) <= 6:
            raise APIConnectionError("connection refused", connected=False)
        return error_response(503)

    client, transport = client_of(gateway_then_app, fake_time, retry=FAST)
    async with client:
        for connection_id in ("a", "b"):
            with pytest.raises(APIConnectionError):
                await client.update_calendar_connection(connection_id, UPDATE)
        assert "the service does not answer" in caplog.text
        for _ in range(2):  # right after those failures, and once more
            sent_before = len(transport.requests)
            started = fake_time.now
            with pytest.raises(ServerError) as caught:
                await client.update_calendar_connection("conn-1", UPDATE)
            assert caught.value.attempts == 3 == len(transport.requests) - sent_before
            assert fake_time.now - started < 1.5


async def test_backoff_bounds_are_kept_over_six_503s(fake_time: FakeTime) -> None:
    policy = RetryPolicy(max_attempts=7, initial_backoff=0.01, max_backoff=0.05)
    client, transport = client_of(always_503, fake_time, retry=policy)
    async with client:
        with pytest.raises(ServerError):
            await client.update_calendar_connection("conn-1", UPDATE)
    assert len(transport.requests) == 7
    assert len(fake_time.sleeps) == 6
    assert all(0 <= wait <= 0.05 for wait in fake_time.sleeps)


@pytest.mark.parametrize(
    ("attempts", "initial", "cap"),
    [(9, 0.001, 1.0), (1030, 0.0, 0.0001)],
    ids=["9 attempts: the n-th wait within 0.001 * 2**n", "1,030 attempts, a 0.0001 s cap"],
)
async def test_the_n_th_wait_is_within_its_bound(
    fake_time: FakeTime, attempts: int, initial: float, cap: float
) -> None:
    policy = RetryPolicy(
        max_attempts=attempts, initial_backoff=initial or 1.0, max_backoff=cap, deadline=None
    )
    client, transport = client_of(always_503, fake_time, retry=policy)
    async with client:
        with pytest.raises(ServerError) as caught:
            await client.update_calendar_connection("conn-1", UPDATE)
    assert caught.value.attempts == attempts == len(transport.requests)
    assert len(fake_time.sleeps) == attempts - 1
    for n, wait in enumerate(fake_time.sleeps):
        assert 0 <= wait <= min(cap, policy.initial_backoff * 2.0 ** min(n, 1000))


# -- 3: one call failing alone in a bulk run is that call's failure --------------------------


async def test_one_poisoned_id_in_a_bulk_fails_alone_and_fast(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = VirtualTime()

    def handler(request: Request) -> Response:
        if request.url.name == "conn-0042":
            return Response(503, {"Content-Type": "application/json"}, b'{"message":"busy"}')
        return connection(request)

    policy = RetryPolicy(max_attempts=4, initial_backoff=0.1)
    client, transport = client_of(handler, time, retry=policy)
    items = [UpdateRequest(f"conn-{i:04d}", UPDATE) for i in range(100)]
    async with client:
        results = await client.update_calendar_connections(items)
    assert [r.index for r in results if not r.ok] == [42]
    assert results[42].attempts == 4
    assert sum(r.url.name == "conn-0042" for r in transport.requests) == 4
    assert time.now < 3.0  # the 99 and the poisoned one, all within three seconds
    assert "does not answer" not in caplog.text


# -- 5: the pause after a 429 ------------------------------------------------------------


async def test_a_persistent_429_ends_the_call_after_its_attempts(fake_time: FakeTime) -> None:
    refuse = error_response(429, headers={"Retry-After": "0"})
    client, transport = client_of(lambda request: refuse, fake_time, retry=FAST)
    async with client:
        with pytest.raises(RateLimitError) as caught:
            await client.update_calendar_connection("conn-1", UPDATE)
    assert caught.value.attempts == 3 == len(transport.requests)


@pytest.mark.parametrize("pace", [None, SlidingWindow(100, 60.0)])
async def test_calls_parked_behind_a_pause_spend_no_attempts(pace: SlidingWindow | None) -> None:
    time = VirtualTime()
    answered: list[str] = []

    def handler(request: Request) -> Response:
        if not answered:
            answered.append("429")
            return error_response(429, headers={"Retry-After": "5"})
        answered.append("200")
        return connection(request)

    client, _ = client_of(handler, time, retry=RetryPolicy(max_attempts=2), rate_limit=pace)
    async with client:
        first = asyncio.create_task(client.update_calendar_connection("first", UPDATE))
        await asyncio.sleep(0.01)  # the first met the 429: the client pauses for 5 s
        [parked] = await client.update_calendar_connections([("parked", UPDATE)])
        await first
    assert parked.ok
    assert parked.attempts == 1  # it waited behind the pause without sending
    assert time.now >= 5.0
    assert answered == ["429", "200", "200"]


# -- 6: max_attempts=1 -----------------------------------------------------------------


async def test_one_attempt_is_one_request_and_no_wait_during_an_outage() -> None:
    time = VirtualTime()
    down = True
    held = asyncio.Event()

    async def handler(request: Request) -> Response:
        if request.method == "GET":
            await held.wait()  # another call under way: the one below is not alone
            return json_response({"connections": []})
        if down:
            raise APIConnectionError("connection refused", connected=False)
        return connection(request)

    client, transport = client_of(handler, time, retry=RetryPolicy(max_attempts=8))
    async with client:
        other = asyncio.create_task(client.list_calendar_connections())
        await asyncio.sleep(0)
        parked = asyncio.create_task(client.update_calendar_connection("parked", UPDATE))
        for _ in range(1000):  # until the parked call's refusals declare the outage
            if client._caller._health.down:
                break
            await asyncio.sleep(0.001)
        assert client._caller._health.down
        started = time.now
        sent = len(transport.requests)
        once = RetryPolicy(max_attempts=1)
        with pytest.raises(APIConnectionError) as caught:
            await client.update_calendar_connection("once", UPDATE, retry=once)
        assert caught.value.attempts == 1
        assert sum(r.url.name == "once" for r in transport.requests[sent:]) == 1
        assert time.now == started  # no wait at all
        down = False
        held.set()
        await asyncio.gather(parked, other)


async def test_one_attempt_is_one_request_and_no_wait_during_a_pause() -> None:
    time = VirtualTime()

    def handler(request: Request) -> Response:
        return error_response(429, headers={"Retry-After": "30"})

    for pace in (None, SlidingWindow(100, 60.0)):
        client, transport = client_of(handler, time, rate_limit=pace)
        once = RetryPolicy(max_attempts=1)
        async with client:
            with pytest.raises(RateLimitError):
                await client.update_calendar_connection("a", UPDATE, retry=once)
            started = time.now  # the client now pauses for 30 s
            with pytest.raises(RateLimitError) as caught:
                await client.update_calendar_connection("b", UPDATE, retry=once)
        assert caught.value.attempts == 1
        assert len(transport.requests) == 2
        assert time.now == started
