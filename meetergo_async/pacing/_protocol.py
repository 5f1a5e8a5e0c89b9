"""What pacing is made of: a turn (``Ticket``), the limiter a client talks to (``Pacer``), the
synchronous policy behind it (``Policy``), and a budget kept outside the process.

A ``Pacer`` is what the client needs: a turn before each attempt, and news after it. The
in-process limiters are one gate (``_gate``) around a ``Policy``: plain code that takes
``now`` and returns decisions, tested without an event loop. A shared budget
(``SharedBudget``, e.g. ``meetergo_async.redis.RedisBudget``) makes a ``Pacer`` of its own
for each client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Protocol, runtime_checkable

import attrs

from ._config import Priority

__all__ = ["TOO_LONG_TO_PAUSE", "Forecaster", "Pacer", "Policy", "SharedBudget", "Ticket"]

TOO_LONG_TO_PAUSE: Final = (
    "the server asked to wait %.0fs, more than max_retry_after (%.0fs): calls fail with "
    "RateLimitError instead of the whole client pausing"
)
"""Logged (with the two numbers) when a ``Retry-After`` is too long to pause the client for."""


@attrs.frozen
class Ticket:
    """Proof that a request was let through: its sequence number and when it was sent.

    ``probe``: it tests whether a client-wide pause is over; its refusal is the pause going
    on, not news about the rate. ``held``: it waited while a client-wide pause was on.
    """

    seq: int
    sent_at: float
    probe: bool = False
    held: bool = False


class Pacer(Protocol):
    """What the client needs of a limiter: turns, and news of each attempt.

    Implement it (with ``SharedBudget``) to keep a rate budget elsewhere than in the
    process; ``meetergo_async.redis.RedisBudget`` is one.
    """

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the limiter has seen."""

    @property
    def rate(self) -> float | None:
        """The long-run pace in force, requests a second, or ``None`` when unpaced."""

    def try_acquire(
        self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> Ticket | None:
        """A turn at once, or ``None`` when the caller must ``acquire``.

        ``hold=False``: a client-wide pause after a 429 does not hold this request (a call
        that may send only once); the rate limit still does. ``lane``: interactive turns
        go before bulk ones.
        """

    async def acquire(self, *, hold: bool = True, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Wait for a turn (``hold`` and ``lane`` as for ``try_acquire``)."""

    def on_attempt_done(self, ticket: Ticket | None = None) -> None:
        """An attempt ended without an answer (failed or cancelled)."""

    def on_response(
        self, ticket: Ticket, status: int, headers: Mapping[str, str], retry_after: float | None
    ) -> None:
        """An attempt was answered."""

    def pause(self, seconds: float) -> None:
        """The retry layer is about to wait ``seconds`` after a 429."""

    def paused(self) -> bool:
        """Whether the whole client is held back now (after a 429, or while a block lasts)."""


@runtime_checkable
class Forecaster(Protocol):
    """A limiter that can say when requests may go (every limiter of this package can).

    ``forecast`` answers without sending anything: for a sliding log it is exact given the
    log (its free slots, then when its entries stop counting, then ``limit`` a window);
    a pause after a 429 delays it all. ``None``: it cannot tell (during a block, with no
    limit known, or a shared budget that is not answering).
    """

    async def forecast(self, count: int) -> float | None:
        """Seconds from now until the ``count``-th next request may go."""
        ...


@runtime_checkable
class SharedBudget(Protocol):
    """A rate budget kept outside the process (``meetergo_async.redis.RedisBudget``).

    A client given one as ``rate_limit`` asks it for its limiter, naming its API key: every
    client of the same key shares the budget.
    """

    def limiter_for(
        self,
        api_key: str,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        max_pause: float,
        attempt_timeout: float,
    ) -> Pacer:
        """Make the limiter of one client of ``api_key``."""
        ...


class Policy(Protocol):
    """The decisions of an in-process limiter, without I/O: every method takes ``now``."""

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the policy has seen."""

    @property
    def rate(self) -> float | None:
        """The long-run pace in force, requests a second, or ``None`` when unpaced."""

    def wait(
        self, now: float, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> float | None:
        """``0.0`` when a request may go now, else seconds to wait, ``None``: until an answer.

        ``hold=False``: a pause after a 429 does not hold this request. ``lane``: a bulk one
        leaves interactive ones their room.
        """

    def grant(self, now: float, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Let one request go now (``wait`` said ``0.0``)."""

    def ended(self, ticket: Ticket | None, now: float) -> bool:
        """An attempt ended without an answer; ``True`` if a waiter may go sooner."""

    def answered(
        self,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> bool:
        """An attempt was answered; ``True`` if a waiter may go sooner."""

    def pause(self, seconds: float, now: float) -> None:
        """The retry layer is about to wait ``seconds`` after a 429."""

    def paused(self, now: float) -> bool:
        """Whether the whole client is held back (after a 429, or while a block lasts)."""

    def forecast(self, now: float, count: int) -> float | None:
        """Seconds until the ``count``-th next request may go, by what the policy holds now;
        ``None`` when it cannot tell (during a block, or with no limit known)."""
