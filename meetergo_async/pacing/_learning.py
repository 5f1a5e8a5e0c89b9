"""Pacing a ``TokenBucket`` by the way the server really counts (a ``Policy``).

A user who reads "100 requests per minute" may well configure a token bucket; meetergo's
throttler is a sliding log that blocks the key for a window after one request too many.
A token bucket's adaptation reads each such block as "far too fast" and cuts deeper each
time, down to a few requests a second. So the configuration is taken as an upper bound,
and the server's observed model (``_model``) governs:

- **a sliding log**: the client paces as a sliding window of what it learned (the limit
  and window from the headers, or from a block: what was accepted before it, and how long
  it lasted), never faster than the bucket's rate over that window; a 429 pauses it and is
  probed, and never lowers anything;
- **a token bucket** (or fixed windows): today's bucket, with its adaptation;
- **not known yet**: the bucket's pace, and the sliding window's care for 429s without
  ``Retry-After`` (the client probes instead of lowering its rate), until the answers tell.

Both policies see every request and every answer, so whichever governs knows all that
happened; their tickets agree, as both grant each request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .._http import parse_throttlers
from ._bucket import TokenBucketPolicy
from ._config import Priority, TokenBucket
from ._model import ServerModel, ServerModelDetector
from ._protocol import Ticket
from ._window import SlidingWindowPolicy

__all__ = ["LearningPolicy"]

_SLIDING = ServerModel.SLIDING_LOG
_BUCKET = ServerModel.TOKEN_BUCKET


class LearningPolicy:
    """A ``TokenBucket`` that paces as the server counts; see the module.

    Args:
        bucket: the configured bucket: the pace until the server is known, and the most.
        now: the clock's time when the client is made.
        max_pause: the longest client-wide pause a ``Retry-After`` may start.
    """

    def __init__(self, bucket: TokenBucket, *, now: float, max_pause: float = math.inf) -> None:
        self.bucket = TokenBucketPolicy(bucket, now=now, max_pause=max_pause)
        self.window = SlidingWindowPolicy(None, now=now, max_pause=max_pause, rate_cap=bucket.rate)
        self.detector = ServerModelDetector()
        self._deferred: tuple[Ticket, float | None] | None = None  # a 429 the bucket missed
        self._probing = False  # a refusal without Retry-After: how long it lasts tells

    @property
    def model(self) -> ServerModel:
        """How the server counts, as far as its answers tell."""
        return self.detector.model

    @property
    def rate_limited(self) -> int:
        """How many 429 answers the client has seen."""
        return self.window.rate_limited

    @property
    def rate(self) -> float | None:
        """The long-run pace in force, requests a second."""
        return self.window.rate if self.model is _SLIDING else self.bucket.rate

    def wait(
        self, now: float, hold: bool = True, lane: Priority = Priority.INTERACTIVE
    ) -> float | None:
        """When the next request may go, by the model in force."""
        model = self.model
        if model is _BUCKET:
            return self.bucket.wait(now, hold, lane)
        window = self.window.wait(now, hold, lane)
        if model is _SLIDING or window is None:
            return window
        return max(window, self.bucket.wait(now, hold, lane))

    def grant(self, now: float, lane: Priority = Priority.INTERACTIVE) -> Ticket:
        """Let one request go: both policies count it, under the same number."""
        if self.model is _SLIDING:
            self.bucket.skip()  # the window governs: no token is owed for it
        else:
            self.bucket.grant(now, lane)
        return self.window.grant(now, lane)

    def paused(self, now: float) -> bool:
        """Whether a 429 holds the client back."""
        if self.model is _BUCKET:
            return self.bucket.paused(now)
        return self.window.paused(now)

    def pause(self, seconds: float, now: float) -> None:
        """The retry layer's wait after a 429: only a bucket pauses for it."""
        if self.model is _BUCKET:
            self.bucket.pause(seconds, now)

    def forecast(self, now: float, count: int) -> float | None:
        """When the ``count``-th next request may go, by the model in force."""
        if self.model is _BUCKET:
            return self.bucket.forecast(now, count)
        window = self.window.forecast(now, count)
        if self.model is _SLIDING or window is None:
            return window
        bucket = self.bucket.forecast(now, count)
        return window if bucket is None else max(window, bucket)

    def ended(self, ticket: Ticket | None, now: float) -> bool:
        """An attempt ended without an answer."""
        bucket = self.bucket.ended(ticket, now)
        return self.window.ended(ticket, now) or bucket

    def answered(
        self,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> bool:
        """Learn from one answer: both policies, then what it says of the server."""
        window = self.window
        was = self.model
        seen = (window.neighbours.contradictions, window.blocks_begun, window.blocks_ended)
        if not window.answered(ticket, status, headers, retry_after, now):
            return False
        self._learn(seen, ticket, status, headers, retry_after)
        if self.model is _BUCKET:
            self._feed_bucket(was, ticket, status, headers, retry_after, now)
        else:
            self.bucket.ended(ticket, now)  # its refill starts; its adaptation waits
        return True

    def _learn(
        self,
        seen: tuple[int, int, int],
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
    ) -> None:
        """Tell the detector what the window policy made of the answer."""
        window = self.window
        detector = self.detector
        contradictions, begun, ended = seen
        if window.neighbours.contradictions > contradictions:
            detector.contradicted()
        if window.blocks_begun > begun:  # the first 429 of a refusal
            self._probing = retry_after is None
            if self.model is not _BUCKET:
                self._deferred = (ticket, retry_after)
            detector.refused(retry_after)
        if window.blocks_ended > ended and self._probing:
            self._probing = False
            detector.refusal_ended(window.last_block)
        if status < 400:
            throttlers = parse_throttlers(headers)
            if len(throttlers) == 1 and throttlers[0].limit is not None:
                detector.told()

    def _feed_bucket(
        self,
        was: ServerModel,
        ticket: Ticket,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
        now: float,
    ) -> None:
        """The bucket governs: give it the answer, and the 429 it missed before it did."""
        deferred = self._deferred
        self._deferred = None
        if was is not _BUCKET and deferred is not None and deferred[0] is not ticket:
            self.bucket.answered(deferred[0], 429, {}, deferred[1], now)
        self.bucket.answered(ticket, status, headers, retry_after, now)
