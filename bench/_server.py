"""Run a FakeMeetergo in its own process for the benchmarks; print its URL, serve until killed.

Usage: python bench/_server.py CONNECTIONS [token-bucket RATE BURST | window LIMIT SECONDS]
       [no-retry-after]
"""

from __future__ import annotations

import asyncio
import sys

from meetergo_async.testing import FakeMeetergo, FixedWindow, TokenBucket


def _rate_limit(args: list[str]) -> TokenBucket | FixedWindow | None:
    if args and args[0] == "token-bucket":
        return TokenBucket(float(args[1]), burst=int(args[2]))
    if args and args[0] == "window":
        return FixedWindow(int(args[1]), float(args[2]))
    return None


async def main() -> None:
    args = sys.argv[1:]
    fake = FakeMeetergo(
        generate=int(args[0]),
        rate_limit=_rate_limit(args[1:]),
        retry_after_header="no-retry-after" not in args,
        record_requests=False,
    )
    async with fake:
        print(fake.url, flush=True)
        await fake.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
