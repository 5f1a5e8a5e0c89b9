"""``bulk --dry-run`` as users start it: a real process against the fake, which must see nothing.

The fake answers from this event loop, so the command runs with ``create_subprocess_exec``
(as in ``test_subprocess``) and the test reads what the fake recorded afterwards.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, SlidingWindow
from meetergo_async.redis import RedisBudget
from meetergo_async.testing import DEFAULT_USER_ID, FakeMeetergo
from tests.cli._helpers import (
    COMMAND,
    Result,
    cli,
    conn_ids,
    creds,
    patches,
    read_jsonl,
    subprocess_env,
    updates,
    write_jsonl,
)
from tests.redis._server import RedisServer

OTHER_USER = "3c9f1e2a-7b4d-4f60-8a1e-5d2c9b7e4f10"
BAD_ROWS = (
    '{"connectionId": "conn-0001", "primaryCalendar": "w"}\n'
    '{"connectionId": "conn-0002", "validateAvailability": "no"}\n'
    "\n"
    '{"connectionId": "conn-0003" "primaryCalendar": "w"}\n'
    '{"connectionId": "conn-0001", "asUser": "' + OTHER_USER + '", "primaryCalendar": "x"}\n'
)


async def _dry_run(fake: FakeMeetergo, *args: str) -> Result:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "bulk",
        *args,
        "--dry-run",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(fake),
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    assert fake.api_key not in (out + err).decode()
    return Result(process.returncode, out.decode(), err.decode())


async def test_a_valid_file_is_counted_and_nothing_is_sent(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(150)))
    async with FakeMeetergo(generate=3) as fake:
        done = await _dry_run(fake, str(source))
        assert fake.requests == []
    assert done.status == 0, done.err
    assert done.err == ""
    lines = done.out.splitlines()
    assert lines[0] == f"bulk: dry run of {source}: nothing sent"
    assert "  rows       150: 150 valid, 0 malformed" in lines
    assert f"  users      1 acting user(s): {fake.user_id}" in lines
    # 100 go now, the 150th once the 50th of those stops counting, a window on.
    assert re.search(r"  duration   1m01s until the last of 150 requests may go, at 100 ", done.out)
    assert "repeated" not in done.out


async def test_a_malformed_file_gets_the_lines_and_messages_of_a_real_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(BAD_ROWS)
    async with FakeMeetergo(generate=3, rate_limit=None) as fake:
        done = await _dry_run(fake, str(source))
        assert fake.requests == []
        real = await cli(capsys, "bulk", str(source), "--quiet", *creds(fake))
    assert done.status == 2
    assert done.err == f"bulk: {source}: 2 malformed lines\n"
    told = [line.split("  ", 2)[-1].strip() for line in done.out.splitlines() if " line " in line]
    assert told == [
        'line 2: validateAvailability must be true or false, got "no"',
        "line 4: not valid JSON (Expecting ',' delimiter at column 30)",
    ]
    malformed = [line for line in real.err.splitlines() if re.match(r"line \d+: ", line)]
    assert told == malformed  # the same words a real run prints
    assert "  rows       4: 2 valid, 2 malformed" in done.out


async def test_json_names_the_repeated_ids_and_the_acting_users(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(BAD_ROWS)
    async with FakeMeetergo(generate=3) as fake:
        done = await _dry_run(fake, str(source), "--json")
        text = await _dry_run(fake, str(source))
        assert fake.requests == []
    plan = json.loads(done.out)
    assert plan["repeated"] == {"conn-0001": 2}
    assert plan["actingUsers"] == [fake.user_id, OTHER_USER]
    assert [m["line"] for m in plan["malformed"]] == [2, 4]
    assert plan | {"malformed": [], "projectedSeconds": 0} == {
        "file": str(source),
        "rows": 4,
        "valid": 2,
        "malformed": [],
        "repeated": {"conn-0001": 2},
        "actingUsers": [fake.user_id, OTHER_USER],
        "requests": 2,
        "projectedSeconds": 0,
        "budget": "100 requests in any 60 s",
        "sent": 0,
    }
    assert "  repeated   1 connection id(s) on more than one row (2 rows): conn-0001" in text.out
    assert f"  users      2 acting user(s): {fake.user_id}, {OTHER_USER}" in text.out


async def test_the_plan_report_is_never_taken_for_done_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(BAD_ROWS)
    plan = tmp_path / "plan.jsonl"
    users = (DEFAULT_USER_ID, OTHER_USER)
    async with FakeMeetergo(generate=4, rate_limit=None, user_ids=users) as fake:
        done = await _dry_run(fake, str(source), "--report", str(plan))
        assert fake.requests == []
        rows = read_jsonl(plan)
        resumed = await cli(
            capsys, "bulk", str(source), "--resume", str(plan), "--quiet", *creds(fake)
        )
        sent = [p["primaryCalendar"] for p in patches(fake)]
    assert done.status == 2
    assert [(r["line"], r["outcome"], r["ok"], r["attempts"]) for r in rows] == [
        (1, "planned", False, 0),
        (2, "malformed", False, 0),
        (4, "malformed", False, 0),
        (5, "planned", False, 0),
    ]
    assert rows[1]["error"] == 'validateAvailability must be true or false, got "no"'
    assert resumed.status == 1  # the malformed rows fail as they would have
    assert sent == ["w", "x"]  # every valid row sent: the plan recorded none ok
    assert [r["outcome"] for r in read_jsonl(plan)[4:]] == ["ok", "failed", "failed", "ok"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume", "r.jsonl"], "--dry-run plans a fresh run"),
        (["--failed", "f.txt"], "--dry-run plans a fresh run"),
    ],
)
async def test_a_dry_run_refuses_what_only_a_real_run_does(
    tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(2)))
    async with FakeMeetergo(generate=2) as fake:
        done = await _dry_run(fake, str(source), *args)
    assert done.status == 2
    assert message in done.err


async def test_json_goes_only_with_a_dry_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(2)))
    async with FakeMeetergo(generate=2) as fake:
        done = await cli(capsys, "bulk", str(source), "--json", *creds(fake))
        assert fake.requests == []
    assert done.status == 2
    assert "--json prints a dry run's plan" in done.err


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.stop()


async def test_with_redis_the_projection_is_the_shared_budgets(
    tmp_path: Path, redis_url: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(10)))
    async with FakeMeetergo(generate=90, rate_limit=None) as fake:
        # Another client of the key takes 95 of its 100 in the window first.
        other = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=RedisBudget(redis_url, SlidingWindow(100, 60.0)),
        )
        update = CalendarConnectionUpdate(primary_calendar="w")
        async with other:
            results = await other.update_calendar_connections(
                [(i, update) for i in conn_ids(90)] + [("conn-0000", update)] * 5
            )
        assert all(result.ok for result in results)
        seen = len(fake.requests)
        shared = await _dry_run(fake, str(source), "--json", "--redis-url", redis_url)
        alone = await _dry_run(fake, str(source), "--json")
        assert len(fake.requests) == seen
    assert shared.status == 0, shared.err
    plan = json.loads(shared.out)
    assert plan["budget"] == "100 requests in any 60 s, the key's budget shared through Redis"
    assert 55 < plan["projectedSeconds"] <= 61  # five now, the rest as the others' expire
    assert json.loads(alone.out)["projectedSeconds"] == 0.0  # this process alone: all now
