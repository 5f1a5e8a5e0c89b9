"""What one call costs the client itself, without a socket: CPU microseconds per call.

A ``MockTransport`` answers at once, so all that is measured is the SDK: building the call,
pacing, the retry layer, reading the answer. Side by side in one run:

- ``succeeds at once``: one attempt, answered 200 (the usual call);
- ``... through tenacity from the start``: the same call, but the client built tenacity's
  ``AsyncRetrying`` before the first attempt, as a plain retry loop would: the difference
  is what sending the first attempt bare (``_call.Caller.call``) saves each call.

    python bench/call_cost.py [--calls 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from _common import API_KEY, USER_ID, median, table

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, RetryPolicy
from meetergo_async._call import Call, Caller
from meetergo_async._retry import _build
from meetergo_async.testing import MockTransport, Request, Response, json_response

UPDATE = CalendarConnectionUpdate(validate_availability=True)
OK = json_response({"id": "conn-1", "validateAvailability": True})


def ok(request: Request) -> Response:
    return OK


@contextlib.contextmanager
def tenacity_from_the_start() -> Iterator[None]:
    """Make every call build its ``AsyncRetrying`` before its first attempt."""

    async def always(self: Caller, call: Call) -> Any:
        result = await _build(self._retry_context(call))(partial(self._attempt, call))
        return result, call.attempts

    bare = Caller.call
    Caller.call = always  # type: ignore[method-assign]
    try:
        yield
    finally:
        Caller.call = bare  # type: ignore[method-assign]


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def cost(transport: MockTransport, calls: int) -> float:
    """CPU microseconds per call over ``calls`` sequential calls."""
    policy = RetryPolicy(initial_backoff=0.0)
    client = MeetergoClient(
        API_KEY,
        user_id=USER_ID,
        transport=transport,
        rate_limit=None,
        retry=policy,
        sleep=_no_wait,
    )
    async with client:
        for _ in range(200):  # warm up
            await client.update_calendar_connection("conn-1", UPDATE)
        started = time.process_time()
        for _ in range(calls):
            await client.update_calendar_connection("conn-1", UPDATE)
        return (time.process_time() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    first = "succeeds at once"
    always = "... through tenacity from the start"
    samples: dict[str, list[float]] = {first: [], always: []}
    for _ in range(args.rounds):
        samples[first].append(asyncio.run(cost(MockTransport(ok), args.calls)))
        with tenacity_from_the_start():
            samples[always].append(asyncio.run(cost(MockTransport(ok), args.calls)))
    rows = [
        [name, round(median(values), 1), f"{min(values):.1f}-{max(values):.1f}"]
        for name, values in samples.items()
    ]
    print(f"{args.calls} calls a round, {args.rounds} rounds, medians")
    print(table(["call", "CPU us/call", "range"], rows))
    saved = [b - a for a, b in zip(samples[first], samples[always], strict=True)]
    print(f"sending the first attempt bare saves {median(saved):.1f} us a call ", end="")
    print(f"({min(saved):.1f}-{max(saved):.1f}), paired within each round")


if __name__ == "__main__":
    main()
