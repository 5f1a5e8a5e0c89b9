"""The ``sandbox`` command, served in-process until cancelled."""

from __future__ import annotations

import asyncio
from asyncio import Task
from typing import Any

import aiohttp
import pytest

from meetergo_async import MeetergoClient
from meetergo_async.cli import run_async
from tests.cli._helpers import cli


async def test_sandbox_serves_until_cancelled(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(run_async(["sandbox", "--port", "0", "--connections", "2"]))
    out = ""
    while "MEETERGO_USER_ID" not in out:
        await asyncio.sleep(0.01)
        assert not task.done()
        out += capsys.readouterr().out
    exports = dict(
        line.removeprefix("  export ").split("=", 1)
        for line in out.splitlines()
        if "export" in line
    )
    async with MeetergoClient(
        api_key=exports["MEETERGO_API_KEY"],
        user_id=exports["MEETERGO_USER_ID"],
        base_url=exports["MEETERGO_BASE_URL"],
    ) as client:
        assert [c.id for c in await client.list_calendar_connections()] == [
            "conn-0000",
            "conn-0001",
        ]
    task.cancel()
    assert await task == 0
    assert "sandbox stopped after 1 requests (1 x 200)" in capsys.readouterr().err


async def test_sandbox_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "sandbox", "--port", "0", "--fail-rate", "0.8", "--drop-rate", "0.4")
    assert result.status == 2
    assert "--fail-rate and --drop-rate must not add up to more than 1" in result.err


async def _serving(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Task[Any], str]:
    task = asyncio.create_task(run_async(["sandbox", "--port", "0", *args]))
    out = ""
    while "MEETERGO_USER_ID" not in out:
        await asyncio.sleep(0.01)
        assert not task.done()
        out += capsys.readouterr().out
    return task, out


def _exports(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if "export" in line]
    return dict(line.removeprefix("  export ").split("=", 1) for line in lines)


@pytest.mark.parametrize(
    ("args", "banner"),
    [
        ([], "2 requests in any 60 s (an overshoot blocks for 60 s)"),
        (["--block-seconds", "0"], "2 requests in any 60 s (an overshoot blocks for 0 s)"),
    ],
)
async def test_sandbox_counts_as_meetergo_does(
    capsys: pytest.CaptureFixture[str], args: list[str], banner: str
) -> None:
    task, out = await _serving(capsys, "--rate-per-minute", "2", *args)
    assert banner in out
    exports = _exports(out)
    headers = {
        "Authorization": f"Bearer {exports['MEETERGO_API_KEY']}",
        "x-meetergo-api-user-id": exports["MEETERGO_USER_ID"],
    }
    url = f"{exports['MEETERGO_BASE_URL']}/v4/calendar-connections/connections"
    answers = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(3):
            async with session.get(url) as response:
                answers.append((response.status, response.headers.get("X-RateLimit-Limit")))
    task.cancel()
    assert await task == 0
    # NestJS's throttler: a sliding log, with X-RateLimit-* on what it allows and not on a 429.
    assert answers == [(200, "2"), (200, "2"), (429, None)]


async def test_sandbox_rate_0_is_no_limit(capsys: pytest.CaptureFixture[str]) -> None:
    task, out = await _serving(capsys, "--rate-per-minute", "0")
    task.cancel()
    assert await task == 0
    assert "10 connections, no rate limit" in out
