"""Building the limiter of a client from what it was given, and releasing it.

``make_limiter`` turns a client's ``rate_limit`` into its ``Pacer``: a gate around the
sliding-window policy (a ``SlidingWindow``, or ``None``: no limit of its own, the server's
headers and 429s still apply) or the token-bucket one (a ``TokenBucket``), or what a
``SharedBudget`` makes. A shared budget's limiter may hold connections, which
``close_limiter`` releases when the client closes.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ._bucket import TokenBucketPolicy
from ._config import SlidingWindow, TokenBucket
from ._gate import Gate
from ._learning import LearningPolicy
from ._protocol import Pacer, Policy, SharedBudget
from ._window import SlidingWindowPolicy

__all__ = ["close_limiter", "make_limiter", "sliding_window_limiter"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@runtime_checkable
class _Closing(Protocol):
    async def aclose(self) -> None: ...


def sliding_window_limiter(
    window: SlidingWindow | None, *, clock: Clock, sleep: Sleep, max_pause: float = math.inf
) -> Gate:
    """The in-process limiter of a sliding window (``None``: no limit of its own)."""
    policy = SlidingWindowPolicy(window, now=clock(), max_pause=max_pause)
    return Gate(policy, clock=clock, sleep=sleep)


def token_bucket_limiter(
    bucket: TokenBucket | None, *, clock: Clock, sleep: Sleep, max_pause: float = math.inf
) -> Gate:
    """The in-process limiter of a token bucket (``None``: pace only after 429s and headers).

    A configured bucket learns how the server counts (``_learning``); a server that keeps
    a sliding log is paced as one, never faster than the bucket's rate.
    """
    now = clock()
    policy: Policy
    if bucket is None:
        policy = TokenBucketPolicy(None, now=now, max_pause=max_pause)
    else:
        policy = LearningPolicy(bucket, now=now, max_pause=max_pause)
    return Gate(policy, clock=clock, sleep=sleep)


def make_limiter(
    rate_limit: TokenBucket | SlidingWindow | SharedBudget | None,
    *,
    clock: Clock,
    sleep: Sleep,
    attempt_timeout: float,
    max_pause: float = math.inf,
    api_key: str = "",
) -> Pacer:
    """Build the limiter for ``rate_limit``.

    A ``SharedBudget`` makes it, bound to ``api_key``; an attempt stays in flight at most
    ``attempt_timeout`` seconds.
    """
    if isinstance(rate_limit, SharedBudget):
        return rate_limit.limiter_for(
            api_key, clock=clock, sleep=sleep, max_pause=max_pause, attempt_timeout=attempt_timeout
        )
    if isinstance(rate_limit, TokenBucket):
        return token_bucket_limiter(rate_limit, clock=clock, sleep=sleep, max_pause=max_pause)
    return sliding_window_limiter(rate_limit, clock=clock, sleep=sleep, max_pause=max_pause)


async def close_limiter(limiter: Pacer) -> None:
    """Release what ``limiter`` holds (a shared budget's connections); others hold nothing."""
    if isinstance(limiter, _Closing):
        await limiter.aclose()
