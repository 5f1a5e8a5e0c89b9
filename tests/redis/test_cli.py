"""``bulk --redis-url``: an operator's run shares the key's budget with the bots on Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import cli, creds

from ._server import RedisServer


def rows(path: Path, count: int) -> Path:
    lines = [
        json.dumps({"connectionId": f"conn-{i:04d}", "primaryCalendar": f"cal-{i}"})
        for i in range(count)
    ]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


async def budget_keys(server: RedisServer, *, clear: bool = False) -> list[bytes]:
    """The keys of budgets under the default prefix (deleted first with ``clear``)."""
    client = aioredis.from_url(server.url)
    try:
        if clear and (found := await client.keys("meetergo-async:*")):
            await client.delete(*found)
        return sorted(await client.keys("meetergo-async:*"))
    finally:
        await client.aclose()


@pytest.mark.parametrize("from_env", [False, True], ids=["option", "environment"])
async def test_bulk_paces_on_the_shared_budget(
    redis_server: RedisServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    from_env: bool,
) -> None:
    assert await budget_keys(redis_server, clear=True) == []
    async with FakeMeetergo(generate=5) as fake:
        if from_env:
            monkeypatch.setenv("MEETERGO_REDIS_URL", redis_server.url)
            where: list[str] = []
        else:
            where = ["--redis-url", redis_server.url]
        result = await cli(
            capsys, "bulk", str(rows(tmp_path / "in.jsonl", 5)), *creds(fake), *where
        )
        assert result.status == 0, result.err
        assert [c["primaryCalendar"] for c in fake.connections.values()] == [
            f"cal-{i}" for i in range(5)
        ]
    assert await budget_keys(redis_server)  # the run kept its budget there


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--redis-url", "not-a-url"], "--redis-url"),
        (["--redis-url", "redis://127.0.0.1:1/0", "--rate-per-minute", "0"], "--rate-per-minute 0"),
    ],
)
async def test_bad_redis_options_are_refused_before_sending(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    async with FakeMeetergo(generate=1) as fake:
        result = await cli(
            capsys, "bulk", str(rows(tmp_path / "in.jsonl", 1)), *creds(fake), *extra
        )
        assert fake.requests == []
    assert result.status == 2
    assert message in result.err
