"""``RedisBudget``: the rate budget of each API key, kept in Redis for every client of it."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .._validate import check_count, check_instance, check_positive, check_text
from ..errors import ArgumentTypeError, ArgumentValueError
from ..pacing import DEFAULT_RATE_LIMIT, SlidingWindow
from ._binding import Binding
from ._limiter import RedisLimiter
from ._script import Keys, budget_keys

__all__ = ["DEFAULT_PREFIX", "DEFAULT_REDIS_TIMEOUT", "RedisBudget"]

DEFAULT_PREFIX: Final = "meetergo-async"
"""The start of every key a budget keeps in Redis."""
DEFAULT_REDIS_TIMEOUT: Final = 0.5
"""Seconds one call to Redis may take (connecting included) before Redis counts as down."""
PRESENCE_WINDOWS: Final = 2
"""A client counts as using the budget for this many windows (at least 10 s) after a call."""
_URL_SCHEMES: Final = ("redis://", "rediss://", "unix://")
_UNAVAILABLE: Final = ("local", "raise")


class RedisBudget:
    """The rate budget of each API key, shared through Redis by every client that uses it.

    Give it to ``MeetergoClient(rate_limit=budget)``. Clients with the same API key and the
    same Redis (and ``prefix``) share one budget; clients with different keys, even on one
    ``RedisBudget``, each have their own. The key of a budget in Redis is a hash of the API
    key, never the key itself.

    Args:
        redis: a URL (``redis://``, ``rediss://``, ``unix://``) of one server, from which
            each client opens its own connections and closes them with itself; or a
            ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` client, which
            clients share and never close.
        window: the budget: at most ``limit`` requests in any ``seconds`` (meetergo's
            100 in 60 s by default).
        prefix: the start of every key this budget keeps in Redis.
        on_unavailable: when Redis does not answer: ``"local"`` paces each client on its
            own at the limit divided by ``local_share`` and logs one warning; ``"raise"``
            fails calls at once with ``BudgetUnavailableError``, nothing sent. Either
            way clients try Redis again every second and go back to it when it answers.
        local_share: the divisor for ``"local"``; by default the number of clients seen
            on the budget recently (at least 1).
        timeout: seconds one call to Redis may take, connecting included.

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range.
    """

    def __init__(
        self,
        redis: str | aioredis.Redis | aioredis.RedisCluster,
        window: SlidingWindow = DEFAULT_RATE_LIMIT,
        *,
        prefix: str = DEFAULT_PREFIX,
        on_unavailable: Literal["local", "raise"] = "local",
        local_share: int | None = None,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        _check_redis(redis)
        check_instance("window", window, SlidingWindow)
        check_text("prefix", prefix)
        if "{" in prefix or "}" in prefix:
            raise ArgumentValueError(
                "prefix", "{name} must not contain braces: they make the hash tag"
            )
        if on_unavailable not in _UNAVAILABLE:
            raise ArgumentValueError(
                "on_unavailable", f"{{name}} must be 'local' or 'raise', got {on_unavailable!r}"
            )
        if local_share is not None:
            check_count("local_share", local_share)
        check_positive("timeout", timeout)
        self._redis = redis
        self.window = window
        self.prefix = prefix
        self.on_unavailable = on_unavailable
        self.local_share = local_share
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        where = "a given client" if not isinstance(self._redis, str) else "a URL"
        return (
            f"<RedisBudget {self.window.limit} per {self.window.seconds:g}s on {where}, "
            f"prefix={self.prefix!r}, on_unavailable={self.on_unavailable!r}>"
        )

    def keys(self, api_key: str) -> Keys:
        """The Redis keys of ``api_key``'s budget (all under one hash tag)."""
        return budget_keys(self.prefix, api_key)

    def limiter_for(
        self,
        api_key: str,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        max_pause: float = math.inf,
        attempt_timeout: float,
    ) -> RedisLimiter:
        """Make the limiter of one client of ``api_key`` (``MeetergoClient`` calls this)."""
        seconds = self.window.seconds
        binding = Binding(
            connect=self._connect,
            keys=self.keys(api_key),
            window=self.window,
            raise_when_down=self.on_unavailable == "raise",
            local_share=self.local_share,
            timeout=self.timeout,
            presence=max(PRESENCE_WINDOWS * seconds, 10.0),
        )
        return RedisLimiter(
            binding, clock=clock, sleep=sleep, max_pause=max_pause, flight=attempt_timeout
        )

    def _connect(self) -> tuple[Any, bool]:
        """The client to use, and whether the caller owns it (it opened it from the URL)."""
        if not isinstance(self._redis, str):
            return self._redis, False
        client = aioredis.from_url(
            self._redis,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # a failure goes to the fallback, not to retries
        )
        return client, True


def _check_redis(redis: object) -> None:
    if isinstance(redis, str):
        if not redis.startswith(_URL_SCHEMES):
            raise ArgumentValueError(
                "redis", "{name} must be a redis://, rediss:// or unix:// URL, or a client"
            )
        return
    if not isinstance(redis, aioredis.Redis | aioredis.RedisCluster):
        kind = type(redis).__name__
        raise ArgumentTypeError(
            "redis", f"{{name}} must be a URL or a redis.asyncio client, got {kind}"
        )
