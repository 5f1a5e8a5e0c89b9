"""Pacing against a sliding log with a block: meetergo's throttler (NestJS's, 6.x).

The server keeps, per API key, the arrival time of each request for ``seconds``; one request
over ``limit`` blocks the key for a whole window, and the first request after the block
starts a fresh log. An overshoot therefore costs a window of throughput, so this limiter
never bets on one. Hand-written: the libraries that pace a sliding window (aiolimiter,
pyrate-limiter, limits) count send times only; none knows in-flight requests, the server's
``Remaining``, a block, or probing it. Four rules decide when a request may go:

1. **Its own log** (``_log.OwnLog``). A request counts from when it was sent until
   ``seconds`` after its answer, so the log never falls short of what the server counts.
   At most ``limit`` count at once: the configured limit, or ``X-RateLimit-Limit`` when
   lower, or without headers what 429s taught (``_lesson.Lesson``).
2. **Neighbours** (``_neighbours``). When ``X-RateLimit-Remaining`` shows the server
   counting more than this client can have sent, others use the key: the client leaves
   them their share. ``X-RateLimit-Reset`` is not a refill time on a sliding log; without a
   configured window its largest value is taken as the window.
3. **A 429 pauses the client**: until ``Retry-After`` when sent; else probes go one at a
   time with growing waits (``BLOCK_PROBE_FIRST``, times ``BLOCK_PROBE_GROWTH``, at most
   ``BLOCK_PROBE_CAP`` of a window), one of them when a block of a whole window would end.
   Probes into a block never lower anything.
4. **The first answer after a block** started a fresh log on the server: the client
   forgets its own and resumes with the full budget.

The policy takes ``now`` and does no I/O; the gate (``_gate``) does the waiting.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Final

from .._http import parse_throttlers, tightest_throttler
from ._block import Block
from ._config import Priority, SlidingWindow
from ._forecast import on_sliding_log
from ._lanes import Lanes
from ._lesson import Lesson
from ._log import EXPIRY_MARGIN, Hit, OwnLog
from ._neighbours import Neighbours
from ._protocol import TOO_LONG_TO_PAUSE, Ticket

__all__ = ["SlidingWindowPolicy"]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS: Final = 60.0
"""The window assumed when none is configured and no ``X-RateLimit-Reset`` came (meetergo's)."""


class SlidingWindowPolicy:
    """When the requests of one client may go under a sliding-window limit (a ``Policy``).

    See the module's rules.

    Args:
        window: the configured ``SlidingWindow``, or ``None`` for no limit of its own (the
            server's headers and 429s still apply).
        now: the clock's time when the client is made.
        max_pause: the longest client-wide pause a ``Retry-After`` may start.
        rate_cap: with no ``window``, learn the server's window from scratch (from its
            headers, or from its blocks) and never pace faster than this many requests a
            second (a ``TokenBucket``'s rate: ``_learning``).
    """

    def __init__(
        self,
        window: SlidingWindow | None,
        *,
        now: float,
        max_pause: float = math.inf,
        rate_cap: float | None = None,
    ) -> None:
        self.window = window
        self._max_pause = max_pause
        self._log = OwnLog(window.seconds if window else DEFAULT_WINDOW_SECONDS)
        self._limit: int | None = window.limit if window else None
        self._rate_cap = None if window else rate_cap
        learning = self._rate_cap is not None
        self._lesson = Lesson(window.limit, now) if window else None
        if learning:  # a lesson taught by the server itself, from nothing: it holds
            self._lesson = Lesson(None, now, climbs_back=False)
        self._told = False  # X-RateLimit-Limit set the limit
        self._window_told = False  # X-RateLimit-Reset set the window
        self._logging = window is not None or learning  # keep ended requests for a limit
        self.neighbours = Neighbours(self._log)
        self._lanes = Lanes()
        self._pause_until = -math.inf
        self._block: Block | None = None
        self._block_ended = 0  # the request that ended the last block
        # Until the first answer, one request at a time (unpaced: no such care).
        self._heard = window is None and not learning
        self.blocks_begun = 0
        self.blocks_ended = 0
        self.last_block = 0.0
        """Seconds the last block lasted, from its first refusal to the answer that ended it."""
        self._seq = 0
        self.rate_limited = 0
        """How many 429 answers the client has seen."""

    @property
    def rate(self) -> float | None:
        """The long-run pace in force (requests a second), ``None`` without a limit."""
        limit = self._own_limit()
        return None if limit is None else limit / self._log.seconds

    def _own_limit(self) -> int | None:
        taught = self._lesson.limit if self._lesson else None
        limits = [n for n in (self._limit, taught, self._capped()) if n is not None]
        return min(limits) if limits else None

    def _capped(self) -> int | None:
        """The most of ``rate_cap`` a window holds, or ``None`` without a cap."""
        cap = self._rate_cap
        return None if cap is None else max(1, math.ceil(cap * self._log.seconds))

    def paused(self, now: float) -> bool:
        """Whether a 429 holds the client back: paused, or probing a block."""
        return now < self._pause_until or self._block is not None

    def grant(self, now: float, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Let one request go now; during a block it is the probe."""
        self._seq += 1
        self.neighbours.reserve -= 1
        self._log.start(self._seq, now)
        if lane is Priority.INTERACTIVE:
            self._lanes.interactive_sent(now, self._seq)
        if self._block is not None and self._block.probe is None:
            self._block.probe = self._seq
            return Ticket(self._seq, now, probe=True)
        return Ticket(self._seq, now)

    def wait(
        self, now: float, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> float | None:
        """0.0 to send now, else seconds to wait, or ``None`` to wait for an answer.

        ``hold=False``: a pause after a 429 does not hold this request (a call that may
        send only once); it goes at once, as the block's probe if none is out. ``lane``: a
        bulk request leaves interactive ones their headroom (``_lanes``).
        """
        if now < self._pause_until or self._block is not None:  # paused(), inlined
            if not hold:
                return 0.0  # the server refuses it uncounted, or the block is over
            if now < self._pause_until:
                return self._pause_until - now
            # One probe at a time, whatever the log: the server refuses it uncounted, or the
            # block is over and its log starts afresh with it.
            assert self._block is not None
            return None if self._block.probe is not None else 0.0
        in_flight = bool(self._log.in_flight)
        if not self._heard and in_flight:
            return None  # the first answer tells whether others already use the key
        if not self._logging:
            return 0.0
        live = self._log.live(now)
        cap = self._cap(now)
        if cap is not None and live >= cap:
            return self._wait_for_room(now, in_flight)
        if cap is not None and lane is Priority.BULK:
            spare = self._lanes.headroom(now, self._log.seconds)
            if live >= cap - spare.slots:
                room = self._wait_for_room(now, in_flight)
                return spare.recheck if room is None else min(room, spare.recheck)
        refused = self._lesson.refused_at if self._lesson else None
        if refused is not None and live >= refused - 1 and in_flight:
            return None  # at a level once refused: one request at a time
        return 0.0

    def _wait_for_room(self, now: float, in_flight: bool) -> float | None:
        """At the cap: wait for one of ours to expire, or to re-read the server's count."""
        expiry = self._log.next_expiry()
        wait = None if expiry is None else max(expiry - now, 1e-3)
        binds = self.neighbours.binds(now, self._own_limit())
        refresh = self.neighbours.refresh_in(now, in_flight) if binds else None
        if refresh is not None:
            wait = refresh if wait is None else min(wait, refresh)
        return wait

    def forecast(self, now: float, count: int) -> float | None:
        """Seconds until the ``count``-th next request may go by the log as it is now
        (``_forecast``); ``None`` during a block, or when no limit is known."""
        cap = self._cap(now)
        if cap is None or self._block is not None:
            return None if self._logging else 0.0
        log = self._log
        return on_sliding_log(now, count, cap, log.seconds, log.expiries(now), self._pause_until)

    def _cap(self, now: float) -> int | None:
        cap = self._own_limit()
        quota = self.neighbours.cap(now)
        if quota is not None:
            cap = quota if cap is None else min(cap, quota)
        return cap

    def pause(self, seconds: float, now: float) -> None:
        """The retry layer's wait after a 429: ``answered`` has already paused the client."""

    def ended(self, ticket: Ticket | None, now: float) -> bool:
        """Note that an attempt ended without an answer (failed or cancelled)."""
        return ticket is not None and self._end(ticket, 0, now) is not None

    def answered(
        self,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> bool:
        """Learn from one answer: the server's count, a block, its end."""
        hit = self._end(ticket, status, now)
        if hit is None:
            return False
        self._heard = True
        if status == 429:
            self._logging = True
            self._refused(hit, retry_after, hit.ended)
        else:
            self._answered(hit, headers, hit.ended)
        return True

    def _end(self, ticket: Ticket, status: int, now: float) -> Hit | None:
        if self._block is not None and self._block.probe == ticket.seq:
            self._block.probe = None
        hit = self._log.end(ticket.seq, status, now, keep=self._logging)
        if hit is not None:
            self._lanes.ended(hit.seq, hit.ended + self._log.seconds + EXPIRY_MARGIN)
        return hit

    def _answered(self, hit: Hit, headers: Mapping[str, str], now: float) -> None:
        block = self._block
        if block is not None and hit.seq > block.seen:
            self._end_block(block, hit, now)
        elif block is not None and hit.accepted:
            block.accepted += 1  # sent before the refusal came back: counted before it
        throttlers = parse_throttlers(headers)
        tightest = tightest_throttler(throttlers)
        if tightest is not None and tightest.remaining is not None:
            if not self._logging:  # from now on a limit is known: keep the log
                self._logging = True
                self._log.keep(hit)
            if self.window is None and tightest.reset is not None:
                self._learn_window(tightest.reset)
            # Several named throttlers are not one window: then only Remaining is used.
            told = tightest.limit if len(throttlers) == 1 else None
            self._observe(hit, told, tightest.remaining, now)
        elif self._block is None and hit.accepted and self._lesson is not None:
            self._lesson.quiet(self._log.surely_accepted(now), now, self._log.seconds)

    def _learn_window(self, reset: float) -> None:
        if not self._window_told or reset > self._log.seconds:
            self._log.seconds = max(reset, 1.0)
            self._window_told = True

    def _observe(self, hit: Hit, told: int | None, remaining: int, now: float) -> None:
        """Rule 2: what the server says it counts, against what this client can have sent."""
        if told is not None:
            self._limit = told if self.window is None else min(self.window.limit, told)
            self._told = True
            if self._lesson is not None:
                self._lesson.forget()
        server = told if told is not None else self._limit
        if server is None:
            return
        self.neighbours.observe(hit, server, remaining, now)

    def _refused(self, hit: Hit, retry_after: float | None, now: float) -> None:
        """Rule 3: a 429 stops the client until the block ends."""
        self.rate_limited += 1
        block = self._block
        if hit.seq <= self._block_ended or (block is not None and hit.seq <= block.seen):
            return  # sent before the last block ended, or before this one was known
        if retry_after is not None and retry_after > self._max_pause:
            log.warning(TOO_LONG_TO_PAUSE, retry_after, self._max_pause)
            return
        if block is None:
            block = self._block = Block(self._seq, self._log.surely_accepted(now), now)
            self.blocks_begun += 1
        until = block.held_until(now, retry_after, self._log.seconds)
        self._pause_until = max(self._pause_until, until)
        self.neighbours.forget()

    def _end_block(self, block: Block, hit: Hit, now: float) -> None:
        """Rule 4: the first answer after a block; the server started a fresh log with it."""
        self._block = None
        self._block_ended = hit.seq
        self.blocks_ended += 1
        self.last_block = now - block.refused_at
        if self._rate_cap is not None and not self._window_told:
            # Learning without headers: a block lasts a window (NestJS's default).
            self._log.seconds = max(1.0, self.last_block)
        self._log.restart(hit)
        self.neighbours.forget()
        if self._lesson is not None and not self._told:
            self._lesson.blocked(block.accepted, now, self._log.seconds)
