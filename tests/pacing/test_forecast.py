"""When could the k-th next request go: the projection behind ETAs and dry runs.

Pure arithmetic first (a sliding log full, half full and empty; a token bucket), then the
policies and a client as a user asks them, on injected time.
"""

from __future__ import annotations

import math

import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow, TokenBucket
from meetergo_async.pacing._forecast import on_bucket, on_sliding_log
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.pacing._window import SlidingWindowPolicy
from meetergo_async.testing import MockTransport, Request, Response, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID, VirtualTime

W = 10.0
CYCLE = W + EXPIRY_MARGIN


@pytest.mark.parametrize(
    ("expiries", "count", "seconds"),
    [
        ([], 1, 0.0),  # empty: the first goes now
        ([], 5, 0.0),  # ... and the whole limit
        ([], 6, CYCLE),  # the sixth once the first of the five stops counting
        ([], 11, 2 * CYCLE),
        ([2.0, 4.0], 3, 0.0),  # half full: three free
        ([2.0, 4.0], 4, 2.0),  # then the oldest entry's slot
        ([2.0, 4.0], 5, 4.0),
        ([2.0, 4.0], 6, CYCLE),  # then the free ones a window on
        ([1.0, 2.0, 3.0, 4.0, 5.0], 1, 1.0),  # full: each entry's slot in turn
        ([1.0, 2.0, 3.0, 4.0, 5.0], 5, 5.0),
        ([1.0, 2.0, 3.0, 4.0, 5.0], 6, 1.0 + CYCLE),
        ([0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 2.0),  # over the cap: two must go first
        ([-1.0, 2.0], 4, 0.0),  # an entry already gone frees its slot now
    ],
)
def test_a_sliding_log_projects_its_free_slots_then_its_expiries_then_the_limit(
    expiries: list[float], count: int, seconds: float
) -> None:
    assert on_sliding_log(0.0, count, 5, W, expiries) == pytest.approx(seconds)


def test_a_pause_delays_the_whole_projection() -> None:
    assert on_sliding_log(0.0, 1, 5, W, [], pause_until=3.0) == 3.0
    assert on_sliding_log(0.0, 6, 5, W, [], pause_until=3.0) == pytest.approx(3.0 + CYCLE)


@pytest.mark.parametrize(
    ("tokens", "count", "seconds"),
    [(5.0, 5, 0.0), (5.0, 6, 0.5), (0.0, 1, 0.5), (0.5, 1, 0.25), (2.0, 12, 5.0)],
)
def test_a_token_bucket_projects_its_tokens_then_its_rate(
    tokens: float, count: int, seconds: float
) -> None:
    assert on_bucket(0.0, count, tokens=tokens, rate=2.0) == pytest.approx(seconds)


def test_the_window_policy_projects_from_its_own_log() -> None:
    policy = SlidingWindowPolicy(SlidingWindow(3, W), now=0.0)
    for at in (0.0, 1.0):
        policy.answered(policy.grant(at), 200, {}, None, at)
    assert policy.forecast(1.0, 1) == 0.0
    assert policy.forecast(1.0, 2) == pytest.approx(W + EXPIRY_MARGIN - 1.0)  # the first's
    in_flight = policy.grant(1.0)
    assert policy.forecast(1.0, 3) == pytest.approx(W + EXPIRY_MARGIN)  # as if answered now
    policy.answered(in_flight, 429, {}, None, 1.0)  # a block: when it ends is not known
    assert policy.forecast(1.0, 1) is None
    assert SlidingWindowPolicy(None, now=0.0).forecast(0.0, 100) == 0.0  # unpaced


def echo(request: Request) -> Response:
    return json_response({"id": request.url.name})


async def test_a_client_forecasts_by_its_limiter_and_sends_nothing() -> None:
    time = VirtualTime()
    sent: list[Request] = []

    def record(request: Request) -> Response:
        sent.append(request)
        return echo(request)

    async with MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        transport=MockTransport(record),
        rate_limit=SlidingWindow(2, W),
        clock=time.clock,
        sleep=time.sleep,
    ) as client:
        assert await client.forecast(2) == 0.0
        update = CalendarConnectionUpdate(validate_availability=True)
        await client.update_calendar_connections([(f"c{i}", update) for i in range(2)])
        assert len(sent) == 2
        wait = await client.forecast(1)
        assert wait is not None
        assert W - 0.1 < wait <= W + EXPIRY_MARGIN
        assert len(sent) == 2
        with pytest.raises(ValueError, match="requests"):
            await client.forecast(0)
    bucket = MeetergoClient(API_KEY, user_id=USER_ID, rate_limit=TokenBucket.per_second(2, burst=1))
    async with bucket:
        assert await bucket.forecast(3) == pytest.approx(1.0)
    unpaced = MeetergoClient(API_KEY, user_id=USER_ID, rate_limit=None)
    async with unpaced:
        assert await unpaced.forecast(10**6) == 0.0
    assert math.isfinite(wait)
