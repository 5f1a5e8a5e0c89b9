"""The client-wide outage state on a fake clock: what declares it, who probes it, how it ends."""

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
    is_host_failure,
    is_service_failure,
)
from tests.helpers import FakeTime

JSON_503 = {"statusCode": 503, "message": "busy"}


def refused() -> APIConnectionError:
    return APIConnectionError("connection refused", connected=False)


def app_503() -> ServerError:
    """The app's own 503, as JSON: about this request, until other calls fail too."""
    return ServerError("busy", status=503, body=JSON_503)


def make(fake_time: FakeTime, *, calls: int = 1) -> Health:
    health = Health(fake_time.clock, fake_time.sleep)
    for _ in range(calls):
        health.enter()
    return health


def declare(health: Health) -> None:
    for call in range(OUTAGE_AFTER):
        health.failed(refused(), probe=False, key=call)
    assert health.down


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


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (APIConnectionError("refused", connected=False), True),  # no connection at all
        (APIConnectionError("reset mid-answer"), False),  # this request's connection
        (ServerError("bad gateway", status=502, body="<html>502</html>"), True),  # a gateway
        (ServerError("bad gateway", status=502, body=None), True),  # an empty gateway answer
        (ServerError("busy", status=503, body=JSON_503), False),  # the app's own JSON
        (ServerError("bug", status=500, body="<html>"), False),
    ],
)
def test_what_concerns_the_host_as_a_whole(error: object, expected: bool) -> None:
    assert is_host_failure(error) is expected  # type: ignore[arg-type]


def test_failures_of_several_calls_in_a_row_make_an_outage(fake_time: FakeTime) -> None:
    health = make(fake_time)
    for call in range(OUTAGE_AFTER - 1):
        health.failed(app_503(), probe=False, key=call)
    health.answered(404, probe=False)  # the service answers: the count starts again
    for call in range(OUTAGE_AFTER - 1):
        health.failed(app_503(), probe=False, key=call)
    assert not health.down
    health.failed(app_503(), probe=False, key="another")
    assert health.down


def test_one_call_failing_alone_is_its_own_failure(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    health = make(fake_time)
    for _ in range(10):  # one connection id that always answers 503
        health.failed(app_503(), probe=False, key="poisoned")
    assert not health.down
    assert "does not answer" not in caplog.text


def test_the_host_refusing_connections_is_an_outage_even_for_one_call(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    health = make(fake_time)
    for _ in range(OUTAGE_AFTER):
        health.failed(refused(), probe=False, key="alone")
    assert health.down
    assert "the service does not answer" in caplog.text


async def test_a_call_alone_probes_on_its_own_schedule(fake_time: FakeTime) -> None:
    health = make(fake_time)
    declare(health)
    for _ in range(5):  # no wait of the outage's: its own backoff happens before admit
        assert await health.admit("alone", 3, None) is True
        health.failed(refused(), probe=True, key="alone")
    assert fake_time.sleeps == []


async def test_among_several_calls_probes_go_one_at_a_time_with_growing_waits(
    fake_time: FakeTime,
) -> None:
    health = make(fake_time, calls=2)
    declare(health)
    start = fake_time.now
    times = []
    for _ in range(6):
        assert await health.admit("one", 8, None) is True
        times.append(round(fake_time.now - start, 6))
        health.failed(refused(), probe=True, key="one")
    expected, at, wait = [0.0], 0.0, OUTAGE_PROBE_FIRST  # the first at once: it may be chance
    for _ in range(5):
        at += wait
        expected.append(at)
        wait = min(wait * OUTAGE_PROBE_GROWTH, OUTAGE_PROBE_CAP)
    assert times == pytest.approx(expected)


async def test_the_probe_goes_to_the_waiting_call_with_the_most_attempts_left(
    fake_time: FakeTime,
) -> None:
    health = make(fake_time, calls=3)
    declare(health)
    assert await health.admit("first", 5, None) is True
    health.failed(refused(), probe=True, key="first")  # the next probe is due later
    low = asyncio.create_task(health.admit("low", 1, None))
    high = asyncio.create_task(health.admit("high", 4, None))
    done, _ = await asyncio.wait({low, high}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {high}
    assert high.result() is True
    assert fake_time.now >= OUTAGE_PROBE_FIRST
    health.answered(200, probe=True)
    assert await asyncio.wait_for(low, 1) is False  # the service is back: it just goes


async def test_calls_wait_while_a_probe_is_out_and_go_on_when_it_is_answered(
    fake_time: FakeTime,
) -> None:
    health = make(fake_time, calls=2)
    declare(health)
    assert await health.admit("one", 8, None) is True  # this call probes
    waiter = asyncio.create_task(health.admit("two", 8, None))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()  # the probe is out: nobody else goes
    health.answered(200, probe=True)
    assert await asyncio.wait_for(waiter, 1) is False  # the service is back: no probe needed
    assert not health.down


async def test_a_call_that_may_send_once_is_never_held(fake_time: FakeTime) -> None:
    health = make(fake_time, calls=2)
    declare(health)
    assert await health.admit("prober", 8, None) is True
    # A probe is out, yet a call of one attempt goes at once (not as the probe).
    assert await health.admit("once", 1, None, hold=False) is False
    assert fake_time.sleeps == []


async def test_a_probe_that_tells_nothing_gives_its_turn_back(fake_time: FakeTime) -> None:
    health = make(fake_time, calls=2)
    declare(health)
    assert await health.admit("one", 8, None) is True
    health.release()  # cancelled, or never sent
    assert await health.admit("two", 8, None) is True


async def test_waiting_ends_at_the_deadline_saying_how_long(fake_time: FakeTime) -> None:
    health = make(fake_time, calls=2)
    for call in range(OUTAGE_AFTER):
        health.failed(ServerError("bad gateway", status=502), probe=False, key=call)
    assert await health.admit("one", 8, None) is True
    health.failed(ServerError("bad gateway", status=502), probe=True, key="one")
    with pytest.raises(ServerError, match=r"has not answered for \d+s") as caught:
        await health.admit("two", 8, fake_time.now + OUTAGE_PROBE_FIRST / 2)  # before the probe
    assert caught.value.status == 502
    assert health.outage_note() == ""  # under a second: not worth saying
    fake_time.now += 12.0
    assert health.outage_note() == "the service has not answered for 12s"


def test_503s_among_successes_are_throttling_not_chance(fake_time: FakeTime) -> None:
    health = make(fake_time)
    for _ in range(THROTTLE_SAMPLE):
        health.answered(200, probe=False)
    for _ in range(2):  # a few 503s by chance, as faults: not throttling
        health.failed(app_503(), probe=False, key="a")
        health.answered(200, probe=False)
    assert not health.throttling()
    for _ in range(THROTTLE_SAMPLE):
        health.failed(app_503(), probe=False, key="a")
        health.answered(200, probe=False)
        health.failed(app_503(), probe=False, key="b")
    assert health.throttling()


def test_only_503s_are_an_outage_not_throttling(fake_time: FakeTime) -> None:
    health = make(fake_time)
    for call in range(THROTTLE_SAMPLE):
        health.failed(app_503(), probe=False, key=call)
    assert health.down
    assert not health.throttling()
