"""What many tests share: credentials of the mocked API, injected time, a mocked client.

Plain code, imported by the tests that use it (fixtures live in ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

import aiohttp

from meetergo_async import MeetergoClient

API_KEY = "ak_live:2f1d6c1e-1111-4a4a-9c9c-000000000001:s3cr3t-test-key"
USER_ID = "user-0001"
BASE_URL = "https://api.test.invalid"


class ShimmedClientResponse(aiohttp.ClientResponse):
    """A ClientResponse that aioresponses 0.7.9 can build on aiohttp >= 3.14.

    aioresponses (the latest release) builds ClientResponse without the ``stream_writer``
    argument that aiohttp 3.14 made required (pnuckowski/aioresponses#289). We keep aiohttp
    >= 3.14 (a security release, GHSA-jg22-mg44-37j8) and fill the argument in; the
    ``mock_api`` fixture patches it in for its test only. Remove once aioresponses releases
    a fix. Bodies over 64 KiB (#292) are tested against a real local server instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


class _NoStreamWriter:
    """Stands in for the request's stream writer that aioresponses does not build."""

    output_size = 0


class FakeTime:
    """A clock and a sleep that advance together, so nothing waits for real.

    ``sleep`` records each wait, moves the clock forward and yields to the loop once.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def mocked_client(fake_time: FakeTime, **kwargs: Any) -> MeetergoClient:
    """A client of the mocked API on injected time, unpaced unless ``rate_limit`` is given."""
    kwargs.setdefault("rate_limit", None)
    return MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        base_url=BASE_URL,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        **kwargs,
    )


def base_kind(error: BaseException | None) -> type[BaseException] | None:
    """``ValueError`` or ``TypeError`` for an argument error (the SDK raises subclasses)."""
    for kind in (ValueError, TypeError):
        if isinstance(error, kind):
            return kind
    return None if error is None else type(error)


class VirtualTime:
    """A fake clock for many concurrent sleepers: time jumps to the earliest wake-up.

    ``FakeTime`` adds every sleep to the clock, which is right for one sleeper at a time;
    with several, their sleeps would add up. Here a sleep waits until the clock reaches its
    end, and the sleeper whose end is the earliest moves the clock there once nothing has
    changed for ``settle`` real steps of ``real_step`` seconds: no sleep began or ended, so
    what woke last has had the time to make its request on the loopback and to sleep again.
    (Without that pause a sleeper that woke and sends a request has no sleep of its own
    while the request is out, and the clock would jump past when it means to wake next.)
    ``on_tick`` runs each time the clock moves (a test can restart a server at a given time).
    """

    def __init__(self, start: float = 0.0, real_step: float = 0.002, settle: int = 2) -> None:
        self.now = start
        self.real_step = real_step
        self.settle = settle
        self.on_tick: Any = None
        self._ends: list[float] = []
        self._changes = 0  # sleeps begun or ended

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        end = self.now + max(0.0, seconds)
        bisect.insort(self._ends, end)
        self._changes += 1
        try:
            quiet = 0
            seen = -1
            while self.now < end:
                await asyncio.sleep(self.real_step)
                earliest = self._ends[0] >= end and self.now < end
                quiet = quiet + 1 if earliest and seen == self._changes else 0
                seen = self._changes
                if quiet >= self.settle:
                    self.now = end
                    if self.on_tick is not None:
                        await self.on_tick(self.now)
        finally:
            self._ends.remove(end)
            self._changes += 1
