"""Named defaults and the frozen configuration classes ``RetryPolicy`` and ``RateLimit``."""

from __future__ import annotations

import math
from typing import Final

import attrs

DEFAULT_BASE_URL: Final = "https://api.meetergo.com"
DEFAULT_TIMEOUT: Final = 30.0
"""Seconds one attempt may take; other meetergo clients use 30 s too."""
DEFAULT_MAX_CONCURRENCY: Final = 16
"""Requests of one client in flight at once."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
"""Response bodies are never read past this many bytes."""

ENV_API_KEY: Final = "MEETERGO_API_KEY"
ENV_USER_ID: Final = "MEETERGO_USER_ID"
ENV_BASE_URL: Final = "MEETERGO_BASE_URL"


def _check_number(name: str, value: object, *, minimum: float, inclusive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    bad = value < minimum if inclusive else value <= minimum
    if math.isnan(value) or math.isinf(value) or bad:
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")


def check_positive(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number greater than zero."""
    _check_number(name, value, minimum=0, inclusive=False)


def check_non_negative(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number of zero or more."""
    _check_number(name, value, minimum=0, inclusive=True)


def check_count(name: str, value: object, *, minimum: int = 1) -> None:
    """Raise unless ``value`` is an ``int`` (not ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@attrs.frozen
class RetryPolicy:
    """How one call retries: attempts, backoff, how long to honour ``Retry-After``, a deadline.

    Args:
        max_attempts: every attempt counts, the first included; ``1`` means no retry.
        initial_backoff: seconds; the n-th retry waits a random time in
            ``[0, min(max_backoff, initial_backoff * 2**(n-1))]`` (full jitter) unless the
            server sent ``Retry-After``.
        max_backoff: the cap of that range, in seconds.
        max_retry_after: a ``Retry-After`` longer than this stops the retries at once and the
            error is raised (``RateLimitError.retry_after`` tells the caller how long).
        deadline: total seconds one call may spend from its first attempt, waits included;
            ``None`` for no bound. A wait that would end past it is not started.

    Raises:
        ValueError: a value is out of range. TypeError: a value is not a number.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    deadline: float | None = 120.0

    def __attrs_post_init__(self) -> None:
        check_count("max_attempts", self.max_attempts)
        check_non_negative("initial_backoff", self.initial_backoff)
        check_non_negative("max_backoff", self.max_backoff)
        check_non_negative("max_retry_after", self.max_retry_after)
        if self.deadline is not None:
            check_positive("deadline", self.deadline)


DEFAULT_RETRY_POLICY: Final = RetryPolicy()
"""Five attempts, full-jitter backoff from 0.5 s up to 20 s, a 120 s deadline per call."""


@attrs.frozen
class RateLimit:
    """A token bucket: ``rate`` requests per second on average, up to ``burst`` at once.

    Raises:
        ValueError: ``rate`` is not a finite number > 0, or ``burst`` is below 1.
    """

    rate: float
    burst: int = 1

    def __attrs_post_init__(self) -> None:
        check_positive("rate", self.rate)
        check_count("burst", self.burst)

    @classmethod
    def per_minute(cls, requests: float, *, burst: int = 1) -> RateLimit:
        """Build a limit of ``requests`` a minute, e.g. ``RateLimit.per_minute(100, burst=200)``."""
        check_positive("requests", requests)
        return cls(rate=requests / 60.0, burst=burst)

    @classmethod
    def per_second(cls, requests: float, *, burst: int = 1) -> RateLimit:
        """Build a limit of ``requests`` a second, e.g. ``RateLimit.per_second(50, burst=10)``."""
        return cls(rate=requests, burst=burst)


DEFAULT_RATE_LIMIT: Final = RateLimit.per_minute(100, burst=200)
"""meetergo's documented limit per API key: 100 requests a minute, bursts up to 200."""
