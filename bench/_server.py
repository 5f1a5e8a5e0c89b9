"""Run a FakeMeetergo in its own process for the benchmarks; print its URL, serve until killed.

Usage: python bench/_server.py CONNECTIONS [LIMIT] [no-headers] [no-retry-after]
       [suffix=-NAME] [fail=RATE] [latency=SECONDS]
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
        latency=float(_option(args, "latency", "0")),
        record_requests=False,
    )
    async with fake:
        print(fake.url, flush=True)
        await fake.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
