"""The pacing a user configures: a sliding window (meetergo's way) or a token bucket."""

from __future__ import annotations

import enum
from typing import Final

import attrs

from .._validate import check_positive, count, positive
from ..errors import NAME, ArgumentTypeError, ArgumentValueError

__all__ = ["DEFAULT_RATE_LIMIT", "Priority", "SlidingWindow", "TokenBucket", "check_priority"]


class Priority(enum.StrEnum):
    """The lane a request waits in for its turn under the rate limit.

    ``INTERACTIVE`` (a single call: someone waits for it) takes the next free turn before
    any ``BULK`` one (an item of a bulk run), and while interactive calls are about, bulk
    work leaves them a few turns free. Methods take the member or its value (``"bulk"``).
    """

    INTERACTIVE = "interactive"
    BULK = "bulk"


def check_priority(name: str, value: object, default: Priority) -> Priority:
    """The ``Priority`` ``value`` names (a member or its value), or ``default`` for ``None``.

    Raises:
        ArgumentTypeError: not a str. ArgumentValueError: not a lane's name.
    """
    if value is None:
        return default
    if isinstance(value, Priority):
        return value
    if not isinstance(value, str):
        kind = type(value).__name__
        raise ArgumentTypeError(name, f"{NAME} must be 'interactive' or 'bulk', got {kind}")
    try:
        return Priority(value)
    except ValueError:
        raise ArgumentValueError(
            name, f"{NAME} must be 'interactive' or 'bulk', got {value!r}"
        ) from None


@attrs.frozen
class TokenBucket:
    """A token bucket: ``rate`` requests per second on average, up to ``burst`` at once.

    For servers that count this way. meetergo's throttler does not: it keeps a sliding log
    (``SlidingWindow``); a ``TokenBucket`` pointed at it paces as far as the server lets it.
    ``RateLimit`` is its former name, kept as a deprecated alias.

    Raises:
        ValueError: ``rate`` is not a finite number > 0, or ``burst`` is below 1.
    """

    rate: float = attrs.field(validator=positive)
    burst: int = attrs.field(default=1, validator=count)

    @classmethod
    def per_minute(cls, requests: float, *, burst: int = 1) -> TokenBucket:
        """Build a bucket of ``requests`` a minute: ``TokenBucket.per_minute(100, burst=10)``."""
        check_positive("requests", requests)
        return cls(rate=requests / 60.0, burst=burst)

    @classmethod
    def per_second(cls, requests: float, *, burst: int = 1) -> TokenBucket:
        """Build a bucket of ``requests`` a second: ``TokenBucket.per_second(50, burst=10)``."""
        return cls(rate=requests, burst=burst)


@attrs.frozen
class SlidingWindow:
    """At most ``limit`` requests in any span of ``seconds``: how meetergo's throttler counts.

    meetergo (NestJS's throttler) keeps a sliding log per API key: each request counts for
    ``seconds`` after it arrived, and one request over ``limit`` blocks the key for a whole
    window. The client never has more than ``limit`` requests counting at once, measured
    from when each was sent until ``seconds`` after its answer came back (so the time a
    request takes to reach the server is covered).

    Raises:
        ValueError: ``limit`` is below 1 or ``seconds`` is not a finite number > 0.
        TypeError: ``limit`` is not an ``int`` or ``seconds`` not a number.
    """

    limit: int = attrs.field(validator=count)
    seconds: float = attrs.field(validator=positive)

    @classmethod
    def per_minute(cls, limit: int) -> SlidingWindow:
        """Build a window of ``limit`` requests per 60 seconds, e.g. ``per_minute(100)``."""
        return cls(limit, 60.0)

    @property
    def rate(self) -> float:
        """The long-run pace this window allows, in requests a second."""
        return self.limit / self.seconds


DEFAULT_RATE_LIMIT: Final = SlidingWindow(100, 60.0)
"""meetergo's limit per API key: 100 requests in any 60 seconds (a sliding log)."""
