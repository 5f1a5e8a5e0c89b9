"""Test your meetergo code without meetergo: ``FakeMeetergo``, a local sandbox server.

``FakeMeetergo`` imitates meetergo's calendar-connection API on 127.0.0.1: it keeps
connections, checks credentials the way meetergo does, rate-limits per credential, answers
with meetergo's (NestJS) error bodies, and can inject faults reproducibly from a seed::

    from meetergo_async.testing import FakeMeetergo

    async with FakeMeetergo(generate=3) as fake:
        ...  # point your code at fake.url with fake.api_key and fake.user_id
        assert fake.update_counts["conn-0001"] == 1

The pytest plugin of this package adds a ``fake_meetergo`` fixture that yields a started
``FakeMeetergo``; see ``docs/testing.md``.
"""

from __future__ import annotations

from meetergo_async._fake_http import (
    DEFAULT_API_KEY,
    DEFAULT_PERSONAL_TOKEN,
    DEFAULT_USER_ID,
    DROPPED,
    RecordedRequest,
)
from meetergo_async._fake_limits import FixedWindow, TokenBucket
from meetergo_async._fake_options import DEFAULT_FAIL_STATUSES, DEFAULT_RATE_LIMIT
from meetergo_async._fake_server import FakeMeetergo

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_FAIL_STATUSES",
    "DEFAULT_PERSONAL_TOKEN",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_USER_ID",
    "DROPPED",
    "FakeMeetergo",
    "FixedWindow",
    "RecordedRequest",
    "TokenBucket",
]
