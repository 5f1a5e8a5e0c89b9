"""One rate budget per API key for every process and host, kept in Redis: ``RedisBudget``.

Needs the ``redis`` extra (``pip install "meetergo-async[redis]"``)::

    budget = RedisBudget("redis://127.0.0.1:6379/0", SlidingWindow(100, 60.0))
    async with MeetergoClient(api_key=..., user_id=..., rate_limit=budget) as client:
        ...

Every client given a budget on the same Redis and the same API key paces against one
sliding log kept there, the way meetergo counts: at most ``limit`` requests count in any
``seconds``. One Lua script per call reserves slots and says how long to wait, on Redis's
own clock, and applies what the process learned (answers, 429s, the server's limit), so
a 429 seen by one client pauses them all. See ``docs/sharing.md``.
"""

from ..errors import BudgetUnavailableError
from ._budget import DEFAULT_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisBudget

__all__ = ["DEFAULT_PREFIX", "DEFAULT_REDIS_TIMEOUT", "BudgetUnavailableError", "RedisBudget"]
