"""The call pipeline through the transport seam: a MockTransport, injected time, no sockets.

Each test gives the client a handler that answers its attempts, then checks what was sent
(every header, the URL, the body, each attempt's timeout) and what the caller got.
"""

from __future__ import annotations

import aiohttp
import pytest

from meetergo_async import (
    APIConnectionError,
    CalendarConnectionUpdate,
    MeetergoClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServerError,
    UpdateRequest,
)
from meetergo_async.testing import MockTransport, Request, Response, error_response, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime

UPDATE = CalendarConnectionUpdate(validate_availability=True)
PATH = "/v4/calendar-connections/connections"


def client_of(transport: MockTransport, fake_time: FakeTime, **options: object) -> MeetergoClient:
    options.setdefault("rate_limit", None)
    options.setdefault("base_url", BASE_URL)
    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        transport=transport,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        **options,  # type: ignore[arg-type]
    )


def answers(*responses: Response | Exception) -> MockTransport:
    """A transport that answers the attempts in turn (an exception is raised instead)."""
    queue = list(responses)

    def handler(request: Request) -> Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return MockTransport(handler)


def connection(**fields: object) -> Response:
    return json_response({"id": "conn-1", **fields})


async def test_an_update_sends_every_header_and_only_the_fields_set(fake_time: FakeTime) -> None:
    transport = answers(connection(validateAvailability=True))
    async with client_of(transport, fake_time) as client:
        conn = await client.update_calendar_connection("conn/1", UPDATE)

    assert conn.validate_availability is True
    [request] = transport.requests
    assert (request.method, str(request.url)) == ("PATCH", f"{BASE_URL}{PATH}/conn%2F1")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-meetergo-api-user-id"] == USER_ID
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"validateAvailability": True}
    assert request.timeout == 30.0
    assert transport.closed


async def test_a_list_names_the_owner_and_the_acting_user_of_the_call(fake_time: FakeTime) -> None:
    transport = answers(json_response({"connections": [{"id": "a"}], "total": 1}))
    async with client_of(transport, fake_time) as client:
        conns = await client.list_calendar_connections(owner_user_id="owner 1", as_user="u-2")

    assert [c.id for c in conns] == ["a"]
    [request] = transport.requests
    assert (request.method, str(request.url)) == ("GET", f"{BASE_URL}{PATH}?userId=owner%201")
    assert request.headers["x-meetergo-api-user-id"] == "u-2"
    assert request.body is None
    assert "content-type" not in request.headers


async def test_a_transient_error_is_retried_with_its_backoff(fake_time: FakeTime) -> None:
    transport = answers(error_response(503), APIConnectionError("reset"), connection())
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.1, max_backoff=0.1)
    async with client_of(transport, fake_time, retry=policy) as client:
        [result] = await client.update_calendar_connections([("conn-1", UPDATE)])

    assert result.ok
    assert result.attempts == 3
    assert len(transport.requests) == 3
    assert len(fake_time.sleeps) == 2
    assert all(0 <= s <= 0.1 for s in fake_time.sleeps)


async def test_a_refusal_is_raised_at_once_with_its_message(fake_time: FakeTime) -> None:
    transport = answers(error_response(404, "Connection not found"))
    async with client_of(transport, fake_time) as client:
        with pytest.raises(NotFoundError, match="Connection not found") as error:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert error.value.attempts == 1
    assert error.value.path == f"{PATH}/conn-1"
    assert len(transport.requests) == 1


async def test_the_last_error_is_raised_when_the_attempts_are_spent(fake_time: FakeTime) -> None:
    transport = MockTransport(lambda request: error_response(500))
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.0)
    async with client_of(transport, fake_time, retry=policy) as client:
        with pytest.raises(ServerError) as error:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert error.value.attempts == 2 == len(transport.requests)


async def test_retry_after_is_waited_before_the_next_attempt(fake_time: FakeTime) -> None:
    transport = answers(error_response(429, headers={"Retry-After": "3"}), connection())
    async with client_of(transport, fake_time) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    assert sum(fake_time.sleeps) == pytest.approx(3.0)
    assert client.stats.rate_limited == 1


async def test_a_retry_after_over_the_policy_fails_at_once(fake_time: FakeTime) -> None:
    transport = answers(error_response(429, headers={"Retry-After": "600"}))
    async with client_of(transport, fake_time) as client:
        with pytest.raises(RateLimitError) as error:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert error.value.retry_after == 600.0
    assert len(transport.requests) == 1


async def test_an_attempt_gets_what_is_left_of_the_deadline(fake_time: FakeTime) -> None:
    def slow_then_ok(request: Request) -> Response:
        fake_time.now += 7.0  # each attempt takes 7 s
        return error_response(503) if len(transport.requests) == 1 else connection()

    transport = MockTransport(slow_then_ok)
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.0, deadline=10.0)
    async with client_of(transport, fake_time, retry=policy) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    assert [r.timeout for r in transport.requests] == [10.0, pytest.approx(3.0)]


async def test_an_async_handler_and_bulk_items_go_through_the_same_pipeline(
    fake_time: FakeTime,
) -> None:
    async def handler(request: Request) -> Response:
        return connection(primaryCalendar=request.json()["primaryCalendar"])

    transport = MockTransport(handler)
    items = [
        UpdateRequest(f"c{i}", CalendarConnectionUpdate(primary_calendar=f"p{i}"), as_user="u")
        for i in range(3)
    ]
    async with client_of(transport, fake_time) as client:
        results = await client.update_calendar_connections(items)

    assert [r.connection.primary_calendar for r in results if r.connection] == ["p0", "p1", "p2"]
    assert {r.headers["x-meetergo-api-user-id"] for r in transport.requests} == {"u"}


async def test_a_handler_that_returns_no_response_is_a_bug_not_a_server_error(
    fake_time: FakeTime,
) -> None:
    transport = MockTransport(lambda request: {"id": "x"})  # type: ignore[arg-type,return-value]
    async with client_of(transport, fake_time) as client:
        with pytest.raises(TypeError, match="must return a Response, got dict"):
            await client.update_calendar_connection("conn-1", UPDATE)


async def test_a_transport_goes_with_neither_a_session_nor_a_proxy() -> None:
    transport = MockTransport(lambda request: connection())
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match=r"transport .* cannot go with session") as error:
            MeetergoClient(API_KEY, user_id=USER_ID, transport=transport, session=session)
    assert getattr(error.value, "argument", None) == "transport"
    with pytest.raises(ValueError, match="cannot go with proxy"):
        MeetergoClient(API_KEY, user_id=USER_ID, transport=transport, proxy="http://p:3128")
    with pytest.raises(TypeError, match="transport must have async send"):
        MeetergoClient(API_KEY, user_id=USER_ID, transport=object())  # type: ignore[arg-type]


@pytest.mark.parametrize("base_url", [BASE_URL, f"{BASE_URL}/meetergo/"])
@pytest.mark.parametrize("owner", [None, "owner 1"])
async def test_an_error_names_the_path_that_was_sent(
    fake_time: FakeTime, base_url: str, owner: str | None
) -> None:
    transport = answers(error_response(404, "Connection not found"), error_response(403))
    async with client_of(transport, fake_time, base_url=base_url) as client:
        with pytest.raises(NotFoundError) as update_error:
            await client.update_calendar_connection("conn/1", UPDATE, owner_user_id=owner)
        with pytest.raises(PermissionDeniedError) as list_error:
            await client.list_calendar_connections(owner_user_id=owner)

    sent = [request.url.raw_path for request in transport.requests]
    assert sent[0].endswith(f"{PATH}/conn%2F1")
    assert sent[0].startswith("/meetergo/") == ("/meetergo" in base_url)
    assert [update_error.value.path, list_error.value.path] == sent
    assert f"(PATCH {sent[0]})" in str(update_error.value)
    assert f"(GET {sent[1]})" in str(list_error.value)


async def test_a_retry_and_a_lost_answer_name_the_path_that_was_sent(fake_time: FakeTime) -> None:
    transport = answers(error_response(503), APIConnectionError("reset"))
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.0)
    async with client_of(
        transport, fake_time, base_url=f"{BASE_URL}/meetergo", retry=policy, on_retry=events.append
    ) as client:
        with pytest.raises(APIConnectionError) as error:
            await client.update_calendar_connection("conn-1", UPDATE)

    sent = {request.url.raw_path for request in transport.requests}
    assert sent == {f"/meetergo{PATH}/conn-1"}
    assert [event.path for event in events] == [*sent]
    assert error.value.path in sent
