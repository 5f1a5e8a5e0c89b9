"""Which way the server counts, read from its answers: a sliding log, or a token bucket.

Why it matters: the two need opposite answers to a 429. A token bucket (a gateway's
limiter, nginx's ``limit_req``) gives a token back within a fraction of a second, so a
429 says "slower": the client lowers its rate. A sliding log with a block (NestJS's
throttler, meetergo's) refuses everything for a whole window after one request too many,
then starts afresh: lowering the rate after each refusal only makes the client slower and
slower (each block looks like "far too fast"), while pacing ``limit`` per window is exactly
right. A client configured with a ``TokenBucket`` cannot know which one a server (or a
gateway in front of it) runs, so ``_learning`` asks this module.

The evidence, in the order it usually comes:

- **Rate-limit headers** (``X-RateLimit-Limit`` with ``Remaining`` and ``Reset``) describe
  a window: a sliding log is assumed (weakly) from the first such answer, so the client
  paces by it before it ever overshoots.
- **The first 429 of a refusal** with ``Retry-After``: a long one (``LONG_REFUSAL`` or
  more) is a block of a window; a short one is a token coming back. Later 429s of the same
  refusal say nothing new (a block's own ``Retry-After`` shrinks as it runs out).
- **A refusal without ``Retry-After``** is told by how long it lasts: the client probes,
  and a first acceptance after ``LONG_REFUSAL`` or more ends a block; sooner, a token.
- **A contradiction**: the server says more remains than a sliding log of its window
  could, given what this client has surely sent into it (a bucket refilling, or a fixed
  window starting anew). It settles the matter: not a sliding log.

Pure: no clock and no I/O; the policy tells it what happened.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["CONTRADICTIONS", "LONG_REFUSAL", "ServerModel", "ServerModelDetector"]

LONG_REFUSAL: Final = 2.0
"""Seconds: a refusal asked for, or lasting, this long is a block, not a token on its way."""
CONTRADICTIONS: Final = 2
"""Answers that a sliding log could not give, before the client stops assuming one."""


class ServerModel(enum.Enum):
    """How the server counts, as far as its answers tell."""

    UNKNOWN = "unknown"
    SLIDING_LOG = "sliding log"
    """At most ``limit`` in any window; one more blocks the key (NestJS's throttler)."""
    TOKEN_BUCKET = "token bucket"  # noqa: S105 - a name, not a secret
    """A refusal passes soon: a token bucket, or fixed windows."""


class ServerModelDetector:
    """Decides the ``ServerModel`` from what the policy saw; ``model`` is the decision."""

    def __init__(self) -> None:
        self.model = ServerModel.UNKNOWN
        self.settled = False  # a block or a contradiction decided it: headers cannot undo it
        self._contradictions = 0

    def told(self) -> ServerModel:
        """An answer carried one throttler's ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset``."""
        if self.model is ServerModel.UNKNOWN:
            self.model = ServerModel.SLIDING_LOG
        return self.model

    def refused(self, retry_after: float | None) -> ServerModel:
        """The first 429 of a refusal came back, with ``Retry-After`` or without."""
        if retry_after is None or self._final():
            return self.model  # without it, how long the refusal lasts tells
        long = retry_after >= LONG_REFUSAL
        self._decide(ServerModel.SLIDING_LOG if long else ServerModel.TOKEN_BUCKET)
        return self.model

    def refusal_ended(self, seconds: float) -> ServerModel:
        """A refusal that came without ``Retry-After`` ended after ``seconds`` (an acceptance)."""
        if not self._final():
            long = seconds >= LONG_REFUSAL
            self._decide(ServerModel.SLIDING_LOG if long else ServerModel.TOKEN_BUCKET)
        return self.model

    def contradicted(self) -> ServerModel:
        """An answer showed more room than a sliding log of that window could leave."""
        self._contradictions += 1
        if self._contradictions >= CONTRADICTIONS:
            self.model = ServerModel.TOKEN_BUCKET
            self.settled = True
        return self.model

    def _final(self) -> bool:
        return self.settled and self.model is ServerModel.TOKEN_BUCKET

    def _decide(self, model: ServerModel) -> None:
        self.model = model
        self.settled = True
