"""Test your meetergo code without meetergo: ``FakeMeetergo``, a local sandbox server.

``FakeMeetergo`` imitates meetergo's calendar-connection API on 127.0.0.1: it keeps
connections, checks credentials the way meetergo does, rate-limits per credential, answers
with meetergo's (NestJS) error bodies, and can inject faults reproducibly from a seed::

    from meetergo_async.testing import FakeMeetergo

    async with FakeMeetergo(generate=3) as fake:
        ...  # point your code at fake.url with fake.api_key and fake.user_id
        assert fake.update_counts["conn-0001"] == 1

The pytest plugin of this package adds a ``fake_meetergo`` fixture that yields a started
``FakeMeetergo``; see ``docs/testing.md``. To test code that uses the client without any
socket, ``MockTransport`` answers its requests from a function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meetergo_async._transport import Request, Response
from meetergo_async.testing._limits import FixedWindow, NestThrottler, TokenBucket
from meetergo_async.testing._mock import Handler, MockTransport, error_response, json_response
from meetergo_async.testing._options import DEFAULT_FAIL_STATUSES, DEFAULT_RATE_LIMIT
from meetergo_async.testing._protocol import (
    DEFAULT_API_KEY,
    DEFAULT_PERSONAL_TOKEN,
    DEFAULT_USER_ID,
    DROPPED,
    RecordedRequest,
)

if TYPE_CHECKING:
    from meetergo_async.testing._server import FakeMeetergo

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_FAIL_STATUSES",
    "DEFAULT_PERSONAL_TOKEN",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_USER_ID",
    "DROPPED",
    "FakeMeetergo",
    "FixedWindow",
    "Handler",
    "MockTransport",
    "NestThrottler",
    "RecordedRequest",
    "Request",
    "Response",
    "TokenBucket",
    "error_response",
    "json_response",
]


if not TYPE_CHECKING:  # a type checker sees the import above, and no catch-all attribute

    def __getattr__(name: str) -> Any:
        # FakeMeetergo loads aiohttp.web. The pytest plugin lives in this package, so
        # pytest imports this module in every run: load the server when it is first used.
        if name == "FakeMeetergo":
            from meetergo_async.testing._server import FakeMeetergo

            globals()[name] = FakeMeetergo
            return FakeMeetergo
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
