"""The fake server's rate limiters, one budget per credential.

``NestThrottler`` counts exactly as meetergo's server does (NestJS's throttler, 6.x): the
default. ``TokenBucket`` and ``FixedWindow`` model other servers. Pure and clock-driven: a
limiter reads time only from the clock it was given, so tests step a
fake clock instead of sleeping. ``hit`` counts one request and returns a ``Verdict``;
``limit_headers`` turns it into the response headers NestJS's throttler would send.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import attrs

from meetergo_async._validate import check_non_negative, check_positive, count, positive

Clock = Callable[[], float]

# Float steps of a fake clock (0.1 + 0.2 ...) must not turn "exactly one token" or "exactly
# 3 seconds" into 0.999... or 3.000...1, which would refuse a request or add a second.
_EPSILON = 1e-9


@attrs.frozen
class TokenBucket:
    """A token bucket: ``rate`` requests a second on average, up to ``burst`` at once.

    Each credential's bucket starts full and refills continuously. Headers it produces:
    ``X-RateLimit-Limit`` is ``burst``, ``X-RateLimit-Remaining`` the whole tokens left, and
    ``X-RateLimit-Reset`` the seconds until the bucket is full again, rounded up.

    Raises:
        ValueError: ``rate`` is not a finite number > 0, or ``burst`` is below 1.
        TypeError: ``rate`` is not a number or ``burst`` not an ``int``.
    """

    rate: float = attrs.field(validator=positive)
    burst: int = attrs.field(default=1, validator=count)

    @classmethod
    def per_minute(cls, requests: float, *, burst: int | None = None) -> TokenBucket:
        """Build a bucket of ``requests`` a minute; ``burst`` defaults to ``requests``."""
        check_positive("requests", requests)
        return cls(rate=requests / 60.0, burst=math.ceil(requests) if burst is None else burst)

    @classmethod
    def per_second(cls, requests: float, *, burst: int | None = None) -> TokenBucket:
        """Build a bucket of ``requests`` a second; ``burst`` defaults to ``requests``."""
        check_positive("requests", requests)
        return cls(rate=requests, burst=math.ceil(requests) if burst is None else burst)


@attrs.frozen
class FixedWindow:
    """Fixed windows: at most ``limit`` requests per ``window_seconds``, per credential.

    A credential's window opens at its first request and lasts ``window_seconds``; the first
    request after it ends opens the next one. ``X-RateLimit-Reset`` and ``Retry-After`` are
    the whole seconds until the window ends, rounded up, as @nestjs/throttler reports them.

    Raises:
        ValueError: ``limit`` is below 1 or ``window_seconds`` is not a finite number > 0.
        TypeError: ``limit`` is not an ``int`` or ``window_seconds`` not a number.
    """

    limit: int = attrs.field(validator=count)
    window_seconds: float = attrs.field(validator=positive)


def _block_seconds(_: object, attribute: attrs.Attribute[float | None], value: object) -> None:
    if value is not None:
        check_non_negative(attribute.name, value)


@attrs.frozen
class NestThrottler:
    """NestJS's throttler (``@nestjs/throttler`` 6.x), as meetergo runs it, per credential.

    A sliding log: each request counts for ``ttl`` seconds after it arrived, and one that
    would make more than ``limit`` count blocks the credential for ``block`` seconds (default
    ``ttl``). A blocked credential's requests are refused and not counted, even after the
    old ones expired; the first request after the block starts a fresh log. With
    ``block=0`` there is no block: a request over the limit is refused and not counted.

    Headers, as NestJS sends them: on an allowed request ``X-RateLimit-Limit``,
    ``X-RateLimit-Remaining`` (``limit`` minus the requests counting now) and
    ``X-RateLimit-Reset`` (whole seconds, rounded up, until a per-credential timer ends that
    starts at its first request and restarts at the first request after it ran out: not
    when the budget comes back); on a refusal only ``Retry-After`` (whole seconds until the
    block ends).

    Raises:
        ValueError: ``limit`` is below 1, ``ttl`` is not a finite number > 0, or ``block``
            is negative.
        TypeError: a value has the wrong type.
    """

    limit: int = attrs.field(validator=count)
    ttl: float = attrs.field(validator=positive)
    block: float | None = attrs.field(default=None, validator=_block_seconds)

    @property
    def block_seconds(self) -> float:
        """How long one overshoot blocks the credential (``ttl`` unless ``block`` was given)."""
        return self.ttl if self.block is None else float(self.block)


class Verdict(NamedTuple):
    """What a limiter decided about one request, and what its headers should say."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int


class Limiter(Protocol):
    """Counts requests per credential key."""

    def hit(self, key: str) -> Verdict:
        """Count one request of ``key`` and say whether it may proceed."""
        ...


def _ceil_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - _EPSILON))


@dataclass(slots=True)
class _Bucket:
    """One credential's bucket: its tokens when last counted, and that time."""

    tokens: float
    counted_at: float


class _TokenBucketLimiter:
    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(self, config: TokenBucket, clock: Clock) -> None:
        self._rate = float(config.rate)
        self._burst = config.burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self._burst), now)
        tokens = min(float(self._burst), bucket.tokens + (now - bucket.counted_at) * self._rate)
        bucket.counted_at = now
        allowed = tokens >= 1.0 - _EPSILON
        if allowed:
            tokens = max(0.0, tokens - 1.0)
        bucket.tokens = tokens
        full_in = (self._burst - tokens) / self._rate
        reset = 0 if full_in <= _EPSILON else _ceil_seconds(full_in)
        retry_after = 0 if allowed else _ceil_seconds((1.0 - tokens) / self._rate)
        remaining = math.floor(tokens + _EPSILON)
        return Verdict(allowed, self._burst, remaining, reset, retry_after)


@dataclass(slots=True)
class _Window:
    """One credential's window: when it ends and how many requests it has counted."""

    ends_at: float
    hits: int = 0


class _FixedWindowLimiter:
    __slots__ = ("_clock", "_limit", "_window", "_windows")

    def __init__(self, config: FixedWindow, clock: Clock) -> None:
        self._limit = config.limit
        self._window = float(config.window_seconds)
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.ends_at - _EPSILON:
            window = self._windows[key] = _Window(now + self._window)
        window.hits += 1
        allowed = window.hits <= self._limit
        reset = _ceil_seconds(window.ends_at - now)
        remaining = max(0, self._limit - window.hits)
        return Verdict(allowed, self._limit, remaining, reset, 0 if allowed else reset)


@dataclass(slots=True)
class _Log:
    """One credential's sliding log: arrival times, the Reset timer, the block's end."""

    timer_ends: float
    hits: deque[float] = field(default_factory=deque)
    blocked_until: float | None = None


class _NestLimiter:
    __slots__ = ("_block", "_clock", "_limit", "_logs", "_ttl")

    def __init__(self, config: NestThrottler, clock: Clock) -> None:
        self._limit = config.limit
        self._ttl = float(config.ttl)
        self._block = config.block_seconds
        self._clock = clock
        self._logs: dict[str, _Log] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = _Log(now + self._ttl)
        hits = log.hits
        while hits and hits[0] + self._ttl <= now + _EPSILON:
            hits.popleft()  # NestJS forgets each hit by a timer of ttl after it arrived
        if log.timer_ends <= now + _EPSILON:
            log.timer_ends = now + self._ttl
        reset = _ceil_seconds(log.timer_ends - now)
        if log.blocked_until is not None:
            if now < log.blocked_until - _EPSILON:
                return self._refused(reset, log.blocked_until - now)
            log.blocked_until = None  # the first request after a block starts a fresh log
            hits.clear()
        if not self._block and len(hits) >= self._limit:
            return self._refused(reset, hits[0] + self._ttl - now)
        hits.append(now)
        if len(hits) > self._limit:
            log.blocked_until = now + self._block
            return self._refused(reset, self._block)
        return Verdict(True, self._limit, self._limit - len(hits), reset, 0)

    def _refused(self, reset: int, wait: float) -> Verdict:
        return Verdict(False, self._limit, 0, reset, _ceil_seconds(wait))


def make_limiter(config: TokenBucket | FixedWindow | NestThrottler, clock: Clock) -> Limiter:
    """Build the per-credential limiter state for ``config``, reading time from ``clock``."""
    if isinstance(config, NestThrottler):
        return _NestLimiter(config, clock)
    if isinstance(config, TokenBucket):
        return _TokenBucketLimiter(config, clock)
    if isinstance(config, FixedWindow):
        return _FixedWindowLimiter(config, clock)
    raise TypeError(
        f"rate_limit must be a NestThrottler, TokenBucket, FixedWindow or None, got {config!r}"
    )


def limit_headers(
    verdict: Verdict, *, rate_headers: bool, retry_after: bool, suffix: str, nest: bool = False
) -> dict[str, str]:
    """Return the rate-limit headers for ``verdict``; ``suffix`` names a NestJS throttler.

    ``nest``: as NestJS sends them, ``X-RateLimit-*`` only on an allowed request, and with
    ``rate_headers`` off no header at all (``Retry-After`` included).
    """
    headers: dict[str, str] = {}
    if nest:
        retry_after = retry_after and rate_headers
        rate_headers = rate_headers and verdict.allowed
    if rate_headers:
        headers["X-RateLimit-Limit" + suffix] = str(verdict.limit)
        headers["X-RateLimit-Remaining" + suffix] = str(verdict.remaining)
        headers["X-RateLimit-Reset" + suffix] = str(verdict.reset)
    if retry_after and not verdict.allowed:
        headers["Retry-After" + suffix] = str(verdict.retry_after)
    return headers
