"""The ``sandbox`` command, served in-process until cancelled."""

from __future__ import annotations

import asyncio

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
    assert "must not exceed 1" in result.err
