"""Two lanes: interactive calls go first, and bulk work leaves them room on a sliding log.

The arithmetic (``reserve``), the memory of interactive calls (``Lanes``) and the policy's
decisions are plain code with ``now``; the gate's order of service runs on a loop with a
policy that hands out slots one at a time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

import pytest

from meetergo_async.pacing import Priority, SlidingWindow, Ticket
from meetergo_async.pacing._gate import Gate
from meetergo_async.pacing._lanes import Lanes, reserve
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.pacing._window import SlidingWindowPolicy

BULK, INTERACTIVE = Priority.BULK, Priority.INTERACTIVE

# -- reserve: the calls expected before the log frees slots, against its expiries ----------


@pytest.mark.parametrize(
    ("expected", "expiries", "slots"),
    [
        (10, [], 10),  # nothing frees within the window: a window's calls
        (10, [4.0] * 50, 8),  # a burst frees at 4 s: the calls of the 4 s before it
        (10, [0.05 * i for i in range(1, 101)], 1),  # slots free steadily: one is enough
        (0.1, [], 1),  # a floor of one while calls are seen
        (10, [1.0, 2.0, 3.0, 4.0, 4.5], 5),  # one frees a second, 2 calls come: 5 by 4 s
        (10, [6.0] * 10, 10),  # beyond the window: the whole window's calls
    ],
)
def test_the_reserve_covers_the_calls_expected_before_slots_come_back(
    expected: float, expiries: list[float], slots: int
) -> None:
    assert reserve(0.0, 5.0, expected, expiries).slots == slots


def test_past_expiries_free_nothing_ahead() -> None:
    assert reserve(10.0, 5.0, 10, [1.0, 2.0, 14.0]).slots == 9  # 10 calls, 1 slot frees


def test_the_reserve_says_when_one_slot_fewer_will_do() -> None:
    # 10 calls a 5 s window, a burst at 4 s: 8 calls until then; 7 will do 0.5 s later.
    found = reserve(0.0, 5.0, 10, [4.0] * 50)
    assert found.recheck == pytest.approx(0.5)
    assert reserve(found.recheck + 1e-6, 5.0, 10, [4.0] * 50).slots == 7


def test_a_reserve_for_the_whole_window_changes_when_an_expiry_comes_within_it() -> None:
    found = reserve(0.0, 5.0, 10, [7.0])
    assert found.slots == 10
    assert found.recheck == pytest.approx(2.0)  # 7 s comes within the window at 2 s
    assert reserve(2.5, 5.0, 10, [7.0]).slots == 9


# -- Lanes: interactive calls seen within the last window -----------------------------------


def test_the_headroom_follows_the_calls_seen_and_goes_a_window_after_the_last() -> None:
    lanes = Lanes()
    assert lanes.headroom(0.0, 5.0).slots == 0  # none seen: bulk work takes every slot
    for seq, at in enumerate((0.0, 1.0, 2.0)):
        lanes.interactive_sent(at, seq)
    assert lanes.seen(2.0, 5.0) == 3
    assert lanes.headroom(2.0, 5.0).slots == 4  # those seen and the next, none back yet
    assert lanes.seen(5.5, 5.0) == 2  # the one at 0 s is a window old
    assert lanes.headroom(7.0, 5.0) == (0, math.inf)


def test_only_the_calls_own_slots_count_as_coming_back() -> None:
    lanes = Lanes()
    for seq, at in enumerate((0.0, 0.5)):
        lanes.interactive_sent(at, seq)
    lanes.ended(0, 1.0)  # an interactive one stops counting at 1 s
    lanes.ended(99, 1.1)  # a bulk request's: the bulk job takes its slot back itself
    # 3 calls a 5 s window (0.6 a second): 0.6 of one before 1 s, then 1 comes back.
    assert lanes.headroom(0.0, 5.0).slots == 2


# -- The sliding-window policy: the bulk lane leaves the free slot --------------------------


def window_policy(limit: int = 10, seconds: float = 1.0) -> SlidingWindowPolicy:
    policy = SlidingWindowPolicy(SlidingWindow(limit, seconds), now=0.0)
    first = policy.grant(0.0, BULK)  # the first answer tells nothing is counted before
    policy.answered(first, 200, {}, None, 0.0)
    return policy


def fill(policy: SlidingWindowPolicy, lane: Priority, now: float) -> int:
    """Grant ``lane`` requests at ``now`` while the policy lets them go; answer each."""
    granted = 0
    while policy.wait(now, True, lane) == 0.0:
        policy.answered(policy.grant(now, lane), 200, {}, None, now)
        granted += 1
    return granted


def test_bulk_work_alone_takes_every_slot() -> None:
    policy = window_policy()
    assert fill(policy, BULK, 0.0) == 9  # and the first: 10


def send(policy: SlidingWindowPolicy, lane: Priority, now: float) -> None:
    assert policy.wait(now, True, lane) == 0.0
    policy.answered(policy.grant(now, lane), 200, {}, None, now)


def test_while_people_are_about_bulk_work_leaves_a_slot_they_take_at_once() -> None:
    policy = window_policy()
    send(policy, INTERACTIVE, 0.0)
    assert fill(policy, BULK, 0.0) == 6  # 2 taken, 2 left: the call seen, and the next
    wait = policy.wait(0.0, True, BULK)
    assert wait is not None
    assert wait > 0.0  # it comes back when room may have come
    send(policy, INTERACTIVE, 0.1)  # a person finds it at once


def test_a_window_without_people_gives_the_headroom_back() -> None:
    policy = window_policy()
    send(policy, INTERACTIVE, 0.0)
    fill(policy, BULK, 0.0)
    later = 1.0 + 2 * EXPIRY_MARGIN  # everything of t=0 has gone, and so has the call
    assert fill(policy, BULK, later) == 10


def test_a_burst_freeing_later_holds_slots_for_the_calls_expected_until_then() -> None:
    policy = window_policy(limit=100, seconds=5.0)
    for at in (0.0, 0.5, 1.0, 1.5):  # 4 calls within the window: 0.8 a second
        policy.answered(policy.grant(at, INTERACTIVE), 200, {}, None, at)
    taken = fill(policy, BULK, 1.5)
    # 5 calls a window are expected (those seen, and the next): 3.5 before the first of
    # their slots comes back, at 5.02 s.
    assert taken == 100 - 1 - 4 - 4


# -- The gate: interactive waiters take the next turn before bulk ones ---------------------


class OneAtATime:
    """A policy of counted slots: wait for an answer while none is free."""

    rate_limited = 0
    rate = None

    def __init__(self) -> None:
        self.free = 0
        self.order: list[Priority] = []

    def wait(self, now: float, hold: bool = True, lane: Priority = INTERACTIVE) -> float | None:
        return 0.0 if self.free else None

    def grant(self, now: float, lane: Priority = INTERACTIVE) -> Ticket:
        self.free -= 1
        self.order.append(lane)
        return Ticket(len(self.order), now)

    def ended(self, ticket: Ticket | None, now: float) -> bool:
        return False

    def answered(
        self,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> bool:
        self.free += 1
        return True

    def pause(self, seconds: float, now: float) -> None:
        pass

    def paused(self, now: float) -> bool:
        return False


async def test_an_interactive_waiter_goes_before_bulk_ones_that_queued_first() -> None:
    policy = OneAtATime()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    gate = Gate(policy, clock=lambda: 0.0, sleep=sleep)
    bulk = [asyncio.ensure_future(gate.acquire(lane=BULK)) for _ in range(3)]
    await asyncio.sleep(0)
    person = asyncio.ensure_future(gate.acquire(lane=INTERACTIVE))
    await asyncio.sleep(0)
    for _ in range(4):
        gate.on_response(Ticket(0, 0.0), 200, {}, None)  # a slot comes back
        for _ in range(5):
            await asyncio.sleep(0)
    await asyncio.gather(person, *bulk)
    assert policy.order == [INTERACTIVE, BULK, BULK, BULK]


async def test_a_free_turn_is_not_taken_past_a_waiter_of_a_more_urgent_lane() -> None:
    policy = OneAtATime()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    gate = Gate(policy, clock=lambda: 0.0, sleep=sleep)
    person = asyncio.ensure_future(gate.acquire(lane=INTERACTIVE))
    await asyncio.sleep(0)
    policy.free = 1  # a slot, before the waiter has seen it
    assert gate.try_acquire(lane=BULK) is None
    gate.on_response(Ticket(0, 0.0), 200, {}, None)
    await person
    assert gate.try_acquire(lane=INTERACTIVE) is not None  # nobody waits any more
