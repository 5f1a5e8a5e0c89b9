"""Pacing under a token bucket (``TokenBucket``), for servers that limit that way.

Three rules decide when the next request may be sent, and the latest of them wins:

1. **Token bucket.** ``TokenBucket(rate, burst)``: tokens refill continuously at ``rate`` a
   second up to ``burst``; each attempt, retries included, takes one.
2. **Pause after a 429.** The whole client stops until the server's ``Retry-After`` (or the
   retrying call's backoff wait) has passed. The saved burst is dropped and no tokens
   accumulate during the pause, so the client does not stampede when it resumes.
3. **The server's own count.** When responses carry NestJS throttler headers
   (``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``, with or without a suffix such as
   ``-short``), the client spends at most the remaining requests (counting those already
   in flight) and then waits for the window to reset, before the server has to refuse.

**Adapting the rate.** The configured rate may be too high (a wrong setting, or another
process sharing the API key). On a 429 for a request sent after the previous adjustment
(one adjustment per round trip, the way TCP counts losses), the rate is lowered:

- if the client has run for at least ``ESTIMATE_MIN_SECONDS`` since the last adjustment,
  the server's real rate is estimated as the successes in that span divided by its length,
  and the new rate is ``ESTIMATE_MARGIN`` (95%) of the lower of that estimate and the
  current rate;
- otherwise (the 429 came at once, from a burst) the rate is halved.

After ``RECOVERY_HOLD_SECONDS`` (30 s) without an adjustment the rate climbs back by
``RECOVERY_PER_SECOND`` (2%) of the configured rate each second, never above it, so a client
whose key-sharing neighbour went quiet regains its pace, at the cost of one 429 when it
overshoots. A client configured four times too fast settles just under the real limit
within two or three 429s.

A halving for a request sent from a saved burst measured nothing about the rate: the burst
may only have found the server's bucket emptier than the client's (another user of the key
took some tokens just before). So after such a halving, each ``BLIND_CLIMB_SECONDS`` without
a 429 doubles the rate back, up to what it was; a 429 of a paced request meanwhile is
evidence, and the rate stays where that puts it.

**Starting in step.** A server's bucket for a key starts when the first request *arrives*,
which is later than the client's start by at least one connection set-up. So the client's
bucket starts full but only begins to refill at the first answer (or failed attempt):
otherwise a client configured with exactly the server's limit would run a little ahead
of it and draw a 429.

Every number is a named constant below. The policy takes ``now`` and does no I/O; the gate
(``_gate``) does the waiting.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Final

import attrs

from .._http import parse_rate_limit
from ._config import Priority, TokenBucket
from ._forecast import on_bucket
from ._protocol import TOO_LONG_TO_PAUSE, Ticket

__all__ = ["TokenBucketPolicy"]

log = logging.getLogger(__name__)

ESTIMATE_MIN_SECONDS: Final = 1.0
ESTIMATE_MARGIN: Final = 0.95
BURST_CUT_FACTOR: Final = 0.5
MIN_RATE_FRACTION: Final = 1 / 64
RECOVERY_HOLD_SECONDS: Final = 30.0
RECOVERY_PER_SECOND: Final = 0.02
BLIND_CLIMB_SECONDS: Final = 1.0
"""Seconds without a 429 after a halving before the rate doubles back toward what it was."""
_EPSILON: Final = 1e-9  # refill arithmetic leaves 0.999...; such a token counts as whole
SAME_WINDOW_SLACK: Final = 1.0
"""NestJS rounds ``X-RateLimit-Reset`` up to whole seconds: ends closer than this are one window."""


@attrs.define
class _Window:
    seq: int  # the request whose response reported ``remaining``
    remaining: int
    end: float


class TokenBucketPolicy:
    """When the requests of one client may go under a token bucket (a ``Policy``).

    Args:
        limit: the configured ``TokenBucket``, or ``None`` to turn proactive pacing off (the
            pause after a 429 and the server's own count still apply).
        now: the clock's time when the client is made.
        max_pause: the longest client-wide pause a 429 may start (the client passes its
            retry policy's ``max_retry_after``).
    """

    def __init__(
        self, limit: TokenBucket | None, *, now: float, max_pause: float = math.inf
    ) -> None:
        self.limit = limit
        self._max_pause = max_pause
        self._rate = limit.rate if limit else math.inf
        self._tokens = float(limit.burst) if limit else 0.0
        self._refilled_at = now
        self._refill_started = False  # see "Starting in step"
        self._recovered_at = now
        self._pause_until = -math.inf
        # A 429 lowers the rate only for a request sent after the last adjustment (its seq
        # is above this): the others were already in flight and say nothing new.
        self._epoch_seq = 0
        self._adjusted_at = -math.inf
        self._blind_from: float | None = None  # the rate before a halving, to climb back to
        self._burst_seq = 0  # the last request sent from a saved burst
        self._span_start = now
        self._span_successes = 0
        self._window: _Window | None = None
        self._window_floor = -math.inf
        self._seq = 0
        self.rate_limited = 0
        """How many 429 answers the client has seen."""

    @property
    def rate(self) -> float | None:
        """The rate in force now (requests a second), ``None`` when pacing is off."""
        return self._rate if self.limit else None

    def wait(self, now: float, hold: bool = True, lane: Priority = Priority.INTERACTIVE) -> float:
        """Seconds until the next request may go (``0.0``: now).

        ``hold=False``: a pause after a 429 does not hold this request (a call that may
        send only once); the bucket and the server's window still do.
        """
        pause_until = self._pause_until if hold else -math.inf
        if self.limit is None and self._window is None and now >= pause_until:
            return 0.0  # unpaced, no server window, not paused: nothing to weigh
        self._refill(now)
        wait = pause_until - now
        window = self._window
        if window is not None:
            if now >= window.end:
                self._window = None
                self._window_floor = window.end
            elif self._seq - window.seq >= window.remaining:
                self._epoch_seq = self._seq  # 429s for requests in flight are expected
                wait = max(wait, window.end - now)
        if self.limit and self._tokens < 1.0 - _EPSILON:
            wait = max(wait, (1.0 - self._tokens) / self._rate)
        return wait if wait > _EPSILON else 0.0

    def skip(self) -> None:
        """Number a request another policy let go: it takes no token (``_learning``)."""
        self._seq += 1

    def grant(self, now: float, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Let one request go: it takes a token (whatever its lane: only the order differs)."""
        self._seq += 1
        if self.limit:
            if self._tokens >= 2.0 - _EPSILON:  # sent with others at once, from the burst
                self._burst_seq = self._seq
            self._tokens -= 1.0
        return Ticket(self._seq, now)

    def _refill(self, now: float) -> None:
        if not self.limit:
            return
        if not self._refill_started:
            self._refilled_at = max(self._refilled_at, now)
        elif now > self._refilled_at:
            self._tokens = min(
                float(self.limit.burst), self._tokens + (now - self._refilled_at) * self._rate
            )
            self._refilled_at = now
        blind = self._blind_from
        if blind is not None and now - self._adjusted_at >= BLIND_CLIMB_SECONDS:
            self._rate = min(blind, 2 * self._rate)
            self._adjusted_at = max(now, self._pause_until)
            if self._rate >= blind:
                self._blind_from = None
        if self._rate < self.limit.rate and now - self._adjusted_at >= RECOVERY_HOLD_SECONDS:
            step = self.limit.rate * RECOVERY_PER_SECOND * (now - self._recovered_at)
            self._rate = min(self.limit.rate, self._rate + step)
        self._recovered_at = now

    def pause(self, seconds: float, now: float) -> None:
        """Send nothing for ``seconds`` from now (extends, never shortens, a pause).

        A pause longer than ``max_pause`` is not applied: a server asking for such a wait
        would freeze every task of the client, so instead each call meets the 429 itself
        and fails fast with ``RateLimitError`` (its ``retry_after`` says how long).
        """
        if seconds > self._max_pause:
            log.warning(TOO_LONG_TO_PAUSE, seconds, self._max_pause)
            return
        until = now + max(0.0, seconds)
        if until > self._pause_until:
            self._pause_until = until
            # The saved burst is dropped and nothing piles up while paused: one request may
            # go when the pause ends, then the rate applies.
            self._tokens = min(self._tokens, 1.0)
            self._refilled_at = max(self._refilled_at, until)

    def paused(self, now: float) -> bool:
        """Whether a 429 holds the client back now."""
        return now < self._pause_until

    def forecast(self, now: float, count: int) -> float | None:
        """Seconds until the ``count``-th next request may go by the bucket as it is now."""
        if not self.limit:
            return max(0.0, self._pause_until - now)
        self._refill(now)
        return on_bucket(now, count, tokens=self._tokens, rate=self._rate, until=self._pause_until)

    def answered(
        self,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> bool:
        """Learn from one answer: count successes, pause and adapt on 429, read the headers."""
        self.ended(None, now)
        if status == 429:
            self.rate_limited += 1
            self.pause(retry_after if retry_after is not None else self._interval(), now)
            if ticket.seq > self._epoch_seq:
                self._lower_rate(now, burst=ticket.seq <= self._burst_seq)
        elif status < 400:
            self._span_successes += 1
        counts = parse_rate_limit(headers)
        if counts is not None and ticket.sent_at >= self._window_floor:
            self._observe_window(ticket, *counts, now)
        return True

    def ended(self, ticket: Ticket | None, now: float) -> bool:
        """Note that an attempt ended (answered or not): the bucket may start refilling."""
        if self._refill_started:
            return False
        self._refill_started = True
        self._refilled_at = max(self._refilled_at, now)
        return True

    def _interval(self) -> float:
        return 1.0 / self._rate if self.limit else 0.0

    def _lower_rate(self, now: float, *, burst: bool) -> None:
        span = now - self._span_start
        if self.limit:
            if span >= ESTIMATE_MIN_SECONDS and self._span_successes:
                new = min(self._rate, self._span_successes / span) * ESTIMATE_MARGIN
                self._blind_from = None  # measured: it holds
            else:
                new = self._rate * BURST_CUT_FACTOR
                if not burst:
                    self._blind_from = None  # a paced request was refused: evidence
                elif self._blind_from is None:
                    self._blind_from = self._rate
            old = self._rate
            self._rate = max(self.limit.rate * MIN_RATE_FRACTION, new)
            log.debug(
                "429: pacing lowered from %.3g to %.3g requests/s (%d ok in %.2fs before it)",
                old,
                self._rate,
                self._span_successes,
                span,
            )
        self._epoch_seq = self._seq
        self._adjusted_at = max(now, self._pause_until)
        self._span_start = max(now, self._pause_until)
        self._span_successes = 0

    def _observe_window(self, ticket: Ticket, remaining: int, reset: float, now: float) -> None:
        end = now + reset
        window = self._window
        if window is None or end > window.end + SAME_WINDOW_SLACK:
            self._window = _Window(ticket.seq, remaining, end)
            return
        window.end = min(window.end, end)
        if ticket.seq > window.seq:
            window.seq = ticket.seq
            window.remaining = remaining
