"""The time left: the limiter's projection or the recent pace, the later wins.

The pure combination first, then a ``Projection`` asking a real in-process limiter on an
injected clock (its sliding log full, half full, empty), then a short paced run against
the fake server whose every ETA is checked against the time really left.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from meetergo_async import (
    AttemptEvent,
    CalendarConnectionUpdate,
    MeetergoClient,
    MeetergoError,
    SlidingWindow,
)
from meetergo_async.cli._common import Ui
from meetergo_async.cli._eta import Projection, eta
from meetergo_async.cli._progress import PlainProgress
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.testing import (
    FakeMeetergo,
    MockTransport,
    NestThrottler,
    Request,
    Response,
    json_response,
)
from tests.helpers import API_KEY, BASE_URL, USER_ID

W = 10.0
CYCLE = W + EXPIRY_MARGIN
UPDATE = CalendarConnectionUpdate(validate_availability=True)


@pytest.mark.parametrize(
    ("ready_at", "rows_left", "pace", "seconds"),
    [
        (None, 0, 2.0, None),  # nothing left
        (150.0, 0, 2.0, None),
        (None, 10, 0.0, None),  # nothing known
        (None, 10, 2.0, 5.0),  # the pace alone
        (160.0, 10, 0.0, 60.0),  # the projection alone, before any row is done
        (160.0, 10, 2.0, 60.0),  # the limit holds the run: the projection wins
        (101.0, 10, 2.0, 5.0),  # the pace is slower: it wins
        (90.0, 10, 2.0, 5.0),  # a projection in the past promises nothing
        (90.0, 10, 0.0, 0.0),
    ],
)
def test_the_later_of_the_projection_and_the_pace(
    ready_at: float | None, rows_left: int, pace: float, seconds: float | None
) -> None:
    assert eta(100.0, ready_at, rows_left, pace) == seconds


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(
    clock: _Clock, handler: Callable[[Request], Response], hook: Projection
) -> MeetergoClient:
    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        transport=MockTransport(handler),
        rate_limit=SlidingWindow(10, W),
        clock=clock,
        on_event=hook.on_event,
    )


def _echo(request: Request) -> Response:
    return json_response({"id": request.url.name})


async def _send(client: MeetergoClient, clock: _Clock, at: float, count: int) -> None:
    clock.now = at
    results = await client.update_calendar_connections([(f"c{i}", UPDATE) for i in range(count)])
    assert all(result.ok for result in results)


@pytest.mark.parametrize(
    ("sent", "ready_at"),
    [
        ([], 1.0),  # empty: the 8 rows left go now
        ([(0.0, 5)], CYCLE),  # half full: 5 go now, 3 when the first entries stop counting
        ([(0.0, 5), (2.0, 5)], 2.0 + CYCLE),  # full: the 8th slot frees with the later five
    ],
    ids=["empty", "half-full", "full"],
)
async def test_a_projection_asks_the_sliding_log(
    sent: list[tuple[float, int]], ready_at: float
) -> None:
    clock = _Clock()
    projection = Projection(clock)
    async with _client(clock, _echo, projection) as client:
        for at, count in sent:
            await _send(client, clock, at, count)
        projection.bind(client.forecast, lambda: 8)
        clock.now = max(1.0, clock.now)
        await projection.refresh()
    assert projection.ready_at == pytest.approx(ready_at)


async def test_a_projection_adds_an_answers_time_and_gives_way_when_it_cannot_tell() -> None:
    clock = _Clock()

    def slow(request: Request) -> Response:
        clock.now += 0.5
        return _echo(request)

    projection = Projection(clock)
    await projection.refresh()  # not bound yet: nothing projected
    assert projection.ready_at is None
    async with _client(clock, slow, projection) as client:
        await _send(client, clock, 0.0, 3)
        assert projection.answer_time == pytest.approx(0.5)
        left = [8]
        projection.bind(client.forecast, lambda: left[0])
        await projection.refresh()
        # Answered at 0.5, 1.0 and 1.5 s: seven slots free, the eighth when the first answer's
        # entry stops counting; then one more answer's time.
        assert projection.ready_at == pytest.approx(0.5 + CYCLE + 0.5)
        left[0] = 0  # every row is out: their answers are left
        await projection.refresh()
        assert projection.ready_at == pytest.approx(clock.now + 0.5)

    async def broken(count: int) -> float | None:
        raise MeetergoError("the shared budget cannot be read")

    projection.bind(broken, lambda: 3)
    await projection.refresh()
    assert projection.ready_at is None


async def test_no_line_promises_faster_than_the_limit() -> None:
    limit, window, rows = 10, 0.2, 40  # bursts at 0, 0.2, 0.4, 0.6 s
    server = NestThrottler(limit, window)
    async with FakeMeetergo(generate=rows, rate_limit=server) as fake:
        projection = Projection()
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=SlidingWindow(limit, window),
            on_event=projection.on_event,
        )
        bar = PlainProgress(Ui(), "updating", rows, projection=projection)
        seen: list[tuple[float, float | None]] = []
        async with client:
            projection.bind(client.forecast, lambda: rows - client.stats.requests)
            items = [(f"conn-{i:04d}", UPDATE) for i in range(rows)]
            async for result in client.iter_update_calendar_connections(items):
                assert result.ok
                bar.advance(True)
                if bar.done % 5 == 0 and bar.done < rows:
                    await projection.refresh()
                    bar.line()
                    seen.append((time.monotonic(), bar.last_eta))
        end = time.monotonic()
    assert len(seen) == rows // 5 - 1
    for at, told in seen:
        assert told is not None
        assert told >= (end - at) - 0.05, f"ETA {told:.3f}s with {end - at:.3f}s left"


def _answered(projection: Projection, clock: _Clock, end: float, latency: float) -> None:
    clock.now = end
    route = "/v4/calendar-connections/connections/{connection_id}"
    projection.on_event(AttemptEvent("PATCH", route, 200, None, latency, 1, None))


async def test_the_pace_set_against_a_projection_leaves_out_the_waits_for_the_limit() -> None:
    clock = _Clock()
    projection = Projection(clock)
    for end in (0.5, 0.6, 1.0):  # overlapping: out from 0.0 to 1.0
        _answered(projection, clock, end, 0.5 if end < 1 else 0.4)
    _answered(projection, clock, 61.0, 1.0)  # a minute's wait for the window, then 1 s out
    await projection.refresh()
    assert projection.busy_pace == pytest.approx(4 / 2.0)  # not 4 answers in 61 s
