"""The ``demo`` command, against its in-process FakeMeetergo."""

from __future__ import annotations

import re

import pytest

from tests.cli._helpers import cli


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--connections", "40", "--server-rate", "400", "--seed", "3"]
    result = await cli(capsys, "demo", *args, "--progress-every", "0.05")
    assert result.status == 0, result.err
    assert "40 updated, 0 failed; verified 40/40" in result.out
    assert "at most 800 requests in any 2 s (an overshoot blocks the key for 2 s)" in result.out
    assert "SlidingWindow(1600, 2): 2x the server's limit on purpose" in result.out
    assert "the client went from 800 to 400 req/s: the server's limit" in result.out
    # stderr is not a terminal here, as when the demo is piped: plain progress lines.
    assert re.search(r"^updating: \d+/40 \(\d+%\), \d+ ok, 0 failed; ", result.err, re.M)


async def test_demo_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--connections", "5", "--server-rate", "400", "--progress-every", "0.01", "--quiet"]
    result = await cli(capsys, "demo", *args)
    assert result.status == 0
    assert "verified 5/5" in result.out
    assert "updating" not in result.err
