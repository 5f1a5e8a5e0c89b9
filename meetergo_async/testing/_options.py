"""The fake server's option checks and defaults, and the option bundles ``FakeApp`` serves from.

Kept apart so ``FakeMeetergo`` reads short; nothing here needs aiohttp.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final, NamedTuple

from meetergo_async._validate import check_count, check_fraction, check_non_negative
from meetergo_async.errors import ArgumentValueError
from meetergo_async.testing._limits import (
    Clock,
    FixedWindow,
    Limiter,
    NestThrottler,
    TokenBucket,
    make_limiter,
)

DEFAULT_RATE_LIMIT: Final = NestThrottler(100, 60.0)
"""meetergo's limit per credential, counted as its server does: 100 requests in any 60 s."""
DEFAULT_FAIL_STATUSES: Final = (500, 502, 503, 504)


class Faults(NamedTuple):
    """The fault options: one draw per request falls into consecutive bands.

    ``[0, fail)`` fails, ``[fail, before)`` drops before applying, ``[before, after)`` drops
    after applying, the rest is served normally.
    """

    rng: random.Random
    statuses: tuple[int, ...]
    fail: float
    before: float
    after: float


class Timing(NamedTuple):
    """When requests are answered and counted.

    ``latency``: seconds every request waits before it is answered. ``count_jitter``: the
    most seconds a request waits, after that, before the rate limit counts it, drawn per
    request from ``rng`` as it arrives.
    """

    latency: float
    count_jitter: float
    rng: random.Random


class RateOptions(NamedTuple):
    """The rate limiter (or ``None``) and how its verdicts become headers."""

    limiter: Limiter | None
    rate_headers: bool
    retry_after: bool
    suffix: str
    nest: bool = False
    status: int = 429


def build_faults(
    seed: int | None,
    fail_rate: float,
    fail_statuses: Sequence[int],
    drop_before_rate: float,
    drop_after_rate: float,
) -> Faults:
    """Check the fault options and turn them into the bands one draw per request falls in."""
    check_fraction("fail_rate", fail_rate)
    check_fraction("drop_before_rate", drop_before_rate)
    check_fraction("drop_after_rate", drop_after_rate)
    statuses = tuple(fail_statuses)
    if not statuses or not all(
        isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in statuses
    ):
        raise ValueError("fail_statuses must be a non-empty sequence of ints within 400..599")
    before = fail_rate + drop_before_rate
    after = before + drop_after_rate
    if after > 1.0 + 1e-12:
        raise ValueError("fail_rate + drop_before_rate + drop_after_rate must not exceed 1")
    return Faults(random.Random(seed), statuses, fail_rate, before, after)


def build_rate(
    rate_limit: NestThrottler | TokenBucket | FixedWindow | None,
    clock: Clock,
    rate_limit_headers: bool | None,
    retry_after_header: bool,
    header_suffix: str,
    status: int = 429,
) -> RateOptions:
    """Build the per-credential limiter, if any, and decide which headers describe it.

    Raises:
        TypeError: ``rate_limit`` is not one of the limiters or ``None``.
        ValueError: ``status`` is not 429 or 503.
    """
    if status not in (429, 503):
        raise ArgumentValueError(
            "rate_limit_status", f"{{name}} must be 429 or 503, got {status!r}"
        )
    limiter = None if rate_limit is None else make_limiter(rate_limit, clock)
    nest = isinstance(rate_limit, NestThrottler)
    if rate_limit_headers is None:
        rate_limit_headers = nest or isinstance(rate_limit, FixedWindow)
    return RateOptions(limiter, rate_limit_headers, retry_after_header, header_suffix, nest, status)


def build_timing(seed: int | None, latency: float, count_jitter: float) -> Timing:
    """Check the timing options; the jitter has a generator of its own, seeded as the faults."""
    check_non_negative("latency", latency)
    check_non_negative("count_jitter", count_jitter)
    return Timing(float(latency), float(count_jitter), random.Random(seed))


def check_numbers(*, generate: int, port: int, shutdown: float) -> None:
    """Check ``FakeMeetergo``'s counts and seconds."""
    check_count("generate", generate, minimum=0)
    check_count("port", port, minimum=0)
    check_non_negative("shutdown_timeout", shutdown)
