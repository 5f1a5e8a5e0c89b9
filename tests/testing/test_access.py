"""Tests of who may call FakeMeetergo and how often: its credential rules and rate limits."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import (
    DEFAULT_API_KEY,
    DEFAULT_PERSONAL_TOKEN,
    DEFAULT_USER_ID,
    FakeMeetergo,
    FixedWindow,
    TokenBucket,
)
from tests.testing._client import LIST, USER_HEADER, FakeClock, api_headers, get_list, patch

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


# -- rate limits -----------------------------------------------------------------------------


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
        statuses = [(await get_list(session, fake)).status for _ in range(101)]
    assert statuses == [200] * 100 + [429]


async def test_rate_limit_headers_default_to_nestjs_and_windows(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeMeetergo(rate_limit=TokenBucket.per_minute(100)) as fake:
        bucket = await get_list(session, fake)
    async with FakeMeetergo(rate_limit=FixedWindow(5, 60.0)) as fake:
        window = await get_list(session, fake)
    async with FakeMeetergo() as fake:
        nest = await get_list(session, fake)
    # NestJS's X-RateLimit-* headers describe its log or fixed windows; a bucket has none.
    assert nest.headers["X-RateLimit-Remaining"] == "99"
    assert "X-RateLimit-Remaining" not in bucket.headers
    assert window.headers["X-RateLimit-Limit"] == "5"
    assert window.headers["X-RateLimit-Remaining"] == "4"
