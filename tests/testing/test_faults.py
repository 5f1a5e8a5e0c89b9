"""Tests of what a test makes FakeMeetergo answer: seeded faults and scripted answers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import DROPPED, FakeMeetergo
from tests.testing._client import LIST, get_list, item_url, patch

# -- faults ----------------------------------------------------------------------------------


async def statuses_with_faults(session: aiohttp.ClientSession, **options: Any) -> list[int]:
    async with FakeMeetergo(rate_limit=None, fail_rate=0.5, **options) as fake:
        return [(await get_list(session, fake)).status for _ in range(24)]


async def test_fail_rate_is_reproducible_from_the_seed(session: aiohttp.ClientSession) -> None:
    first = await statuses_with_faults(session, seed=7)
    again = await statuses_with_faults(session, seed=7)
    other = await statuses_with_faults(session, seed=8)

    assert first == again
    assert first != other
    assert set(first) - {200} <= {500, 502, 503, 504}
    assert 200 in first
    assert len(set(first)) > 2


async def test_fail_rate_answers_meetergo_error_bodies(session: aiohttp.ClientSession) -> None:
    async with (
        FakeMeetergo(fail_rate=1.0, fail_statuses=[503]) as fake,
        session.get(fake.url + LIST) as response,
    ):
        body = await response.json()

    assert response.status == 503
    assert body == {
        "statusCode": 503,
        "message": "Service Unavailable",
        "error": "Service Unavailable",
    }


async def test_drop_before_leaves_the_connection_alone(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    async with FakeMeetergo(generate=1, drop_before_rate=1.0) as fake:
        with pytest.raises(aiohttp.ClientConnectionError):
            await patch(session, fake, "conn-0000", {"validateAvailability": False})

        assert fake.update_counts["conn-0000"] == 0
        assert fake.connections["conn-0000"]["validateAvailability"] is True
        assert fake.status_counts == {DROPPED: 1}
        assert fake.requests[-1].status == DROPPED
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_drop_after_applies_the_update(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(generate=1, drop_after_rate=1.0) as fake:
        with pytest.raises(aiohttp.ClientConnectionError):
            await patch(session, fake, "conn-0000", {"validateAvailability": False})

        assert fake.update_counts["conn-0000"] == 1
        assert fake.connections["conn-0000"]["validateAvailability"] is False
        assert fake.status_counts[DROPPED] == 1


async def test_latency_delays_each_answer(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(latency=0.01) as fake:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await get_list(session, fake)
        assert loop.time() - started >= 0.01


# -- scripted answers ------------------------------------------------------------------------


async def test_enqueued_answers_come_first_in_order(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    path = f"{LIST}/conn-0001"
    fake.enqueue("PATCH", path, 503)
    fake.enqueue("PATCH", path, 429, headers={"Retry-After": "3"}, body="slow down")
    fake.enqueue("*", "*", 200, json={"scripted": True})
    assert fake.pending_scripts == 3

    url = item_url(fake, "conn-0001")
    answers = []
    for _ in range(4):  # no credentials: scripts are answered before authentication
        async with session.patch(url, json={}) as response:
            answers.append((response.status, await response.read(), response.headers))

    assert answers[0][:2] == (
        503,
        b'{"statusCode":503,"message":"Service Unavailable","error":"Service Unavailable"}',
    )
    assert answers[1][:2] == (429, b"slow down")
    assert answers[1][2]["Retry-After"] == "3"
    assert answers[2][:2] == (200, b'{"scripted":true}')
    assert answers[3][0] == 401
    assert fake.pending_scripts == 0
    assert fake.update_counts["conn-0001"] == 0


async def test_enqueued_script_only_answers_its_route(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    fake.enqueue("PATCH", f"{LIST}/a/b", drop=True)

    assert (await get_list(session, fake)).status == 200
    assert (await patch(session, fake, "conn-0001", {}))[0] == 200
    with pytest.raises(aiohttp.ClientConnectionError):
        await patch(session, fake, "a/b", {})
    assert fake.status_counts == {200: 2, DROPPED: 1}


def test_enqueue_refuses_json_and_body_together(fake: FakeMeetergo) -> None:
    with pytest.raises(ValueError, match="not both"):
        fake.enqueue("GET", LIST, json={}, body="x")
