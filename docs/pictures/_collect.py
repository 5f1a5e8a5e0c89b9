"""Real runs against FakeMeetergo on 127.0.0.1, timed from the client's ``on_event`` hook.

This module never imports matplotlib: ``tests/test_pictures.py`` runs its collectors with
tiny numbers where no drawing library is installed; ``_draw`` turns a ``Run`` into a figure.

A ``Recorder`` is the client's ``on_event`` hook: it keeps each attempt with the times it was
sent and answered (seconds from the run's start, by the client's own clock) and the named
moments of the run (``mark``). Attempts carry the lane they were sent in: a run with two
kinds of work (single calls and a bulk job on one key, say) tags each with
``with recorder.lane("single"):`` around the code that starts it, and the tag follows the
calls into the tasks they start (a context variable).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from meetergo_async import (
    DEFAULT_MAX_CONCURRENCY,
    AttemptEvent,
    CalendarConnectionUpdate,
    MeetergoClient,
    SlidingWindow,
    UpdateRequest,
    UpdateResult,
    WaitEvent,
)
from meetergo_async.testing import FakeMeetergo, NestThrottler

_LANE: contextvars.ContextVar[str] = contextvars.ContextVar("picture_lane", default="")
HEALTH_LOGGER = "meetergo_async._health"
"""Where the client says an outage began (WARNING) and ended (INFO)."""


@dataclass(frozen=True)
class Attempt:
    """One request the client sent: when, how it ended, in which lane."""

    sent: float
    answered: float
    status: int | None
    error: str | None
    lane: str = ""

    @property
    def ok(self) -> bool:
        """Whether the server answered with a success."""
        return self.status is not None and self.status < 400


@dataclass(frozen=True)
class Run:
    """What a picture draws: every attempt, the named moments, how the items ended."""

    attempts: tuple[Attempt, ...]
    marks: dict[str, float]
    succeeded: int
    failed: int
    refused: int
    """Answers of 429, as ``client.stats.rate_limited`` counts them."""
    seconds: float


@dataclass
class Recorder:
    """An ``on_event`` hook that times every attempt from the moment it was made."""

    clock: Callable[[], float] = time.monotonic
    attempts: list[Attempt] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def now(self) -> float:
        """Seconds since the recorder was made."""
        return self.clock() - self.start

    def __call__(self, event: AttemptEvent | WaitEvent) -> None:
        if isinstance(event, AttemptEvent):
            answered = self.now()
            sent = answered - event.latency
            self.attempts.append(Attempt(sent, answered, event.status, event.error, _LANE.get()))

    def mark(self, name: str) -> None:
        """Name this moment of the run (the first time only)."""
        self.marks.setdefault(name, self.now())

    @contextlib.contextmanager
    def lane(self, name: str) -> Iterator[None]:
        """Tag the attempts of the calls started inside with ``name``."""
        token = _LANE.set(name)
        try:
            yield
        finally:
            _LANE.reset(token)

    def run(self, results: list[UpdateResult], refused: int) -> Run:
        """The run so far, with how its bulk items ended."""
        succeeded = sum(result.ok for result in results)
        attempts = tuple(sorted(self.attempts, key=lambda a: a.sent))
        return Run(
            attempts, dict(self.marks), succeeded, len(results) - succeeded, refused, self.now()
        )


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
