"""``bulk`` stopped in order, in-process: the stop is asked for as a signal handler would."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import shlex
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from meetergo_async.cli import _interrupts
from meetergo_async.cli.bulk import _command as bulk
from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import Result, cli, conn_ids, creds, read_jsonl, updates, write_jsonl

ROWS = 40


class _Asked(_interrupts.Interrupts):
    """Interrupts that install no handler: the test calls ``receive`` itself."""

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        yield


@pytest.fixture
async def slow() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=ROWS, rate_limit=None, latency=0.05) as server:
        yield server


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[_Asked]:
    made: list[_Asked] = []

    def make() -> _Asked:
        made.append(_Asked())
        return made[-1]

    monkeypatch.setattr(bulk, "Interrupts", make)
    return made


def _input(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(ROWS)))


async def _stopped(
    capsys: pytest.CaptureFixture[str],
    fake: FakeMeetergo,
    asked: list[_Asked],
    args: list[str],
    signals: tuple[signal.Signals, ...] = (signal.SIGINT,),
) -> Result:
    """Run bulk; once 8 requests were sent, deliver ``signals``."""

    async def stop() -> None:
        while len(fake.requests) < 8:  # noqa: ASYNC110 - the fake offers no event for it
            await asyncio.sleep(0.002)
        for signum in signals:
            asked[0].receive(signum)

    stopper = asyncio.create_task(stop())
    result = await cli(capsys, "bulk", *args, *creds(fake), "--concurrency", "4")
    await stopper
    return result


async def test_a_stop_lets_the_rows_in_flight_finish(
    slow: FakeMeetergo, asked: list[_Asked], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, report = _input(tmp_path), tmp_path / "report.jsonl"
    result = await _stopped(capsys, slow, asked, [str(source), "--report", str(report)])
    assert result.status == 130
    rows = read_jsonl(report)
    assert {row["outcome"] for row in rows} == {"ok"}  # the grace let every one finish
    assert [row["line"] for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == len(slow.requests) < ROWS
    lines = result.out.splitlines()
    assert lines[0].startswith(f"bulk: {len(rows)} of {len(rows)} updated, 0 failed in ")
    assert lines[1] == f"bulk: stopped by SIGINT; {ROWS - len(rows)} rows not read. To resume:"
    command = shlex.split(lines[2])
    assert command[:3] == ["meetergo-async", "bulk", str(source)]
    assert command[-2:] == ["--resume", str(report)]
    assert "--api-key" not in command
    assert {"--user-id", "--base-url", "--concurrency"} <= set(command)
    assert (
        lines[3] == "  (with --api-key KEY added, or MEETERGO_API_KEY set: a key is never printed)"
    )
    stopping = r"SIGINT: stopping; no more rows are read, the \d in flight get up to 10s"
    assert re.search(stopping, result.err)


async def test_a_second_stop_interrupts_the_rows_in_flight(
    slow: FakeMeetergo, asked: list[_Asked], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, report = _input(tmp_path), tmp_path / "report.jsonl"
    failed = tmp_path / "failed.jsonl"
    args = [str(source), "--report", str(report), "--failed", str(failed)]
    twice = (signal.SIGTERM, signal.SIGTERM)
    result = await _stopped(capsys, slow, asked, args, twice)
    assert result.status == 143
    rows = read_jsonl(report)
    interrupted = [row for row in rows if row["outcome"] == "interrupted"]
    assert len(interrupted) == 4
    assert interrupted[0]["error"] == (
        "stopped by SIGTERM before an answer came: it may have been applied"
    )
    assert interrupted[0]["attempts"] is None
    assert interrupted[0]["status"] is None
    assert "4 interrupted in" in result.out
    kept = [json.loads(line)["connectionId"] for line in failed.read_text().splitlines()]
    assert kept == [row["connectionId"] for row in interrupted]


async def test_a_stopped_run_without_report_says_it_cannot_resume(
    slow: FakeMeetergo, asked: list[_Asked], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = await _stopped(capsys, slow, asked, [str(_input(tmp_path))])
    assert result.status == 130
    assert "No --report was given, so this run cannot be resumed" in result.out
    assert "To resume" not in result.out


async def test_a_stopped_run_from_stdin(
    slow: FakeMeetergo,
    asked: list[_Asked],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(_input(tmp_path).read_text()))
    report = tmp_path / "report.jsonl"
    result = await _stopped(capsys, slow, asked, ["-", "--report", str(report)])
    assert result.status == 130
    assert "the rows after them were not read. To resume:" in result.out
    assert "  (with the same input on stdin)" in result.out.splitlines()
