"""``bulk`` in a real process, stopped by real signals, resumed; progress lines in a log.

The FakeMeetergo runs in this test's event loop on 127.0.0.1; the command line runs in a
subprocess pointed at it, as an operator runs it. These tests take real (short) time: the
subject is how a process behaves when signalled while requests are in flight.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import sys
from pathlib import Path

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import COMMAND, conn_ids, read_jsonl, subprocess_env, updates, write_jsonl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ROWS = 3000


async def _start(fake: FakeMeetergo, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=subprocess_env(fake),
    )


async def _finish(process: asyncio.subprocess.Process, timeout: float = 30) -> tuple[str, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert "Traceback" not in err.decode(), err.decode()
    return out.decode(), err.decode()


async def _applied_at_least(fake: FakeMeetergo, count: int) -> None:
    while fake.update_counts.total() < count:  # noqa: ASYNC110 - the fake offers no event
        await asyncio.sleep(0.005)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
async def test_a_stopped_run_reports_every_row_read_and_resumes(
    tmp_path: Path, stop: signal.Signals
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(ROWS)))
    report = tmp_path / "report.jsonl"
    fast = ["--rate-per-minute", "0", "--concurrency", "32", "--quiet"]
    async with FakeMeetergo(generate=ROWS, rate_limit=None, latency=0.005) as fake:
        process = await _start(fake, "bulk", str(source), "--report", str(report), *fast)
        await asyncio.wait_for(_applied_at_least(fake, 200), 20)
        process.send_signal(stop)
        out, err = await _finish(process)
        assert process.returncode == 128 + stop, err
        await asyncio.sleep(0.05)  # a request cut off in the server's latency lands now

        rows = read_jsonl(report)
        read = int(re.search(r"of (\d+) updated", out).group(1))  # type: ignore[union-attr]
        unread = int(re.search(r"(\d+) rows not read", out).group(1))  # type: ignore[union-attr]
        assert read + unread == ROWS
        assert 0 < read < ROWS
        assert [row["line"] for row in rows] == list(range(1, read + 1))  # once each, in order
        sent = {row["connectionId"] for row in rows if row["outcome"] in ("ok", "interrupted")}
        ok = {row["connectionId"] for row in rows if row["outcome"] == "ok"}
        assert {row["outcome"] for row in rows} <= {"ok", "interrupted"}
        assert set(fake.update_counts) <= sent
        assert ok <= set(fake.update_counts)
        assert f"stopped by {stop.name}" in out
        assert f"{stop.name}: stopping" in err

        resume = shlex.split(out.splitlines()[-1])
        assert resume[:3] == ["meetergo-async", "bulk", str(source)]
        assert resume[-2:] == ["--resume", str(report)]
        before = len(fake.requests)
        process = await _start(fake, *resume[1:])
        out, err = await _finish(process)
        assert process.returncode == 0, err
        again = [r.connection_id for r in fake.requests[before:] if r.method == "PATCH"]
        assert not ok & set(again)  # no row recorded ok was sent again
        assert len(fake.update_counts) == ROWS  # every row was applied
        assert f"{len(ok)} rows recorded ok not sent again" in out

        final = read_jsonl(report)
        assert final[: len(rows)] == rows  # appended, the earlier rows untouched
        assert {row["line"] for row in final if row["ok"]} == set(range(1, ROWS + 1))


async def _stuck_run(tmp_path: Path, fake: FakeMeetergo, *args: str) -> asyncio.subprocess.Process:
    """Start a run whose 4 requests in flight take 1 s each, and wait until all were sent."""
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(20)))
    report = str(tmp_path / "report.jsonl")
    options = ["--report", report, "--rate-per-minute", "0", "--concurrency", "4", *args]
    process = await _start(fake, "bulk", str(source), *options)
    while len(fake.requests) < 4:  # noqa: ASYNC110 - the fake offers no event for it
        await asyncio.sleep(0.005)
    return process


async def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    async with FakeMeetergo(generate=20, rate_limit=None, latency=1, shutdown_timeout=0) as fake:
        process = await _stuck_run(tmp_path, fake, "--grace", "60")
        process.send_signal(signal.SIGINT)
        with pytest.raises(TimeoutError):  # the grace period holds the run
            await asyncio.wait_for(asyncio.shield(process.wait()), 0.3)
        process.send_signal(signal.SIGINT)
        out, _ = await _finish(process, timeout=5)
    assert process.returncode == 130
    rows = read_jsonl(tmp_path / "report.jsonl")
    assert [(row["line"], row["outcome"]) for row in rows] == [
        (line, "interrupted") for line in range(1, 5)
    ]
    assert "bulk: 0 of 4 updated, 0 failed, 4 interrupted" in out
    assert "16 rows not read" in out


async def test_the_grace_period_ends_with_the_rest_interrupted(tmp_path: Path) -> None:
    async with FakeMeetergo(generate=20, rate_limit=None, latency=1, shutdown_timeout=0) as fake:
        process = await _stuck_run(tmp_path, fake, "--grace", "0.2")
        process.send_signal(signal.SIGTERM)
        out, err = await _finish(process, timeout=5)
    assert process.returncode == 143
    assert "the 4 in flight get up to 0.2s to finish" in err
    outcomes = [row["outcome"] for row in read_jsonl(tmp_path / "report.jsonl")]
    assert outcomes == ["interrupted"] * 4
    assert "stopped by SIGTERM; 16 rows not read. To resume:" in out


async def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(conn_ids(44)))
    options = ["--rate-per-minute", "0", "--concurrency", "1", "--progress-every", "1"]
    async with FakeMeetergo(generate=44, rate_limit=None, latency=0.05) as fake:
        process = await _start(fake, "bulk", str(source), *options)
        out, err = await _finish(process)
    assert process.returncode == 0, err
    pattern = r"updating: \d+/44 \(\d+%\), \d+ ok, 0 failed; \d+/min now; ETA \d+s"
    lines = [line for line in err.splitlines() if re.fullmatch(pattern, line)]
    assert len(lines) >= 2, err
    assert out.startswith("bulk: 44 of 44 updated")
