"""Run a FakeMeetergo in its own process for the benchmarks; print its URL, serve until killed.

Usage: python bench/_server.py CONNECTIONS [LIMIT] [no-headers] [no-retry-after]
       [suffix=-NAME] [fail=RATE] [drop=RATE] [latency=SECONDS] [jitter=SECONDS]
       [refuse=503] [control]
With ``control`` it reads commands on stdin: ``down SECONDS`` stops serving (connections are
refused), starts again on the same port with the same state after SECONDS, and prints
``up`` when it is back.
LIMIT: token-bucket RATE BURST | window LIMIT SECONDS | nest LIMIT TTL (NestJS's throttler)
The server accepts a second API key, VERIFY_KEY in _common, with a budget of its own, so a
benchmark can read the final state without spending the measured key's budget.
"""

from __future__ import annotations

import asyncio
import sys

from _common import API_KEY, VERIFY_KEY

from meetergo_async.testing import FakeMeetergo, FixedWindow, NestThrottler, TokenBucket

Limit = TokenBucket | FixedWindow | NestThrottler | None


def _rate_limit(args: list[str]) -> Limit:
    if args and args[0] == "token-bucket":
        return TokenBucket(float(args[1]), burst=int(args[2]))
    if args and args[0] == "window":
        return FixedWindow(int(args[1]), float(args[2]))
    if args and args[0] == "nest":
        return NestThrottler(int(args[1]), float(args[2]))
    return None


def _option(args: list[str], name: str, default: str) -> str:
    found = [a.partition("=")[2] for a in args if a.startswith(name + "=")]
    return found[-1] if found else default


async def main() -> None:
    args = sys.argv[1:]
    fake = FakeMeetergo(
        generate=int(args[0]),
        api_keys=(API_KEY, VERIFY_KEY),
        rate_limit=_rate_limit(args[1:]),
        rate_limit_headers=False if "no-headers" in args else None,
        retry_after_header="no-retry-after" not in args,
        header_suffix=_option(args, "suffix", ""),
        fail_rate=float(_option(args, "fail", "0")),
        fail_statuses=(503,),
        drop_before_rate=float(_option(args, "drop", "0")) / 2,
        drop_after_rate=float(_option(args, "drop", "0")) / 2,
        latency=float(_option(args, "latency", "0")),
        count_jitter=float(_option(args, "jitter", "0")),
        rate_limit_status=int(_option(args, "refuse", "429")),
        record_requests=False,
    )
    async with fake:
        print(fake.url, flush=True)
        if "control" in args:
            await _obey(fake)
        await fake.serve_forever()


async def _obey(fake: FakeMeetergo) -> None:
    """Follow ``down SECONDS`` commands on stdin until it closes."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command, _, seconds = line.partition(" ")
        if command == "down":
            await fake.close()
            await asyncio.sleep(float(seconds))
            await fake.start()
            print("up", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
