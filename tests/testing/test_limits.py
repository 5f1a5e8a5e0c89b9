"""Table-driven tests of the fake server's rate limiters, with a hand-stepped clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import FakeMeetergo, FixedWindow, NestThrottler, TokenBucket
from meetergo_async.testing._limits import Verdict, limit_headers, make_limiter
from tests.testing._client import LIST, USER_HEADER


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_per_minute_and_per_second_build_buckets() -> None:
    assert TokenBucket(rate=100 / 60, burst=200) == TokenBucket.per_minute(100, burst=200)
    assert TokenBucket.per_minute(30) == TokenBucket(rate=0.5, burst=30)
    assert TokenBucket.per_second(2.5) == TokenBucket(rate=2.5, burst=3)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: TokenBucket(0, 1), ValueError),
        (lambda: TokenBucket(1, 0), ValueError),
        (lambda: TokenBucket(1, 1.5), TypeError),  # type: ignore[arg-type]
        (lambda: TokenBucket.per_minute(-1), ValueError),
        (lambda: FixedWindow(0, 1), ValueError),
        (lambda: FixedWindow(1, 0), ValueError),
        (lambda: FixedWindow(1, float("inf")), ValueError),
    ],
)
def test_configs_refuse_bad_values(build: Callable[[], object], error: type[Exception]) -> None:
    with pytest.raises(error):
        build()


def test_token_bucket_verdicts() -> None:
    clock = Clock()
    limiter = make_limiter(TokenBucket(rate=1, burst=3), clock)

    hits = [limiter.hit("k") for _ in range(4)]
    assert hits == [
        Verdict(True, 3, 2, 1, 0),
        Verdict(True, 3, 1, 2, 0),
        Verdict(True, 3, 0, 3, 0),
        Verdict(False, 3, 0, 3, 1),
    ]
    clock.now += 0.5
    assert limiter.hit("k") == Verdict(False, 3, 0, 3, 1)  # half a token: wait 0.5 s -> 1
    clock.now += 0.5
    assert limiter.hit("k").allowed
    clock.now += 100
    assert limiter.hit("k") == Verdict(True, 3, 2, 1, 0)  # refills up to burst, no further


def test_token_bucket_keeps_one_budget_per_key() -> None:
    limiter = make_limiter(TokenBucket(rate=1, burst=1), Clock())
    assert limiter.hit("a").allowed
    assert not limiter.hit("a").allowed
    assert limiter.hit("b").allowed


def test_token_bucket_is_exact_at_fractional_rates() -> None:
    clock = Clock()
    limiter = make_limiter(TokenBucket.per_minute(100, burst=1), clock)
    assert limiter.hit("k").allowed
    refused = limiter.hit("k")
    assert (refused.allowed, refused.retry_after) == (False, 1)  # 0.6 s, rounded up
    for _ in range(5):
        clock.now += 0.6  # float steps must still yield a whole token each time
        assert limiter.hit("k").allowed


def test_fixed_window_verdicts() -> None:
    clock = Clock()
    limiter = make_limiter(FixedWindow(limit=2, window_seconds=1.5), clock)

    assert limiter.hit("k") == Verdict(True, 2, 1, 2, 0)  # 1.5 s left, rounded up
    clock.now += 1.0
    assert limiter.hit("k") == Verdict(True, 2, 0, 1, 0)
    assert limiter.hit("k") == Verdict(False, 2, 0, 1, 1)
    assert limiter.hit("other").allowed
    clock.now += 0.5  # exactly at the window's end: the next window opens
    assert limiter.hit("k") == Verdict(True, 2, 1, 2, 0)


def test_make_limiter_refuses_other_configs() -> None:
    with pytest.raises(TypeError):
        make_limiter("100/min", Clock())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate_headers", "retry_after", "suffix", "expected"),
    [
        (
            True,
            True,
            "",
            {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "7",
                "Retry-After": "4",
            },
        ),
        (False, True, "-short", {"Retry-After-short": "4"}),
        (
            True,
            False,
            "-long",
            {
                "X-RateLimit-Limit-long": "5",
                "X-RateLimit-Remaining-long": "0",
                "X-RateLimit-Reset-long": "7",
            },
        ),
        (False, False, "", {}),
    ],
)
def test_limit_headers(
    rate_headers: bool, retry_after: bool, suffix: str, expected: dict[str, str]
) -> None:
    verdict = Verdict(False, 5, 0, 7, 4)
    headers = limit_headers(
        verdict, rate_headers=rate_headers, retry_after=retry_after, suffix=suffix
    )
    assert headers == expected


def test_limit_headers_leave_out_retry_after_when_allowed() -> None:
    headers = limit_headers(
        Verdict(True, 5, 4, 1, 0), rate_headers=False, retry_after=True, suffix=""
    )
    assert headers == {}


# -- when a request is counted: count_jitter ----------------------------------------------


async def _remaining_in_arrival_order(**options: Any) -> list[int]:
    """Send 12 requests at once on 12 connections; their Remaining, in the order they arrived."""
    fake = FakeMeetergo(rate_limit=NestThrottler(100, 60.0), **options)
    async with (
        fake,
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=12),
            headers={"Authorization": f"Bearer {fake.api_key}", USER_HEADER: fake.user_id},
        ) as session,
    ):

        async def one(tag: int) -> tuple[str, int]:
            async with session.get(f"{fake.url}{LIST}", headers={"x-tag": str(tag)}) as answer:
                return str(tag), int(answer.headers["X-RateLimit-Remaining"])

        remaining = dict(await asyncio.gather(*(one(tag) for tag in range(12))))
        return [remaining[record.headers["x-tag"]] for record in fake.requests]


async def test_requests_are_counted_as_they_arrive_by_default() -> None:
    counted = await _remaining_in_arrival_order()
    assert counted == sorted(counted, reverse=True)


async def test_count_jitter_counts_requests_sent_together_in_another_order() -> None:
    counted = await _remaining_in_arrival_order(count_jitter=0.05, seed=3)
    assert sorted(counted, reverse=True) == list(range(99, 87, -1))  # each counted once
    assert counted != sorted(counted, reverse=True)  # but not in the order they arrived
