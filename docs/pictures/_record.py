"""What a picture's run records: the client's ``on_event`` hook and the records it keeps.

A ``Recorder`` is the client's ``on_event`` hook: it keeps each attempt with the times it was
sent and answered (seconds from the run's start, by the client's own clock), each wait the
client reported, and the named moments of the run (``mark``). Attempts and waits carry the
lane they were sent in: a run with two kinds of work (single calls and a bulk job on one
key, say) tags each with ``with recorder.lane("single"):`` around the code that starts it,
and the tag follows the calls into the tasks they start (a context variable).
``await recorder.call(work, lane)`` also times one call from the moment it is made: when
its first attempt went, and the waits it reported.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from meetergo_async import AttemptEvent, UpdateResult, WaitEvent

_LANE: contextvars.ContextVar[str] = contextvars.ContextVar("picture_lane", default="")
_CALL: contextvars.ContextVar[list[Attempt | Wait] | None] = contextvars.ContextVar(
    "picture_call", default=None
)


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
class Wait:
    """A wait the client reported (a ``WaitEvent``): when it ended, why, in which lane."""

    ended: float
    seconds: float
    reason: str
    priority: str
    """The client's lane, as ``WaitEvent.priority`` says."""
    lane: str = ""
    """The recorder's tag, as for an ``Attempt``."""


@dataclass(frozen=True)
class Call:
    """One call timed by ``Recorder.call``: made, its first attempt sent, its last answered."""

    made: float
    sent: float
    answered: float
    waits: tuple[Wait, ...]

    @property
    def wait(self) -> float:
        """Seconds from the moment the call was made to its first attempt."""
        return self.sent - self.made


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
    calls: tuple[Call, ...] = ()
    waits: tuple[Wait, ...] = ()


@dataclass
class Recorder:
    """An ``on_event`` hook that times every attempt from the moment it was made."""

    clock: Callable[[], float] = time.monotonic
    attempts: list[Attempt] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def now(self) -> float:
        """Seconds since the recorder was made."""
        return self.clock() - self.start

    def __call__(self, event: AttemptEvent | WaitEvent) -> None:
        record: Attempt | Wait
        now = self.now()
        if isinstance(event, AttemptEvent):
            sent = now - event.latency
            record = Attempt(sent, now, event.status, event.error, _LANE.get())
            self.attempts.append(record)
        else:
            record = Wait(now, event.seconds, event.reason, event.priority, _LANE.get())
            self.waits.append(record)
        if (call := _CALL.get()) is not None:
            call.append(record)

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

    async def call(self, work: Awaitable[object], lane: str) -> None:
        """Await one call of the client (``work``, not started yet) in ``lane``, and time it."""
        made = self.now()
        records: list[Attempt | Wait] = []
        token = _CALL.set(records)
        try:
            with self.lane(lane):
                await work
        finally:
            _CALL.reset(token)
            attempts = [r for r in records if isinstance(r, Attempt)]
            waits = tuple(r for r in records if isinstance(r, Wait))
            if attempts:
                self.calls.append(Call(made, attempts[0].sent, attempts[-1].answered, waits))

    def run(self, results: list[UpdateResult], refused: int) -> Run:
        """The run so far, with how its bulk items ended."""
        succeeded = sum(result.ok for result in results)
        attempts = tuple(sorted(self.attempts, key=lambda a: a.sent))
        failed = len(results) - succeeded
        calls = tuple(sorted(self.calls, key=lambda c: c.made))
        marks = dict(self.marks)
        return Run(
            attempts, marks, succeeded, failed, refused, self.now(), calls, tuple(self.waits)
        )
