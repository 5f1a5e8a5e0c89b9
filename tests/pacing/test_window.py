"""The sliding-window limiter on a fake clock: its log, the server's headers, 429s, learning."""

from __future__ import annotations

import asyncio
import logging

import pytest

from meetergo_async import SlidingWindow
from meetergo_async.pacing import Ticket
from meetergo_async.pacing._block import BLOCK_PROBE_FIRST as PROBE_FIRST
from meetergo_async.pacing._block import BLOCK_PROBE_GROWTH as PROBE_GROWTH
from meetergo_async.pacing._factory import sliding_window_limiter as SlidingWindowLimiter
from meetergo_async.pacing._gate import Gate
from meetergo_async.pacing._lesson import RECOVERY_STEP, RECOVERY_WINDOWS
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.pacing._neighbours import NEIGHBOUR_SHARE, REFRESH
from tests.helpers import FakeTime


def make(fake_time: FakeTime, limit: int | None = 3, seconds: float = 10.0, **kw: float):
    """A limiter whose first request has been answered (without headers) and has expired."""
    window = None if limit is None else SlidingWindow(limit, seconds)
    lim = SlidingWindowLimiter(window, clock=fake_time.clock, sleep=fake_time.sleep, **kw)
    if window is not None:
        first = lim.try_acquire()
        assert first is not None
        lim.on_response(first, 200, {}, None)
        fake_time.now += seconds + EXPIRY_MARGIN
    return lim


def headers(remaining: int, limit: int | None = None, reset: int = 5, suffix: str = ""):
    found = {
        f"X-RateLimit-Remaining{suffix}": str(remaining),
        f"X-RateLimit-Reset{suffix}": str(reset),
    }
    if limit is not None:
        found[f"X-RateLimit-Limit{suffix}"] = str(limit)
    return found


async def answer(lim: Gate, ticket: Ticket, status: int = 200, **kw) -> None:
    lim.on_response(ticket, status, kw.pop("headers", {}), kw.pop("retry_after", None))


# -- rule 1: the client's own log ---------------------------------------------------------


async def test_the_first_request_goes_alone(fake_time) -> None:
    lim = SlidingWindowLimiter(SlidingWindow(5, 10.0), clock=fake_time.clock, sleep=fake_time.sleep)
    first = lim.try_acquire()
    assert first is not None
    assert lim.try_acquire() is None  # its answer tells whether someone else uses the key
    lim.on_response(first, 200, headers(2, limit=5), None)  # 2 left: others used 2
    assert [lim.try_acquire() is not None for _ in range(2)] == [True, False]


async def test_at_most_limit_count_from_send_until_a_window_after_the_answer(fake_time) -> None:
    lim = make(fake_time)
    start = fake_time.now
    tickets = [await lim.acquire() for _ in range(3)]
    assert lim.try_acquire() is None  # three in flight: the fourth waits
    fake_time.now += 2.0
    await answer(lim, tickets[0])
    fourth = await lim.acquire()
    # Counted from its answer (t=2), not from its sending: the arrival lies in between.
    assert fourth.sent_at == pytest.approx(start + 2.0 + 10.0 + EXPIRY_MARGIN)


async def test_a_failed_or_cancelled_attempt_still_counts(fake_time) -> None:
    lim = make(fake_time, limit=1)
    ticket = await lim.acquire()
    lim.on_attempt_done(ticket)  # no answer: it may have reached the server
    assert lim.try_acquire() is None
    nxt = await lim.acquire()
    assert nxt.sent_at == pytest.approx(ticket.sent_at + 10.0 + EXPIRY_MARGIN)


async def test_a_waiter_wakes_when_an_answer_comes(fake_time) -> None:
    lim = make(fake_time, limit=1)
    first = await lim.acquire()
    waiter = asyncio.create_task(lim.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()  # nothing has ended: it waits for an answer, not a time
    await answer(lim, first)
    second = await asyncio.wait_for(waiter, 1)
    assert second.sent_at == pytest.approx(first.sent_at + 10.0 + EXPIRY_MARGIN)


async def test_the_rate_is_the_limit_per_window(fake_time) -> None:
    assert make(fake_time, limit=100, seconds=60.0).rate == pytest.approx(100 / 60)
    assert make(fake_time, limit=None).rate is None


# -- rule 2: the server's headers ---------------------------------------------------------


async def test_a_lower_server_limit_is_adopted_a_higher_one_is_not(fake_time) -> None:
    lim = make(fake_time, limit=10)
    await answer(lim, await lim.acquire(), headers=headers(3, limit=4))
    assert lim.rate == pytest.approx(4 / 10)
    await answer(lim, await lim.acquire(), headers=headers(50, limit=100))
    assert lim.rate == pytest.approx(10 / 10)


async def test_reset_is_not_a_refill_time(fake_time) -> None:
    lim = make(fake_time, limit=2)
    a, b = await lim.acquire(), await lim.acquire()
    await answer(lim, a, headers=headers(1, limit=2, reset=1))
    await answer(lim, b, headers=headers(0, limit=2, reset=1))
    c = await lim.acquire()
    # "Reset: 1" would say a new window in 1 s; on a sliding log both still count for 10 s.
    assert c.sent_at >= a.sent_at + 10.0


async def test_several_named_throttlers_use_remaining_only(fake_time) -> None:
    lim = make(fake_time, limit=10)
    both = headers(5, limit=5, suffix="-short") | headers(90, limit=100, suffix="-long")
    await answer(lim, await lim.acquire(), headers=both)
    assert lim.rate == pytest.approx(1.0)  # neither throttler's limit is one window's


async def test_without_a_window_the_largest_reset_is_the_window(fake_time) -> None:
    lim = make(fake_time, limit=None)
    first = await lim.acquire()
    await answer(lim, first, headers=headers(1, limit=2, reset=4))
    second = await lim.acquire()
    await answer(lim, second, headers=headers(0, limit=2, reset=3))
    third = await lim.acquire()
    assert third.sent_at == pytest.approx(first.sent_at + 4.0 + EXPIRY_MARGIN)
    assert lim.rate == pytest.approx(2 / 4)


async def test_unpaced_without_headers_grants_at_once(fake_time) -> None:
    lim = make(fake_time, limit=None)
    tickets = [lim.try_acquire() for _ in range(500)]
    assert all(t is not None for t in tickets)
    assert fake_time.sleeps == []


# -- rule 2: neighbours -------------------------------------------------------------------


async def test_a_neighbour_on_the_key_leaves_it_half_of_what_is_free(fake_time) -> None:
    lim = make(fake_time, limit=20)
    first = await lim.acquire()
    # The server counts 11 of its own: 20 - 8 remaining - our 1 = 11 from someone else.
    await answer(lim, first, headers=headers(8, limit=20))
    granted = 0
    while lim.try_acquire() is not None:
        granted += 1
    assert granted == int(NEIGHBOUR_SHARE * 8)


async def test_a_neighbour_whose_requests_stay_counted_is_still_sending(fake_time) -> None:
    # Its count never grows between answers, yet its requests outlive a window: it sends.
    lim = make(fake_time, limit=20)
    await answer(lim, await lim.acquire(), headers=headers(14, limit=20))  # 5 foreign
    for _ in range(2):
        fake_time.now += 10.0 + 2 * EXPIRY_MARGIN  # ours expired; theirs did too, and came back
        await answer(lim, await lim.acquire(), headers=headers(14, limit=20))
    granted = 0
    while lim.try_acquire() is not None:
        granted += 1
    assert granted == int(NEIGHBOUR_SHARE * 14)  # not all 19 the client would claim alone


async def test_the_neighbours_busiest_count_holds_for_a_window_after_it_was_seen(
    fake_time,
) -> None:
    lim = make(fake_time, limit=100)
    await answer(lim, await lim.acquire(), headers=headers(9, limit=100))  # 90 foreign
    fake_time.now += 9.0
    await answer(lim, await lim.acquire(), headers=headers(8, limit=100))  # still 90
    fake_time.now += 1.5  # past the window of the first sighting, within that of the second
    # Their 90 expired; they count 10 now, and may take back what they had: 90.
    await answer(lim, await lim.acquire(), headers=headers(88, limit=100))
    granted = 0
    while lim.try_acquire() is not None:
        granted += 1
    assert granted == 100 - 90 - 2  # not half of the 88 free


async def test_while_ours_are_in_flight_others_may_send_as_many(fake_time) -> None:
    lim = make(fake_time, limit=100)
    await answer(lim, await lim.acquire(), headers=headers(88, limit=100))  # 11 foreign
    fake_time.now += 0.001
    burst = [lim.try_acquire() for _ in range(45)]
    assert all(burst[:44])
    assert burst[44] is None  # half of the 88 free
    fake_time.now += 0.001
    first = burst[0]
    assert first is not None
    # 43 free beyond the 43 of ours still on their way, and the neighbour may be sending
    # as many meanwhile.
    await answer(lim, first, headers=headers(86, limit=100))
    assert lim.try_acquire() is None  # not half of the 43


async def test_answers_out_of_order_cannot_overshoot_the_servers_count(fake_time) -> None:
    lim = make(fake_time, limit=20)
    await answer(lim, await lim.acquire(), headers=headers(8, limit=20))  # 11 foreign
    fake_time.now += 0.001
    _, b, _ = [await lim.acquire() for _ in range(3)]
    fake_time.now += 0.01
    # b arrived last (remaining 5), but its answer comes first; a and c are still out.
    await answer(lim, b, headers=headers(5, limit=20))
    more = 0
    while lim.try_acquire() is not None:
        more += 1
    # Free: 5, less a and c, which may not have been counted yet: 3, shared: at most 1.
    assert more <= 1


async def test_a_neighbour_that_stopped_is_re_read_while_its_requests_expire(fake_time) -> None:
    lim = make(fake_time, limit=20)
    await answer(lim, await lim.acquire(), headers=headers(8, limit=20))  # 11 foreign
    fake_time.now += 0.001
    mine = [lim.try_acquire() for _ in range(4)]  # half of the 8 free
    assert all(mine)
    assert lim.try_acquire() is None
    fake_time.now += 0.001
    for ticket in mine:
        assert ticket is not None
        await answer(lim, ticket, headers=headers(4, limit=20))  # the neighbour sent nothing
    assert lim.try_acquire() is None
    fake_time.now += REFRESH  # room was left to the neighbour: one request re-reads the count
    refresh = lim.try_acquire()
    assert refresh is not None
    assert lim.try_acquire() is None
    await answer(lim, refresh, headers=headers(10, limit=20))  # its requests are expiring
    assert lim.try_acquire() is not None


# -- rules 3 and 4: a 429 -----------------------------------------------------------------


async def test_retry_after_pauses_everything_then_one_probe_then_the_full_budget(
    fake_time,
) -> None:
    lim = make(fake_time, limit=3)
    tickets = [await lim.acquire() for _ in range(3)]
    await answer(lim, tickets[0], 429, retry_after=7.0)
    assert lim.rate_limited == 1
    probe = await lim.acquire()
    assert probe.sent_at == pytest.approx(tickets[0].sent_at + 7.0)
    assert lim.try_acquire() is None  # one probe at a time
    for ticket in tickets[1:]:  # in flight before the block: refused, nothing new
        await answer(lim, ticket, 429, retry_after=7.0)
    await answer(lim, probe)
    # The first answer after the block: the server's log starts over with it.
    granted = [lim.try_acquire() for _ in range(2)]
    assert all(granted)
    assert lim.try_acquire() is None


async def test_without_retry_after_probes_back_off_until_a_window_has_passed(fake_time) -> None:
    lim = make(fake_time, limit=100, seconds=60.0)
    first = await lim.acquire()
    refused_at = fake_time.now
    await answer(lim, first, 429)
    waits = []
    while True:
        probe = await lim.acquire()
        waits.append(round(probe.sent_at - refused_at, 6))
        if probe.sent_at >= refused_at + 60.0:
            break
        await answer(lim, probe, 429)
    expected, at, step = [], 0.0, PROBE_FIRST
    while at + step < 60.0:
        at += step
        expected.append(at)
        step = min(step * PROBE_GROWTH, 30.0)
    assert waits == pytest.approx([*expected, 60.0])
    assert lim.rate == pytest.approx(100 / 60)  # probes into the block lowered nothing


async def test_a_retry_after_beyond_max_pause_does_not_freeze_the_client(fake_time, caplog) -> None:
    lim = make(fake_time, max_pause=60.0)
    await answer(lim, await lim.acquire(), 429, retry_after=3600.0)
    assert lim.try_acquire() is not None
    assert "more than max_retry_after" in caplog.text


# -- learning from 429s without headers ---------------------------------------------------


async def refuse_after(lim: Gate, fake_time: FakeTime, accepted: int) -> None:
    """The server accepts ``accepted`` requests, then refuses; the block ends a window later."""
    for _ in range(accepted):
        await answer(lim, await lim.acquire())
    await answer(lim, await lim.acquire(), 429)
    fake_time.now += 10.0
    probe = await lim.acquire()
    await answer(lim, probe)


async def test_a_429_teaches_what_the_server_accepted(fake_time, caplog) -> None:
    caplog.set_level(logging.INFO)
    lim = make(fake_time, limit=40)
    await refuse_after(lim, fake_time, accepted=10)
    assert lim.rate == pytest.approx(10 / 10)
    assert "pacing to 10 per 10s" in caplog.text


async def test_a_429_below_what_was_accepted_before_is_a_neighbours(fake_time) -> None:
    lim = make(fake_time, limit=40)
    for _ in range(30):
        await answer(lim, await lim.acquire())
    fake_time.now += 20.0
    await refuse_after(lim, fake_time, accepted=12)
    assert lim.rate == pytest.approx(40 / 10)


async def test_a_taught_limit_climbs_back_one_request_at_a_time_above_the_refusal(
    fake_time,
) -> None:
    lim = make(fake_time, limit=40)
    await refuse_after(lim, fake_time, accepted=10)
    for _ in range(RECOVERY_WINDOWS):
        fake_time.now += 10.0 + EXPIRY_MARGIN
        await answer(lim, await lim.acquire())
    assert lim.rate == pytest.approx((10 + RECOVERY_STEP * 40) / 10)
    fake_time.now += 10.0 + EXPIRY_MARGIN
    for _ in range(9):  # up to the level refused before
        assert lim.try_acquire() is not None
    assert lim.try_acquire() is not None
    assert lim.try_acquire() is None  # above it: one at a time


async def test_a_second_refusal_at_the_same_level_confirms_the_limit(fake_time) -> None:
    lim = make(fake_time, limit=40)
    await refuse_after(lim, fake_time, accepted=10)
    for _ in range(RECOVERY_WINDOWS):
        fake_time.now += 10.0 + EXPIRY_MARGIN
        await answer(lim, await lim.acquire())
    fake_time.now += 10.0 + EXPIRY_MARGIN
    await refuse_after(lim, fake_time, accepted=10)  # the eleventh is refused again
    assert lim.rate == pytest.approx(1.0)
    for _ in range(5 * RECOVERY_WINDOWS):
        fake_time.now += 10.0 + EXPIRY_MARGIN
        await answer(lim, await lim.acquire())
    assert lim.rate == pytest.approx(1.0)  # confirmed: it no longer climbs


async def test_waiters_are_served_in_order_and_a_cancelled_one_gives_its_place(
    fake_time,
) -> None:
    lim = make(fake_time, limit=1)
    first = await lim.acquire()
    order: list[int] = []

    async def take(n: int) -> None:
        ticket = await lim.acquire()
        order.append(n)
        await answer(lim, ticket)

    tasks = [asyncio.create_task(take(n)) for n in range(4)]
    await asyncio.sleep(0)
    tasks[1].cancel()
    await answer(lim, first)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    assert order == [0, 2, 3]
