"""The ``demo`` command, against its in-process FakeMeetergo."""

from __future__ import annotations

import re

import pytest

from meetergo_async.cli.demo import rate_lines
from tests.cli._helpers import cli


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--connections", "40", "--server-rate", "400", "--seed", "3"]
    result = await cli(capsys, "demo", *args, "--progress-every", "0.05")
    assert result.status == 0, result.err
    assert "40 updated, 0 failed; verified 40/40" in result.out
    assert "at most 800 requests in any 2 s (an overshoot blocks the key for 2 s)" in result.out
    assert "SlidingWindow(1600, 2): 2x the server's limit on purpose" in result.out
    assert "the client went from 800 to 400 req/s: the server's limit" in result.out
    assert re.search(r"^  rate      the server let through \d+ requests, ", result.out, re.M)
    assert re.search(r"^  ceiling   its sliding log allows at most \d+ in ", result.out, re.M)
    # stderr is not a terminal here, as when the demo is piped: plain progress lines.
    assert re.search(r"^updating: \d+/40 \(\d+%\), \d+ ok, 0 failed; ", result.err, re.M)


async def test_demo_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--connections", "5", "--server-rate", "400", "--progress-every", "0.01", "--quiet"]
    result = await cli(capsys, "demo", *args)
    assert result.status == 0
    assert "verified 5/5" in result.out
    assert "updating" not in result.err


@pytest.mark.parametrize(
    ("let_through", "elapsed", "limit", "rate", "ceiling"),
    [
        # The default demo: 24.6 of a steady 25 req/s is 98%; the ceiling of 7 windows
        # (a full burst at 0 s, then one every 2 s) is 350, of which 303 is 87%.
        (
            303,
            12.34,
            50,
            "303 requests, 24.6 req/s over the run: 98% of its steady limit, 25 req/s "
            "(50 in any 2 s)",
            "at most 350 in 12.3s (50 at once at the start, 50 more every 2 s): 87% of that",
        ),
        # A run within its first window: the whole burst at once is the ceiling, and twice
        # the steady rate.
        (
            50,
            1.0,
            50,
            "50 requests, 50.0 req/s over the run: 200% of its steady limit, 25 req/s "
            "(50 in any 2 s)",
            "at most 50 in 1.0s (50 at once at the start, 50 more every 2 s): 100% of that",
        ),
    ],
)
def test_the_demo_says_what_each_rate_is_measured_against(
    let_through: int, elapsed: float, limit: int, rate: str, ceiling: str
) -> None:
    rate_line, ceiling_line = rate_lines(let_through, elapsed, limit)
    assert rate_line == f"  rate      the server let through {rate}"
    assert ceiling_line == f"  ceiling   its sliding log allows {ceiling} was used"
