"""The request timelines of the conformance test: hand-made hard cases and seeded random ones.

A timeline is a list of requests, each at a whole millisecond from the timeline's start and by
one of a few credentials, run under one throttler configuration (one app).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from typing import Literal

from ._app import NestOptions

CONNECTIONS = 4
"""Connections seeded in every app; PATCHes go to them in turn."""


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One request: ``at`` ms after the timeline's start, by credential ``who``."""

    at: int
    who: int = 0
    method: str = "PATCH"


@dataclasses.dataclass(frozen=True, slots=True)
class Timeline:
    """Requests replayed in time order (a stable sort: same-millisecond ones keep theirs)."""

    name: str
    options: NestOptions
    hits: tuple[Hit, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "hits", tuple(sorted(self.hits, key=lambda hit: hit.at)))


def app_options(
    limit: int,
    ttl_ms: int,
    block_ms: int | None = None,
    *,
    headers: bool = True,
    name: str | None = None,
    key: Literal["credential", "route"] = "credential",
) -> NestOptions:
    """An app with the fake clock on, throttling ``limit`` per ``ttl_ms`` (milliseconds)."""
    return NestOptions(
        limit=limit,
        ttl_ms=ttl_ms,
        block_ms=block_ms,
        headers=headers,
        name=name,
        key=key,
        connections=CONNECTIONS,
        fake_clock=True,
    )


# The configurations the timelines run under; each is one app.
PLAIN = app_options(5, 2000)
ROUNDING = app_options(50, 2500)
LONG_BLOCK = app_options(4, 2000, 3500)
SHORT_BLOCK = app_options(3, 3000, 1000)
NO_BLOCK = app_options(4, 2000, 0)
NAMED = app_options(5, 2000, name="short")
NO_HEADERS = app_options(5, 2000, headers=False)
NAMED_NO_HEADERS = app_options(3, 1000, headers=False, name="short")
BENCH = app_options(250, 5000)
MEETERGO = app_options(100, 60_000)
TTL = PLAIN.ttl_ms


def burst(at: int, count: int, who: int = 0, method: str = "PATCH") -> list[Hit]:
    return [Hit(at, who, method) for _ in range(count)]


def hits_at(times: Iterable[int], who: int = 0) -> list[Hit]:
    return [Hit(at, who) for at in times]


def edges(base: int, seconds: Iterable[int]) -> list[int]:
    """The millisecond before, at and after ``base`` + each whole second."""
    return [base + 1000 * s + d for s in seconds for d in (-1, 0, 1) if base + 1000 * s + d >= 0]


def timeline(name: str, options: NestOptions, *parts: Iterable[Hit]) -> Timeline:
    return Timeline(name, options, tuple(hit for part in parts for hit in part))


HARD_CASES = [
    timeline(
        "burst exactly at the limit",
        PLAIN,
        burst(0, 5),
        [Hit(TTL - 1)],
        burst(2 * TTL - 1, 1),
        burst(3 * TTL - 1, 5),
    ),
    timeline(
        "burst one over, then during and after its block",
        PLAIN,
        burst(0, 6),
        hits_at([1, 999, 1000, 1001, 1999, 2000, 2001]),
        burst(2001, 5),
    ),
    timeline(
        "just after a window: ttl - 1, ttl, ttl + 1 after a full burst",
        PLAIN,
        *(burst(0, 5, who) for who in range(3)),
        [Hit(TTL - 1, 0), Hit(TTL, 1), Hit(TTL + 1, 2)],
        [Hit(TTL, 0), Hit(TTL + 1, 1), Hit(TTL + 2, 2)],
    ),
    timeline(
        "the oldest hit expires at exactly ttl",
        PLAIN,
        hits_at([0, 500, 1000, 1500, 1999]),
        hits_at([TTL - 1, TTL, TTL + 1, TTL + 499, TTL + 500, TTL + 501]),
    ),
    timeline(
        "during and just after a block that starts mid-second",
        PLAIN,
        burst(0, 5),
        hits_at([300, 301, 1299, 1300, 1301, 2299, 2300, 2301]),
        burst(2301, 5),
        hits_at([4300, 4301]),
    ),
    timeline(
        "Reset rounding at whole-second edges (ttl 2.5 s)",
        ROUNDING,
        hits_at(sorted({0, 1, 499, 500, 501, *edges(0, range(1, 6)), 4999, 5000, 5001})),
        hits_at(edges(7321, range(4)), who=1),
    ),
    timeline(
        "block longer than ttl: Retry-After counts the block down",
        LONG_BLOCK,
        burst(10, 5),
        hits_at(edges(10, range(1, 4))),
        hits_at([3509, 3510, 3511]),
        burst(3511, 4),
    ),
    timeline(
        "block shorter than ttl: the log is wiped while hits are live",
        SHORT_BLOCK,
        burst(0, 3),
        hits_at([100, 500, 1099, 1100, 1101, 1102, 1103, 1104]),
        hits_at([2999, 3000, 3001, 4200]),
    ),
    timeline(
        "blockDuration 0: refused, not counted, Retry-After until a hit expires",
        NO_BLOCK,
        burst(0, 4),
        hits_at([1, 999, 1000, 1999, 2000]),
        hits_at([2500, 3000, 3500, 3600, 3999, 4000, 4001, 4499, 4500], who=1),
    ),
    timeline(
        "a named throttler suffixes every header",
        NAMED,
        burst(0, 7),
        hits_at([999, 1000, 2000, 2001]),
        burst(3000, 3, who=1),
    ),
    timeline(
        "headers off: no header at all, not even Retry-After",
        NO_HEADERS,
        burst(0, 7),
        hits_at([1000, 1999, 2000, 2001]),
        burst(2001, 5),
    ),
    timeline("headers off, named", NAMED_NO_HEADERS, burst(0, 5), hits_at([1000])),
    timeline(
        "several credentials each have their own budget",
        PLAIN,
        (Hit(0, who) for _ in range(6) for who in range(4)),
        (Hit(2000, who) for who in range(4)),
    ),
    timeline(
        "GET and PATCH share a credential's budget",
        PLAIN,
        [Hit(0, 0, "GET"), Hit(0, 0), Hit(1, 0, "GET"), Hit(1, 0), Hit(2, 0, "GET")],
        [Hit(3, 0), Hit(2003, 0, "GET")],
    ),
    timeline(
        "the bench's 250 per 5 s: a burst over, then a trickle",
        BENCH,
        burst(0, 260),
        (Hit(5000 + 20 * i) for i in range(300)),
    ),
    timeline(
        "meetergo's 100 per 60 s: the full minute",
        MEETERGO,
        burst(0, 100, 0),
        burst(0, 100, 1),
        hits_at([59_999, 60_000], 0),
        hits_at([60_000], 1),
        burst(60_001, 99, 1),
        hits_at([60_002, 119_999], 1),
    ),
]
"""The cases a throttler gets wrong first: exact limits, window and block edges, rounding."""


def random_hits(rng: random.Random, options: NestOptions, count: int) -> tuple[Hit, ...]:
    """Bursts, trickles, gaps and edge probes by 3 credentials, reproducible from ``rng``."""
    limit, ttl = options.limit, options.ttl_ms
    block = ttl if options.block_ms is None else options.block_ms
    hits: list[Hit] = []
    now = 0
    while len(hits) < count:
        kind = rng.choices(["burst", "trickle", "gap", "edge"], weights=[3, 3, 1, 2])[0]
        who = rng.randrange(3)
        if kind == "burst":
            hits += burst(now, rng.randint(1, limit + 2), who)
        elif kind == "trickle":
            step = rng.randint(1, max(1, 2 * ttl // limit))
            for _ in range(rng.randint(2, 2 * limit)):
                hits.append(Hit(now, rng.choice([who, who, rng.randrange(3)])))
                now += step
        elif kind == "gap":
            now += rng.randint(ttl // 4, 2 * ttl + block)
        elif hits:
            # Land on, just before or just after the moment an earlier hit expires or a
            # block of one started there ends.
            anchor = rng.choice(hits[-3 * limit :]).at + rng.choice([ttl, block, 1000])
            now = max(now, anchor + rng.choice([-1, 0, 1]))
            hits.append(Hit(now, who))
        now += rng.choice([0, 0, 1, rng.randint(1, 300)])
    return tuple(hits[:count])


RANDOM_CONFIGS = [PLAIN, ROUNDING, LONG_BLOCK, SHORT_BLOCK, NO_BLOCK, NAMED, NO_HEADERS]
RANDOM_CASES = [
    Timeline(f"seeded random #{seed}", options, random_hits(random.Random(seed), options, 150))
    for seed, options in enumerate(
        [*RANDOM_CONFIGS, PLAIN, NO_BLOCK, SHORT_BLOCK, LONG_BLOCK, ROUNDING]
    )
]

TIMELINES = HARD_CASES + RANDOM_CASES

KNOWN_DIFFERENCES: dict[str, str] = {}
"""Timelines on which NestThrottler is known to answer differently, and how (none so far)."""
