"""The client-wide outage state on a fake clock: when it starts, how it probes, how it ends."""

from __future__ import annotations

import asyncio

import pytest

from meetergo_async import APIConnectionError, RateLimitError, ServerError
from meetergo_async._health import (
    OUTAGE_AFTER,
    OUTAGE_PROBE_CAP,
    OUTAGE_PROBE_FIRST,
    OUTAGE_PROBE_GROWTH,
    THROTTLE_SAMPLE,
    Health,
    is_service_failure,
)
from tests.helpers import FakeTime


def down_error() -> APIConnectionError:
    return APIConnectionError("connection refused")


def make(fake_time: FakeTime) -> Health:
    return Health(fake_time.clock, fake_time.sleep)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (APIConnectionError("refused"), True),
        (ServerError("bad gateway", status=502), True),
        (ServerError("unavailable", status=503), True),
        (ServerError("unavailable", status=503, retry_after=2.0), False),  # throttling
        (ServerError("timeout", status=504), True),
        (ServerError("bug", status=500), False),  # the request's trouble, not the service's
        (RateLimitError("slow down", status=429), False),
    ],
)
def test_what_says_the_service_is_down(error: object, expected: bool) -> None:
    assert is_service_failure(error) is expected  # type: ignore[arg-type]


async def test_failures_in_a_row_make_an_outage_and_an_answer_resets_the_count(fake_time) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER - 1):
        health.failed(down_error(), probe=False)
    health.answered(404, probe=False)  # the service answers: the request was the trouble
    for _ in range(OUTAGE_AFTER - 1):
        health.failed(down_error(), probe=False)
    assert not health.down
    health.failed(down_error(), probe=False)
    assert health.down


async def test_probes_go_one_at_a_time_with_growing_waits(fake_time) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER):
        health.failed(down_error(), probe=False)
    start, times = fake_time.now, []
    for _ in range(6):
        assert await health.admit(None) is True
        times.append(round(fake_time.now - start, 6))
        health.failed(down_error(), probe=True)
    expected, at, wait = [0.0], 0.0, OUTAGE_PROBE_FIRST  # the first at once: it may be chance
    for _ in range(5):
        at += wait
        expected.append(at)
        wait = min(wait * OUTAGE_PROBE_GROWTH, OUTAGE_PROBE_CAP)
    assert times == pytest.approx(expected)


async def test_calls_wait_while_a_probe_is_out_and_go_on_when_it_is_answered(fake_time) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER):
        health.failed(down_error(), probe=False)
    assert await health.admit(None) is True  # this call probes
    waiter = asyncio.create_task(health.admit(None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()  # the probe is out: nobody else goes
    health.answered(200, probe=True)
    assert await asyncio.wait_for(waiter, 1) is False  # the service is back: no probe needed
    assert not health.down


async def test_a_probe_that_tells_nothing_gives_its_turn_back(fake_time) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER):
        health.failed(down_error(), probe=False)
    assert await health.admit(None) is True
    health.release()  # cancelled, or never sent
    assert await health.admit(None) is True


async def test_waiting_ends_at_the_deadline_saying_how_long(fake_time) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER):
        health.failed(ServerError("bad gateway", status=502), probe=False)
    assert await health.admit(None) is True
    health.failed(ServerError("bad gateway", status=502), probe=True)
    with pytest.raises(ServerError, match=r"has not answered for \d+s") as caught:
        await health.admit(fake_time.now + OUTAGE_PROBE_FIRST / 2)  # before the next probe
    assert caught.value.status == 502
    assert health.outage_note() == ""  # under a second: not worth saying
    fake_time.now += 12.0
    assert health.outage_note() == "the service has not answered for 12s"


async def test_503s_among_successes_are_throttling_not_chance(fake_time) -> None:
    health = make(fake_time)
    for _ in range(THROTTLE_SAMPLE):
        health.answered(200, probe=False)
    for _ in range(2):  # a few 503s by chance, as faults: not throttling
        health.failed(ServerError("unavailable", status=503), probe=False)
        health.answered(200, probe=False)
    assert not health.throttling()
    for _ in range(THROTTLE_SAMPLE):
        health.failed(ServerError("unavailable", status=503), probe=False)
        health.answered(200, probe=False)
        health.failed(ServerError("unavailable", status=503), probe=False)
    assert health.throttling()


async def test_only_503s_are_an_outage_not_throttling(fake_time) -> None:
    health = make(fake_time)
    for _ in range(THROTTLE_SAMPLE):
        health.failed(ServerError("unavailable", status=503), probe=False)
    assert health.down
    assert not health.throttling()
