"""Real runs against FakeMeetergo on 127.0.0.1, timed from the client's ``on_event`` hook.

This module never imports matplotlib: ``tests/test_pictures.py`` runs its collectors with
tiny numbers where no drawing library is installed; ``_draw`` turns a ``Run`` into a figure.
Each run is a settings class and an async function of it that returns the ``Run`` its
``Recorder`` (``_record``) kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from _record import Recorder, Run

from meetergo_async import (
    DEFAULT_MAX_CONCURRENCY,
    CalendarConnectionUpdate,
    MeetergoClient,
    SlidingWindow,
    UpdateRequest,
)
from meetergo_async.testing import FakeMeetergo, NestThrottler

HEALTH_LOGGER = "meetergo_async._health"
"""Where the client says an outage began (WARNING) and ended (INFO)."""


def updates(n: int) -> list[UpdateRequest]:
    """One update for each of the connections ``conn-0000`` to ``conn-<n-1>``."""
    update = CalendarConnectionUpdate(validate_availability=True)
    return [UpdateRequest(f"conn-{i:04d}", update) for i in range(n)]


def client_for(
    fake: FakeMeetergo,
    recorder: Recorder,
    *,
    rate_limit: SlidingWindow | None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> MeetergoClient:
    """A client of ``fake`` that reports to ``recorder``."""
    return MeetergoClient(
        fake.api_key,
        user_id=fake.user_id,
        base_url=fake.url,
        rate_limit=rate_limit,
        max_concurrency=max_concurrency,
        on_event=recorder,
    )


# -- a paced bulk run against the server's window ---------------------------------------------


@dataclass(frozen=True)
class Paced:
    """A bulk run of ``n`` updates, paced at the server's own ``limit`` per ``window`` s."""

    limit: int = 50
    window: float = 2.0
    n: int = 200
    latency: float = 0.01


async def paced_run(paced: Paced) -> Run:
    """Bulk-update ``n`` connections with ``SlidingWindow(limit, window)`` against the same
    ``NestThrottler``."""
    throttler = NestThrottler(paced.limit, paced.window)
    async with FakeMeetergo(generate=paced.n, rate_limit=throttler, latency=paced.latency) as fake:
        recorder = Recorder()
        window = SlidingWindow(paced.limit, paced.window)
        async with client_for(fake, recorder, rate_limit=window) as client:
            results = await client.update_calendar_connections(updates(paced.n))
            return recorder.run(results, client.stats.rate_limited)


# -- a bulk run through an outage -------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """A bulk run of ``n`` updates; ``down_at`` s in, the server stops for ``down_for`` s."""

    n: int = 300
    concurrency: int = 4
    latency: float = 0.02
    down_at: float = 0.5
    down_for: float = 3.0


async def outage_run(outage: Outage) -> Run:
    """Bulk-update ``n`` connections while the server stops and starts again on its port.

    Marks: ``down`` and ``up`` (the server), ``noticed`` and ``answered`` (the client's
    outage began and ended, from its log records).
    """
    async with FakeMeetergo(generate=outage.n, rate_limit=None, latency=outage.latency) as fake:
        recorder = Recorder()
        client = client_for(fake, recorder, rate_limit=None, max_concurrency=outage.concurrency)
        with _health_marks(recorder):
            async with client:
                restart = asyncio.create_task(_restart(fake, recorder, outage))
                results = await client.update_calendar_connections(updates(outage.n))
                await restart
                return recorder.run(results, client.stats.rate_limited)


async def _restart(fake: FakeMeetergo, recorder: Recorder, outage: Outage) -> None:
    await asyncio.sleep(outage.down_at)
    recorder.mark("down")
    await fake.close()
    await asyncio.sleep(outage.down_for)
    await fake.start()
    recorder.mark("up")


class _MarkHandler(logging.Handler):
    """Marks the client's own word on an outage: when it began and when it ended."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(logging.INFO)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.recorder.mark("noticed")
        elif record.getMessage().startswith("the service answers again"):
            self.recorder.mark("answered")


@contextlib.contextmanager
def _health_marks(recorder: Recorder) -> Iterator[None]:
    """Listen to the outage records of the client for the duration (INFO included)."""
    logger = logging.getLogger(HEALTH_LOGGER)
    handler = _MarkHandler(recorder)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# -- single calls while a bulk job fills the key ----------------------------------------------


@dataclass(frozen=True)
class Lanes:
    """A bulk run of ``n`` updates and, from ``start`` s in until it ends, a single call every
    ``every`` s, on one client paced at the server's own ``limit`` per ``window`` s."""

    limit: int = 20
    window: float = 2.0
    n: int = 60
    every: float = 0.5
    start: float = 0.5
    latency: float = 0.01


async def lanes_run(lanes: Lanes) -> Run:
    """Bulk-update ``n`` connections while single calls come, all with the defaults (no
    ``priority=``); attempts are tagged ``"bulk"`` and ``"single"``, each single call timed."""
    throttler = NestThrottler(lanes.limit, lanes.window)
    async with FakeMeetergo(generate=lanes.n, rate_limit=throttler, latency=lanes.latency) as fake:
        recorder = Recorder()
        window = SlidingWindow(lanes.limit, lanes.window)
        async with client_for(fake, recorder, rate_limit=window) as client:
            with recorder.lane("bulk"):
                bulk = asyncio.create_task(client.update_calendar_connections(updates(lanes.n)))
            await _singles(client, recorder, lanes, bulk)
            return recorder.run(await bulk, client.stats.rate_limited)


async def _singles(
    client: MeetergoClient, recorder: Recorder, lanes: Lanes, bulk: asyncio.Future[Any]
) -> None:
    """A single call every ``every`` s from ``start`` until ``bulk`` is done, each a task of
    its own (as people come, whether the one before got an answer or not); then their ends."""
    update = CalendarConnectionUpdate(validate_availability=False)
    tasks: list[asyncio.Task[None]] = []
    while True:
        due = lanes.start + len(tasks) * lanes.every
        await asyncio.wait([bulk], timeout=max(0.0, due - recorder.now()))
        if bulk.done():
            break
        call = client.update_calendar_connection(f"conn-{len(tasks) % lanes.n:04d}", update)
        tasks.append(asyncio.create_task(recorder.call(call, "single")))
    await asyncio.gather(*tasks)
