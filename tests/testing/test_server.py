"""Tests of FakeMeetergo itself, spoken to with a plain aiohttp client over 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from meetergo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PERSONAL_TOKEN,
    DEFAULT_USER_ID,
    DROPPED,
    FakeMeetergo,
    FixedWindow,
    TokenBucket,
)

LIST = "/v4/calendar-connections/connections"
USER_HEADER = "x-meetergo-api-user-id"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def api_headers(fake: FakeMeetergo) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}", USER_HEADER: fake.user_id}


def item_url(fake: FakeMeetergo, connection_id: str) -> URL:
    # Percent-encode the id as one segment, dots included, and stop yarl from re-encoding.
    segment = quote(connection_id, safe="").replace(".", "%2E")
    return URL(f"{fake.url}{LIST}/{segment}", encoded=True)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=3, rate_limit=None) as server:
        yield server


async def patch(
    session: aiohttp.ClientSession,
    fake: FakeMeetergo,
    connection_id: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with session.patch(
        item_url(fake, connection_id),
        json=body,
        headers=api_headers(fake) if headers is None else headers,
    ) as response:
        return response.status, await response.json()


# -- the two routes --------------------------------------------------------------------------


async def test_patch_applies_only_the_sent_fields(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    before = fake.connections["conn-0001"]

    status, body = await patch(session, fake, "conn-0001", {"validateAvailability": False})

    assert status == 200
    assert body == fake.connections["conn-0001"]
    assert body["validateAvailability"] is False
    changed = {key for key in body if body[key] != before[key]}
    assert changed == {"validateAvailability", "updatedAt"}
    assert body["updatedAt"].endswith("Z")
    assert body["updatedAt"] > before["updatedAt"]
    assert fake.update_counts == {"conn-0001": 1}


async def test_patch_answers_the_whole_connection_object(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    calendars = ["primary", "work"]
    status, body = await patch(
        session, fake, "conn-0000", {"selectedCalendars": calendars, "primaryCalendar": "work"}
    )

    assert status == 200
    assert set(body) == {
        "id", "provider", "email", "isPrimary", "isConnected", "primaryCalendar",
        "selectedCalendars", "validateAvailability", "cancelIfDeclinedOrDeleted",
        "disableAttendeeNotification", "syncBuffersToCalendar", "createdAt", "updatedAt",
    }  # fmt: skip
    assert (body["selectedCalendars"], body["primaryCalendar"]) == (calendars, "work")


async def test_updated_at_moves_on_even_within_one_millisecond(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeMeetergo(generate=1, wall_clock=lambda: 1_800_000_000.0) as fake:
        _, first = await patch(session, fake, "conn-0000", {})
        _, second = await patch(session, fake, "conn-0000", {})

    assert first["updatedAt"] == "2027-01-15T08:00:00.000Z"
    assert second["updatedAt"] == "2027-01-15T08:00:00.001Z"


async def test_get_lists_every_connection(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    async with session.get(fake.url + LIST, headers=api_headers(fake)) as response:
        body = await response.json()

    assert response.status == 200
    assert body["total"] == 3
    assert [c["id"] for c in body["connections"]] == ["conn-0000", "conn-0001", "conn-0002"]
    assert body["connections"] == list(fake.connections.values())


async def test_generated_connections_are_deterministic() -> None:
    first = FakeMeetergo(generate=5).connections
    second = FakeMeetergo(generate=5).connections
    assert first == second
    assert list(first) == [f"conn-{i:04d}" for i in range(5)]


async def test_unknown_connection_is_404(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    status, body = await patch(session, fake, "nope", {"validateAvailability": True})

    assert status == 404
    assert body == {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/x"),
        ("GET", LIST + "/conn-0001"),
        ("PATCH", LIST + "/conn-0001/extra"),
        ("PATCH", LIST + "/"),
        ("DELETE", LIST + "/conn-0001"),
    ],
)
async def test_unknown_route_is_nestjs_404(
    fake: FakeMeetergo, session: aiohttp.ClientSession, method: str, path: str
) -> None:
    url = URL(fake.url + path, encoded=True)
    async with session.request(method, url, headers=api_headers(fake)) as response:
        body = await response.json()

    assert response.status == 404
    assert body == {"statusCode": 404, "message": f"Cannot {method} {path}", "error": "Not Found"}


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"foo": 1}, ["property foo should not exist"]),
        ({"validateAvailability": "yes"}, ["validateAvailability must be a boolean value"]),
        ({"syncBuffersToCalendar": 1}, ["syncBuffersToCalendar must be a boolean value"]),
        ({"primaryCalendar": 5}, ["primaryCalendar must be a string"]),
        ({"selectedCalendars": "primary"}, ["selectedCalendars must be an array"]),
        ({"selectedCalendars": ["a", 2]}, ["each value in selectedCalendars must be a string"]),
        (
            {"selectedCalendars": 7},
            [
                "selectedCalendars must be an array",
                "each value in selectedCalendars must be a string",
            ],
        ),
        (
            {"bar": True, "cancelIfDeclinedOrDeleted": None, "disableAttendeeNotification": "n"},
            [
                "property bar should not exist",
                "disableAttendeeNotification must be a boolean value",
            ],
        ),
        ([{"validateAvailability": True}], ["request body must be a JSON object"]),
        ("text", ["request body must be a JSON object"]),
    ],
)
async def test_invalid_bodies_are_400_with_every_message(
    fake: FakeMeetergo, session: aiohttp.ClientSession, body: Any, messages: list[str]
) -> None:
    status, answer = await patch(session, fake, "conn-0001", body)

    assert status == 400
    assert answer == {"statusCode": 400, "message": messages, "error": "Bad Request"}
    assert fake.update_counts["conn-0001"] == 0


async def test_invalid_json_is_400(fake: FakeMeetergo, session: aiohttp.ClientSession) -> None:
    headers = {**api_headers(fake), "Content-Type": "application/json"}
    async with session.patch(item_url(fake, "conn-0001"), data=b"{bad", headers=headers) as resp:
        body = await resp.json()

    assert resp.status == 400
    assert body["error"] == "Bad Request"
    assert "JSON" in body["message"]
    assert fake.requests[-1].json is None
    assert fake.requests[-1].body == b"{bad"


async def test_oversized_body_is_413(fake: FakeMeetergo, session: aiohttp.ClientSession) -> None:
    body = io.BytesIO(b'{"primaryCalendar":"' + b"x" * (1024 * 1024) + b'"}')
    headers = {**api_headers(fake), "Content-Type": "application/json"}
    async with session.patch(item_url(fake, "conn-0001"), data=body, headers=headers) as resp:
        status, answer = resp.status, await resp.json()

    assert status == 413
    assert answer == {
        "statusCode": 413,
        "message": "request entity too large",
        "error": "Request Entity Too Large",
    }


async def test_null_fields_pass_and_change_nothing(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    status, body = await patch(session, fake, "conn-0001", {"primaryCalendar": None})
    assert status == 200
    assert body["primaryCalendar"] == "primary"


# -- authentication --------------------------------------------------------------------------

UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}
FORBIDDEN = {"statusCode": 403, "message": "Forbidden resource", "error": "Forbidden"}


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({}, 401, UNAUTHORIZED),
        ({"Authorization": DEFAULT_API_KEY, USER_HEADER: DEFAULT_USER_ID}, 401, UNAUTHORIZED),
        ({"Authorization": f"Basic {DEFAULT_API_KEY}"}, 401, UNAUTHORIZED),
        ({"Authorization": "Bearer ak_live:unknown", USER_HEADER: DEFAULT_USER_ID}, 401, None),
        (
            {"Authorization": f"Bearer {DEFAULT_API_KEY}"},
            400,
            {
                "statusCode": 400,
                "message": "Missing required header 'x-meetergo-api-user-id' "
                "for API key authentication",
                "error": "Bad Request",
            },
        ),
        ({"Authorization": f"Bearer {DEFAULT_API_KEY}", USER_HEADER: "stranger"}, 403, FORBIDDEN),
        (
            {"Authorization": f"Bearer {DEFAULT_PERSONAL_TOKEN}", USER_HEADER: DEFAULT_USER_ID},
            403,
            FORBIDDEN,
        ),
        ({"Authorization": f"Bearer {DEFAULT_PERSONAL_TOKEN}"}, 200, None),
        ({"Authorization": f"Bearer {DEFAULT_API_KEY}", USER_HEADER: DEFAULT_USER_ID}, 200, None),
    ],
)
async def test_credential_rules(
    fake: FakeMeetergo,
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    status: int,
    body: dict[str, Any] | None,
) -> None:
    answer_status, answer = await patch(session, fake, "conn-0001", {}, headers=headers)

    assert answer_status == status
    if body is not None:
        assert answer == body
    assert fake.update_counts["conn-0001"] == (1 if status == 200 else 0)


async def test_expired_api_key_is_401(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(generate=1, expired_api_keys=["ak_live:old"]) as fake:
        headers = {"Authorization": "Bearer ak_live:old", USER_HEADER: fake.user_id}
        status, body = await patch(session, fake, "conn-0000", {}, headers=headers)

    assert (status, body["message"]) == (401, "API key has expired")


async def test_user_id_query_must_name_a_known_user(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    url = fake.url + LIST
    async with session.get(url, params={"userId": "stranger"}, headers=api_headers(fake)) as r:
        assert (r.status, await r.json()) == (403, FORBIDDEN)
    async with session.get(url, params={"userId": fake.user_id}, headers=api_headers(fake)) as r:
        assert r.status == 200
    assert fake.requests[-1].query == {"userId": DEFAULT_USER_ID}


# -- connection ids as path segments ---------------------------------------------------------


@pytest.mark.parametrize(
    "connection_id", ["a/b", "../x", "..", "a?b#c", "ä ö", "%2F", "50%", "a+b", "conn 1/2?x=y"]
)
async def test_percent_encoded_ids_reach_their_connection(
    session: aiohttp.ClientSession, connection_id: str
) -> None:
    async with FakeMeetergo([{"id": connection_id}, {"id": "x"}, {"id": "a"}]) as fake:
        status, body = await patch(session, fake, connection_id, {"primaryCalendar": "cal"})

        assert (status, body["id"]) == (200, connection_id)
        assert fake.update_counts == {connection_id: 1}
        assert fake.requests[-1].connection_id == connection_id
        assert fake.requests[-1].path == f"{LIST}/{connection_id}"


# -- rate limits -----------------------------------------------------------------------------


async def get_list(
    session: aiohttp.ClientSession, fake: FakeMeetergo, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    async with session.get(fake.url + LIST, headers=headers or api_headers(fake)) as response:
        await response.read()
        return response


async def test_token_bucket_bursts_refuses_and_refills(session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0.5, burst=2)
    async with FakeMeetergo(rate_limit=bucket, clock=clock, rate_limit_headers=True) as fake:
        first, second, refused = [await get_list(session, fake) for _ in range(3)]
        clock.now += 2.0  # one token back at 0.5 a second
        refilled = await get_list(session, fake)
        personal = await get_list(session, fake, {"Authorization": f"Bearer {fake.personal_token}"})

    assert [r.status for r in (first, second, refused, refilled)] == [200, 200, 429, 200]
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
        "2",
        "1",
    )
    assert first.headers["X-RateLimit-Reset"] == "2"  # one token short of full
    assert second.headers["X-RateLimit-Reset"] == "4"
    assert refused.headers["Retry-After"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in first.headers
    assert personal.status == 200  # each credential has its own bucket


async def test_rate_limited_request_is_not_applied_and_counts_before_validation(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeMeetergo(generate=1, rate_limit=TokenBucket(1, burst=1), clock=FakeClock()) as f:
        assert (await patch(session, f, "conn-0000", {"bogus": 1}))[0] == 400
        status, body = await patch(session, f, "conn-0000", {"validateAvailability": False})

        assert (status, body) == (
            429,
            {"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"},
        )
        assert f.update_counts["conn-0000"] == 0
        assert f.connections["conn-0000"]["validateAvailability"] is True


@pytest.mark.parametrize(("rate_headers", "retry_after"), [(False, True), (True, False)])
async def test_headers_can_be_switched_off(
    session: aiohttp.ClientSession, rate_headers: bool, retry_after: bool
) -> None:
    async with FakeMeetergo(
        rate_limit=TokenBucket(1, burst=1),
        clock=FakeClock(),
        rate_limit_headers=rate_headers,
        retry_after_header=retry_after,
    ) as fake:
        ok = await get_list(session, fake)
        refused = await get_list(session, fake)

    assert refused.status == 429
    assert ("X-RateLimit-Remaining" in ok.headers) is rate_headers
    assert ("X-RateLimit-Limit" in refused.headers) is rate_headers
    assert ("Retry-After" in refused.headers) is retry_after


async def test_fixed_window_counts_like_nestjs(session: aiohttp.ClientSession) -> None:
    clock = FakeClock()
    async with FakeMeetergo(rate_limit=FixedWindow(2, 10), clock=clock) as fake:
        opened = await get_list(session, fake)
        clock.now += 3.5
        last = await get_list(session, fake)
        clock.now += 0.5
        refused = await get_list(session, fake)
        clock.now += 6.0  # the window opened 10 s ago: a new one starts
        reopened = await get_list(session, fake)

    assert [r.status for r in (opened, last, refused, reopened)] == [200, 200, 429, 200]
    remaining = [r.headers["X-RateLimit-Remaining"] for r in (opened, last, refused, reopened)]
    assert remaining == ["1", "0", "0", "1"]
    resets = [r.headers["X-RateLimit-Reset"] for r in (opened, last, refused, reopened)]
    assert resets == ["10", "7", "6", "10"]  # whole seconds to the window's end, rounded up
    assert refused.headers["Retry-After"] == "6"


async def test_header_suffix_names_the_throttler(session: aiohttp.ClientSession) -> None:
    options: dict[str, Any] = {"rate_limit": FixedWindow(1, 60), "clock": FakeClock()}
    async with FakeMeetergo(header_suffix="-short", **options) as fake:
        ok = await get_list(session, fake)
        refused = await get_list(session, fake)

    assert ok.headers["X-RateLimit-Remaining-short"] == "0"
    assert ok.headers["X-RateLimit-Limit-short"] == "1"
    assert refused.headers["Retry-After-short"] == "60"
    assert "Retry-After" not in refused.headers
    assert "X-RateLimit-Remaining" not in ok.headers


async def test_default_limit_is_meetergos(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(clock=FakeClock()) as fake:
        statuses = [(await get_list(session, fake)).status for _ in range(201)]
    assert statuses == [200] * 200 + [429]


async def test_rate_limit_headers_default_to_windows_only(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo() as fake:
        bucket = await get_list(session, fake)
    async with FakeMeetergo(rate_limit=FixedWindow(5, 60.0)) as fake:
        window = await get_list(session, fake)
    # NestJS's X-RateLimit-* headers describe fixed windows; a token bucket has none.
    assert "X-RateLimit-Remaining" not in bucket.headers
    assert window.headers["X-RateLimit-Limit"] == "5"
    assert window.headers["X-RateLimit-Remaining"] == "4"


# -- faults ----------------------------------------------------------------------------------


async def statuses_with_faults(session: aiohttp.ClientSession, **options: Any) -> list[int]:
    async with FakeMeetergo(rate_limit=None, fail_rate=0.5, **options) as fake:
        return [(await get_list(session, fake)).status for _ in range(24)]


async def test_fail_rate_is_reproducible_from_the_seed(session: aiohttp.ClientSession) -> None:
    first = await statuses_with_faults(session, seed=7)
    again = await statuses_with_faults(session, seed=7)
    other = await statuses_with_faults(session, seed=8)

    assert first == again
    assert first != other
    assert set(first) - {200} <= {500, 502, 503, 504}
    assert 200 in first
    assert len(set(first)) > 2


async def test_fail_rate_answers_meetergo_error_bodies(session: aiohttp.ClientSession) -> None:
    async with (
        FakeMeetergo(fail_rate=1.0, fail_statuses=[503]) as fake,
        session.get(fake.url + LIST) as response,
    ):
        body = await response.json()

    assert response.status == 503
    assert body == {
        "statusCode": 503,
        "message": "Service Unavailable",
        "error": "Service Unavailable",
    }


async def test_drop_before_leaves_the_connection_alone(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    async with FakeMeetergo(generate=1, drop_before_rate=1.0) as fake:
        with pytest.raises(aiohttp.ClientConnectionError):
            await patch(session, fake, "conn-0000", {"validateAvailability": False})

        assert fake.update_counts["conn-0000"] == 0
        assert fake.connections["conn-0000"]["validateAvailability"] is True
        assert fake.status_counts == {DROPPED: 1}
        assert fake.requests[-1].status == DROPPED
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_drop_after_applies_the_update(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(generate=1, drop_after_rate=1.0) as fake:
        with pytest.raises(aiohttp.ClientConnectionError):
            await patch(session, fake, "conn-0000", {"validateAvailability": False})

        assert fake.update_counts["conn-0000"] == 1
        assert fake.connections["conn-0000"]["validateAvailability"] is False
        assert fake.status_counts[DROPPED] == 1


async def test_latency_delays_each_answer(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(latency=0.01) as fake:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await get_list(session, fake)
        assert loop.time() - started >= 0.01


# -- scripted answers ------------------------------------------------------------------------


async def test_enqueued_answers_come_first_in_order(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    path = f"{LIST}/conn-0001"
    fake.enqueue("PATCH", path, 503)
    fake.enqueue("PATCH", path, 429, headers={"Retry-After": "3"}, body="slow down")
    fake.enqueue("*", "*", 200, json={"scripted": True})
    assert fake.pending_scripts == 3

    url = item_url(fake, "conn-0001")
    answers = []
    for _ in range(4):  # no credentials: scripts are answered before authentication
        async with session.patch(url, json={}) as response:
            answers.append((response.status, await response.read(), response.headers))

    assert answers[0][:2] == (
        503,
        b'{"statusCode":503,"message":"Service Unavailable","error":"Service Unavailable"}',
    )
    assert answers[1][:2] == (429, b"slow down")
    assert answers[1][2]["Retry-After"] == "3"
    assert answers[2][:2] == (200, b'{"scripted":true}')
    assert answers[3][0] == 401
    assert fake.pending_scripts == 0
    assert fake.update_counts["conn-0001"] == 0


async def test_enqueued_script_only_answers_its_route(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    fake.enqueue("PATCH", f"{LIST}/a/b", drop=True)

    assert (await get_list(session, fake)).status == 200
    assert (await patch(session, fake, "conn-0001", {}))[0] == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await patch(session, fake, "a/b", {})
    assert fake.status_counts == {200: 2, DROPPED: 1}


def test_enqueue_refuses_json_and_body_together(fake: FakeMeetergo) -> None:
    with pytest.raises(ValueError, match="not both"):
        fake.enqueue("GET", LIST, json={}, body="x")


# -- records ---------------------------------------------------------------------------------


async def test_records_redact_the_credential(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    await patch(session, fake, "conn-0002", {"syncBuffersToCalendar": True})

    record = fake.requests[-1]
    assert record.method == "PATCH"
    assert record.raw_path == f"{LIST}/conn-0002"
    assert record.json == {"syncBuffersToCalendar": True}
    assert record.headers["Authorization"] == "Bearer ***"
    assert record.headers[USER_HEADER] == DEFAULT_USER_ID
    assert record.status == 200
    assert DEFAULT_API_KEY not in repr(fake.requests)
    assert DEFAULT_API_KEY.split(":")[-1] not in repr(fake.requests)


async def test_reset_records_keeps_the_store(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    await patch(session, fake, "conn-0000", {"primaryCalendar": "kept"})
    fake.reset_records()

    assert (fake.requests, fake.status_counts, fake.update_counts) == ([], {}, {})
    assert fake.connections["conn-0000"]["primaryCalendar"] == "kept"


async def test_records_can_be_switched_off(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(record_requests=False) as fake:
        await get_list(session, fake)
        assert fake.requests == []
        assert fake.status_counts == {200: 1}


# -- the store and the options ---------------------------------------------------------------


def test_add_connection_fills_defaults_and_returns_a_copy() -> None:
    fake = FakeMeetergo([{"id": "seeded", "provider": "icloud"}])
    added = fake.add_connection(id="conn-1", email="a@example.com", selectedCalendars=["x"])
    added["selectedCalendars"].append("changed")

    stored = fake.connections
    assert stored["seeded"]["provider"] == "icloud"
    assert stored["conn-1"]["email"] == "a@example.com"
    assert stored["conn-1"]["selectedCalendars"] == ["x"]
    assert fake.add_connection()["id"] == "conn-0002"
    with pytest.raises(ValueError, match="already exists"):
        fake.add_connection(id="conn-1")
    with pytest.raises(TypeError):
        fake.add_connection(id="odd", createdAt=object())


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"fail_rate": 1.5}, ValueError),
        ({"fail_rate": 0.6, "drop_after_rate": 0.6}, ValueError),
        ({"fail_statuses": []}, ValueError),
        ({"api_keys": DEFAULT_API_KEY}, TypeError),
        ({"user_ids": []}, ValueError),
        ({"latency": -1}, ValueError),
        ({"generate": -1}, ValueError),
        ({"rate_limit": "100/min"}, TypeError),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        FakeMeetergo(**options)


# -- lifecycle -------------------------------------------------------------------------------


async def test_lifecycle_without_async_with() -> None:
    fake = FakeMeetergo()
    with pytest.raises(RuntimeError):
        _ = fake.url
    await fake.start()
    assert fake.url == f"http://127.0.0.1:{fake.port}"
    assert fake.running
    with pytest.raises(RuntimeError):
        await fake.start()
    await fake.close()
    await fake.close()
    assert not fake.running


async def test_close_with_a_request_in_flight_leaves_nothing_behind() -> None:
    fake = FakeMeetergo(latency=1.0, shutdown_timeout=0)
    await fake.start()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(get_list(session, fake))
        async with asyncio.timeout(5):  # the request reaches the server, then waits 1 s
            while not fake.requests:  # noqa: ASYNC110 - the fake offers no event for it
                await asyncio.sleep(0.001)
        assert len(fake.requests) == 1

        await fake.close()

        assert asyncio.all_tasks() == {asyncio.current_task(), request}
        with pytest.raises(aiohttp.ClientConnectionError):
            await request


async def test_serve_forever_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    fake = FakeMeetergo()
    await fake.start()  # as a command line does, to print fake.url before serving
    serving = asyncio.create_task(fake.serve_forever())
    assert (await get_list(session, fake)).status == 200

    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert not fake.running


# -- the pytest plugin -----------------------------------------------------------------------


async def test_fixture_yields_a_started_fake(
    fake_meetergo: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    assert fake_meetergo.running
    assert (await get_list(session, fake_meetergo)).status == 200


class TestFixtureOptions:
    @pytest.fixture
    def fake_meetergo_options(self) -> dict[str, Any]:
        return {"generate": 2, "rate_limit": None}

    async def test_options_reach_the_fake(self, fake_meetergo: FakeMeetergo) -> None:
        assert list(fake_meetergo.connections) == ["conn-0000", "conn-0001"]
