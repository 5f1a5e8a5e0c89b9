"""Pacing: how a client keeps to a rate limit, and what a shared budget implements.

A client paces every attempt through one limiter (a ``Pacer``). It is configured with a
``SlidingWindow`` (meetergo's way of counting: the default), a ``TokenBucket``, or a
``SharedBudget`` that keeps the budget outside the process
(``meetergo_async.redis.RedisBudget``). To keep a budget elsewhere, implement
``SharedBudget`` and the ``Pacer`` it returns; each turn is a ``Ticket``. A limiter that
is also a ``Forecaster`` says when requests may go (progress ETAs, dry runs).
"""

from ._config import DEFAULT_RATE_LIMIT, Priority, SlidingWindow, TokenBucket
from ._protocol import Forecaster, Pacer, SharedBudget, Ticket

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "Forecaster",
    "Pacer",
    "Priority",
    "SharedBudget",
    "SlidingWindow",
    "Ticket",
    "TokenBucket",
]
