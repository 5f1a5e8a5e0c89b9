"""The client-wide limiter, on a fake clock: refill, burst, pauses, adaptation, headers."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from meetergo_async import TokenBucket
from meetergo_async.pacing import Ticket
from meetergo_async.pacing._bucket import (
    BURST_CUT_FACTOR,
    ESTIMATE_MARGIN,
    RECOVERY_HOLD_SECONDS,
    RECOVERY_PER_SECOND,
    TokenBucketPolicy,
)
from meetergo_async.pacing._gate import Gate
from tests.helpers import FakeTime


def Limiter(
    limit: TokenBucket | None, *, clock: Any, sleep: Any, max_pause: float = math.inf
) -> Gate:
    """The token-bucket policy alone behind the gate (``_learning`` adds the server's model)."""
    policy = TokenBucketPolicy(limit, now=clock(), max_pause=max_pause)
    return Gate(policy, clock=clock, sleep=sleep)


def limiter(fake_time: FakeTime, rate: float | None = 10.0, burst: int = 1) -> Gate:
    limit = TokenBucket(rate, burst) if rate is not None else None
    lim = Limiter(limit, clock=fake_time.clock, sleep=fake_time.sleep)
    lim.on_attempt_done()  # as if a first answer had come: the bucket refills from now
    return lim


async def test_the_bucket_refills_only_after_the_first_answer(fake_time) -> None:
    lim = Limiter(TokenBucket(10.0, 2), clock=fake_time.clock, sleep=fake_time.sleep)
    first = await lim.acquire()
    await lim.acquire()
    fake_time.now += 5.0  # the first request is still on its way: no refill yet
    assert lim.try_acquire() is None
    lim.on_response(first, 200, {}, None)
    fake_time.now += 0.1  # one token 0.1 s after the answer, not 5 s worth
    assert lim.try_acquire() is not None
    assert lim.try_acquire() is None


async def test_burst_goes_at_once_then_the_rate_applies(fake_time) -> None:
    lim = limiter(fake_time, rate=10.0, burst=3)
    start = fake_time.now
    times = [(await lim.acquire()).sent_at - start for _ in range(5)]
    assert times == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2])


async def test_tokens_refill_continuously_up_to_the_burst(fake_time) -> None:
    lim = limiter(fake_time, rate=2.0, burst=4)
    for _ in range(4):
        await lim.acquire()
    fake_time.now += 1.0  # two tokens back
    await lim.acquire()
    await lim.acquire()
    assert fake_time.sleeps == []
    fake_time.now += 100.0  # never more than the burst
    for _ in range(4):
        await lim.acquire()
    assert fake_time.sleeps == []
    await lim.acquire()
    assert fake_time.sleeps == [pytest.approx(0.5)]


async def test_waiting_is_one_sleep_not_a_busy_loop(fake_time) -> None:
    lim = limiter(fake_time, rate=0.5, burst=1)
    await lim.acquire()
    await lim.acquire()
    assert fake_time.sleeps == [pytest.approx(2.0)]


async def test_a_429_pauses_everything_and_drops_the_saved_burst(fake_time) -> None:
    lim = limiter(fake_time, rate=10.0, burst=5)
    ticket = await lim.acquire()
    lim.on_response(ticket, 429, {}, retry_after=3.0)
    assert lim.rate_limited == 1
    first = await lim.acquire()
    second = await lim.acquire()
    assert first.sent_at == pytest.approx(ticket.sent_at + 3.0)
    # Four tokens were saved before the 429; after the pause only the rate applies.
    assert second.sent_at - first.sent_at == pytest.approx(1 / lim.rate)


async def test_a_pause_is_extended_never_shortened(fake_time) -> None:
    lim = limiter(fake_time, rate=None)
    lim.pause(5.0)
    lim.pause(1.0)
    ticket = await lim.acquire()
    assert ticket.sent_at == pytest.approx(fake_time.now)
    assert fake_time.sleeps == [pytest.approx(5.0)]


async def test_without_pacing_a_429_still_pauses_the_client(fake_time) -> None:
    lim = limiter(fake_time, rate=None)
    for _ in range(50):
        await lim.acquire()
    assert fake_time.sleeps == []
    ticket = await lim.acquire()
    lim.on_response(ticket, 429, {}, retry_after=2.0)
    await lim.acquire()
    assert fake_time.sleeps == [pytest.approx(2.0)]
    assert lim.rate is None


async def test_unpaced_try_acquire_grants_at_once_except_in_a_pause_or_a_spent_window(
    fake_time,
) -> None:
    lim = limiter(fake_time, rate=None)
    first, second = lim.try_acquire(), lim.try_acquire()
    assert first is not None
    assert second is not None
    assert (first.seq, second.seq) == (1, 2)

    lim.on_response(second, 429, {}, retry_after=2.0)
    assert lim.try_acquire() is None
    fake_time.now += 2.0
    third = lim.try_acquire()
    assert third is not None
    assert third.seq == 3

    lim.on_response(third, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}, None)
    assert lim.try_acquire() is None
    fake_time.now += 3.0
    fourth = lim.try_acquire()
    assert fourth == Ticket(4, fake_time.now)


async def test_an_early_429_halves_the_rate_once_per_round_trip(fake_time) -> None:
    lim = limiter(fake_time, rate=200.0, burst=40)
    tickets = [await lim.acquire() for _ in range(16)]
    fake_time.now += 0.01
    for ticket in tickets[10:]:
        lim.on_response(ticket, 429, {}, retry_after=1.0)
    # Six 429s for requests sent before the cut lower the rate once, not six times.
    assert lim.rate == pytest.approx(200.0 * BURST_CUT_FACTOR)
    assert lim.rate_limited == 6
    later = await lim.acquire()
    lim.on_response(later, 429, {}, retry_after=1.0)
    assert lim.rate == pytest.approx(200.0 * BURST_CUT_FACTOR**2)


async def test_a_late_429_uses_the_observed_success_rate(fake_time) -> None:
    lim = limiter(fake_time, rate=60.0, burst=1)
    # 100 successes in 2 seconds: the server let through 50 a second.
    for _ in range(100):
        ticket = await lim.acquire()
        fake_time.now += 0.02
        lim.on_response(ticket, 200, {}, None)
    ticket = await lim.acquire()
    lim.on_response(ticket, 429, {}, retry_after=None)
    observed = 100 / (fake_time.now - 1000.0)
    assert lim.rate == pytest.approx(min(60.0, observed) * ESTIMATE_MARGIN, rel=0.02)
    assert lim.rate < 50.0


async def test_the_rate_never_drops_below_its_floor(fake_time) -> None:
    lim = limiter(fake_time, rate=64.0, burst=1)
    for _ in range(20):
        ticket = await lim.acquire()
        lim.on_response(ticket, 429, {}, retry_after=0.0)
    assert lim.rate == pytest.approx(1.0)


async def test_the_rate_recovers_step_by_step_up_to_the_configured_rate(fake_time) -> None:
    lim = limiter(fake_time, rate=100.0, burst=1)
    ticket = await lim.acquire()
    lim.on_response(ticket, 429, {}, retry_after=0.0)
    assert lim.rate == pytest.approx(50.0)
    fake_time.now += RECOVERY_HOLD_SECONDS - 0.5
    await lim.acquire()
    assert lim.rate == pytest.approx(50.0)  # still holding
    fake_time.now += 2.5  # 2 s past the hold
    await lim.acquire()
    assert 50.0 < lim.rate <= 50.0 + 100.0 * RECOVERY_PER_SECOND * 2.5
    fake_time.now += 1000.0
    await lim.acquire()
    assert lim.rate == pytest.approx(100.0)


async def test_rate_limit_headers_stop_requests_before_the_server_refuses(fake_time) -> None:
    lim = limiter(fake_time, rate=1000.0, burst=100)
    ticket = await lim.acquire()
    lim.on_response(ticket, 200, {"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "4"}, None)
    start = fake_time.now
    a = await lim.acquire()
    b = await lim.acquire()
    c = await lim.acquire()
    assert a.sent_at == b.sent_at == start
    assert c.sent_at == pytest.approx(start + 4.0)
    assert lim.rate_limited == 0


async def test_requests_in_flight_count_against_the_remaining_budget(fake_time) -> None:
    lim = limiter(fake_time, rate=1000.0, burst=100)
    tickets = [await lim.acquire() for _ in range(3)]
    # The first answer says 2 remain, but requests 2 and 3 were already sent after it.
    headers = {"X-RateLimit-Remaining-short": "2", "X-RateLimit-Reset-short": "5"}
    lim.on_response(tickets[0], 200, headers, None)
    nxt = await lim.acquire()
    assert nxt.sent_at == pytest.approx(tickets[0].sent_at + 5.0)


async def test_the_tightest_reported_reset_wins_within_a_window(fake_time) -> None:
    lim = limiter(fake_time, rate=1000.0, burst=100)
    t1 = await lim.acquire()
    lim.on_response(t1, 200, {"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "4"}, None)
    fake_time.now += 0.7
    t2 = await lim.acquire()
    # Reset is rounded up to whole seconds: 4 at t=0 and 4 at t=0.7 mean it ends by t=4.
    lim.on_response(t2, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}, None)
    nxt = await lim.acquire()
    assert nxt.sent_at == pytest.approx(t1.sent_at + 4.0)


async def test_headers_from_before_a_window_ended_are_ignored(fake_time) -> None:
    lim = limiter(fake_time, rate=1000.0, burst=100)
    old = await lim.acquire()
    lim.on_response(old, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}, None)
    stale = Ticket(old.seq, old.sent_at)
    first_in_new_window = await lim.acquire()
    assert first_in_new_window.sent_at == pytest.approx(old.sent_at + 2.0)
    # A late answer to a request of the old window must not pause the new one.
    lim.on_response(stale, 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}, None)
    nxt = await lim.acquire()
    assert nxt.sent_at == pytest.approx(first_in_new_window.sent_at)


async def test_429s_explained_by_the_window_do_not_lower_the_rate(fake_time) -> None:
    lim = limiter(fake_time, rate=100.0, burst=100)
    tickets = [await lim.acquire() for _ in range(5)]
    lim.on_response(tickets[0], 200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}, None)
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)  # the waiter sees the exhausted window and starts waiting
    for ticket in tickets[1:]:
        lim.on_response(ticket, 429, {"Retry-After": "3"}, 3.0)
    await waiter
    assert lim.rate == pytest.approx(100.0)


async def test_a_cancelled_waiter_gives_its_place_back(fake_time) -> None:
    gate = asyncio.Event()

    async def gated_sleep(seconds: float) -> None:
        await gate.wait()
        fake_time.now += seconds

    lim = Limiter(TokenBucket(1.0, 1), clock=fake_time.clock, sleep=gated_sleep)
    lim.on_attempt_done()
    await lim.acquire()
    first = asyncio.create_task(lim.acquire())
    second = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    ticket = await asyncio.wait_for(second, timeout=1)
    assert ticket.seq == 2  # the cancelled waiter took no token and no number


async def test_waiters_are_served_first_come_first_served(fake_time) -> None:
    lim = limiter(fake_time, rate=5.0, burst=1)
    order: list[int] = []

    async def take(n: int) -> None:
        await lim.acquire()
        order.append(n)

    await asyncio.gather(*(take(n) for n in range(6)))
    assert order == list(range(6))
    assert fake_time.now - 1000.0 == pytest.approx(1.0)


async def test_a_pause_longer_than_the_cap_is_not_applied(fake_time, caplog) -> None:
    lim = Limiter(TokenBucket(10.0, 5), clock=fake_time.clock, sleep=fake_time.sleep, max_pause=60)
    lim.on_attempt_done()
    ticket = await lim.acquire()
    lim.on_response(ticket, 429, {}, retry_after=3600.0)
    # One answer must not freeze every task for an hour: calls meet the 429 and fail fast.
    nxt = await lim.acquire()
    assert nxt.sent_at - ticket.sent_at < 1.0
    assert "more than max_retry_after" in caplog.text
