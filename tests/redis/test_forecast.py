"""A forecast on the shared budget: what the key's log holds, read from Redis, nothing sent."""

from __future__ import annotations

import asyncio

import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow
from meetergo_async.pacing._log import EXPIRY_MARGIN
from meetergo_async.redis import RedisBudget
from meetergo_async.redis._script import forecast_from
from meetergo_async.testing import MockTransport, Request, Response, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID

from ._server import RedisServer

WINDOW = 2.0
UPDATE = CalendarConnectionUpdate(validate_availability=True)


def echo(request: Request) -> Response:
    return json_response({"id": request.url.name})


def client(budget: RedisBudget, sent: list[Request]) -> MeetergoClient:
    def record(request: Request) -> Response:
        sent.append(request)
        return echo(request)

    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        transport=MockTransport(record),
        rate_limit=budget,
    )


async def test_every_client_of_the_key_sees_the_budget_as_it_stands(
    redis_server: RedisServer, prefix: str
) -> None:
    budget = RedisBudget(redis_server.url, SlidingWindow(3, WINDOW), prefix=prefix)
    sent: list[Request] = []
    async with client(budget, sent) as first, client(budget, sent) as other:
        assert await other.forecast(3) == 0.0  # an empty log: the whole limit now
        later = await other.forecast(4)
        assert later is not None
        assert later == pytest.approx(WINDOW + EXPIRY_MARGIN, abs=0.01)
        await first.update_calendar_connections([(f"c{i}", UPDATE) for i in range(3)])
        wait = await other.forecast(1)  # the first's requests, seen from another process
        assert wait is not None
        assert WINDOW - 0.5 < wait <= WINDOW + EXPIRY_MARGIN + 0.01
        assert len(sent) == 3


def test_a_block_is_no_forecast_and_entries_in_flight_count_a_window_from_now() -> None:
    assert forecast_from([1000, 3, 0, 1], WINDOW, 1) is None
    # Limit 3; one entry stops counting at 1.5 s, one is in flight (scored far ahead).
    found = forecast_from([1000, 3, 0, 0, 1500, 999_999], WINDOW, 2)
    assert found == pytest.approx(0.5)  # the free slot, then the first entry's
    found = forecast_from([1000, 3, 0, 0, 1500, 999_999], WINDOW, 3)
    assert found == pytest.approx(WINDOW + EXPIRY_MARGIN)  # the one in flight, answered now
    assert forecast_from([1000, 3, 4000, 0], WINDOW, 1) == pytest.approx(3.0)  # paused


async def test_an_unexpected_failure_of_the_pump_leaves_no_call_waiting(
    redis_server: RedisServer, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from meetergo_async.redis._pump import Pump

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Pump, "_run_script", broken)
    budget = RedisBudget(redis_server.url, SlidingWindow(3, WINDOW), prefix=prefix)
    sent: list[Request] = []
    async with client(budget, sent) as c, asyncio.timeout(5):
        await c.update_calendar_connection("c1", UPDATE)  # paced locally, not stuck
    assert len(sent) == 1
