"""FakeMeetergo's ``NestThrottler`` answers as the real @nestjs/throttler 6.7.1 does.

Each timeline is a list of requests, each at a whole millisecond from the timeline's start
and by one of a few credentials. It is replayed twice: against the real throttler in the
NestJS app of bench/nest, whose ``Date`` is faked and set to each request's millisecond
before it is sent, and against ``make_limiter(NestThrottler(...))`` on a fake clock reading
the same instants. Every answer must have the same status and the same ``X-RateLimit-*`` and
``Retry-After`` headers (names and values), header for header.

No clock tolerance is needed: both sides see exactly the same instants (the app's clock
does not move between two requests of one millisecond), and the model's float seconds
carry those milliseconds to well within its 1e-9 s epsilon.
"""

from __future__ import annotations

import dataclasses
import email.utils
import itertools
import random
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import aiohttp
import pytest

from meetergo_async.testing import NestThrottler
from meetergo_async.testing._limits import limit_headers, make_limiter

from ._app import NestApp, NestOptions
from .conftest import NestApps

PATH = "/v4/calendar-connections/connections"
CONNECTIONS = 4
MODEL_START = 1000.0
"""Where the model's clock starts, in seconds (any value works; not 0, to exercise floats)."""

Headers = dict[str, str]
Answer = tuple[int, Headers]


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
    return NestOptions(
        limit=limit, ttl_ms=ttl_ms, block_ms=block_ms, headers=headers, name=name, key=key,
        connections=CONNECTIONS, fake_clock=True,
    )  # fmt: skip


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


def burst(at: int, count: int, who: int = 0, method: str = "PATCH") -> list[Hit]:
    return [Hit(at, who, method) for _ in range(count)]


def hits_at(times: Iterable[int], who: int = 0) -> list[Hit]:
    return [Hit(at, who) for at in times]


def edges(base: int, seconds: Iterable[int]) -> list[int]:
    """The millisecond before, at and after ``base`` + each whole second."""
    return [base + 1000 * s + d for s in seconds for d in (-1, 0, 1) if base + 1000 * s + d >= 0]


def hard_cases() -> list[Timeline]:
    """The cases a throttler gets wrong first: exact limits, window and block edges, rounding."""
    ttl = PLAIN.ttl_ms
    return [
        Timeline("burst exactly at the limit", PLAIN, tuple(
            [*burst(0, 5), Hit(ttl - 1), *burst(2 * ttl - 1, 1), *burst(3 * ttl - 1, 5)]
        )),
        Timeline("burst one over, then during and after its block", PLAIN, tuple(
            burst(0, 6) + hits_at([1, 999, 1000, 1001, 1999, 2000, 2001]) + burst(2001, 5)
        )),
        Timeline("just after a window: ttl - 1, ttl, ttl + 1 after a full burst", PLAIN, tuple(
            burst(0, 5, 0) + burst(0, 5, 1) + burst(0, 5, 2)
            + [Hit(ttl - 1, 0), Hit(ttl, 1), Hit(ttl + 1, 2)]
            + [Hit(ttl, 0), Hit(ttl + 1, 1), Hit(ttl + 2, 2)]
        )),
        Timeline("the oldest hit expires at exactly ttl", PLAIN, tuple(
            hits_at([0, 500, 1000, 1500, 1999])
            + hits_at([ttl - 1, ttl, ttl + 1, ttl + 499, ttl + 500, ttl + 501])
        )),
        Timeline("during and just after a block that starts mid-second", PLAIN, tuple(
            burst(0, 5) + hits_at([300, 301, 1299, 1300, 1301, 2299, 2300, 2301])
            + burst(2301, 5) + hits_at([4300, 4301])
        )),
        Timeline("Reset rounding at whole-second edges (ttl 2.5 s)", ROUNDING, tuple(
            hits_at(sorted({0, 1, 499, 500, 501, *edges(0, range(1, 6)), 4999, 5000, 5001}))
            + hits_at(edges(7321, range(4)), who=1)
        )),
        Timeline("block longer than ttl: Retry-After counts the block down", LONG_BLOCK, tuple(
            burst(10, 5) + hits_at(edges(10, range(1, 4)))
            + hits_at([3509, 3510, 3511]) + burst(3511, 4)
        )),
        Timeline("block shorter than ttl: the log is wiped while hits are live", SHORT_BLOCK,
                 tuple(burst(0, 3) + hits_at([100, 500, 1099, 1100, 1101, 1102, 1103, 1104])
                       + hits_at([2999, 3000, 3001, 4200]))),
        Timeline("blockDuration 0: refused, not counted, Retry-After until a hit expires",
                 NO_BLOCK, tuple(
                     burst(0, 4) + hits_at([1, 999, 1000, 1999, 2000])
                     + hits_at([2500, 3000, 3500, 3600, 3999, 4000, 4001, 4499, 4500], who=1)
                 )),
        Timeline("a named throttler suffixes every header", NAMED, tuple(
            burst(0, 7) + hits_at([999, 1000, 2000, 2001]) + burst(3000, 3, who=1)
        )),
        Timeline("headers off: no header at all, not even Retry-After", NO_HEADERS, tuple(
            burst(0, 7) + hits_at([1000, 1999, 2000, 2001]) + burst(2001, 5)
        )),
        Timeline("headers off, named", NAMED_NO_HEADERS, tuple(burst(0, 5) + hits_at([1000]))),
        Timeline("several credentials each have their own budget", PLAIN, tuple(
            [*(Hit(0, who) for _ in range(6) for who in range(4)),
             *(Hit(2000, who) for who in range(4))]
        )),
        Timeline("GET and PATCH share a credential's budget", PLAIN, tuple(
            [Hit(0, 0, "GET"), Hit(0, 0), Hit(1, 0, "GET"), Hit(1, 0), Hit(2, 0, "GET"),
             Hit(3, 0), Hit(2003, 0, "GET")]
        )),
        Timeline("the bench's 250 per 5 s: a burst over, then a trickle", BENCH, tuple(
            burst(0, 260) + [Hit(5000 + 20 * i) for i in range(300)]
        )),
        Timeline("meetergo's 100 per 60 s: the full minute", MEETERGO, tuple(
            burst(0, 100, 0) + burst(0, 100, 1) + hits_at([59_999, 60_000], 0)
            + hits_at([60_000], 1) + burst(60_001, 99, 1) + hits_at([60_002, 119_999], 1)
        )),
    ]  # fmt: skip


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


def random_cases() -> list[Timeline]:
    configs = [PLAIN, ROUNDING, LONG_BLOCK, SHORT_BLOCK, NO_BLOCK, NAMED, NO_HEADERS, PLAIN,
               NO_BLOCK, SHORT_BLOCK, LONG_BLOCK, ROUNDING]  # fmt: skip
    return [
        Timeline(f"seeded random #{seed}", options, random_hits(random.Random(seed), options, 150))
        for seed, options in enumerate(configs)
    ]


TIMELINES = hard_cases() + random_cases()

KNOWN_DIFFERENCES: dict[str, str] = {}
"""Timelines on which NestThrottler is known to answer differently, and how (none so far)."""


def rate_headers(headers: Iterable[tuple[str, str]]) -> Headers:
    """The throttler's headers of a response, names lower-cased."""
    return {
        name.lower(): value
        for name, value in headers
        if name.lower().startswith(("x-ratelimit-", "retry-after"))
    }


def model_answers(timeline: Timeline, key: Any = None) -> list[Answer]:
    """What ``NestThrottler`` answers; ``key(hit)`` is the limiter key (default: ``who``)."""
    options = timeline.options
    block = None if options.block_ms is None else options.block_ms / 1000
    config = NestThrottler(options.limit, options.ttl_ms / 1000, block)
    now = MODEL_START
    limiter = make_limiter(config, lambda: now)
    answers: list[Answer] = []
    for hit in timeline.hits:
        now = MODEL_START + hit.at / 1000
        verdict = limiter.hit(str(hit.who if key is None else key(hit)))
        headers = limit_headers(
            verdict, rate_headers=options.headers, retry_after=True, suffix=options.suffix,
            nest=True,
        )  # fmt: skip
        answers.append((200 if verdict.allowed else 429, rate_headers(headers.items())))
    return answers


_run = itertools.count()


async def real_answers(
    session: aiohttp.ClientSession, app: NestApp, timeline: Timeline
) -> list[Answer]:
    """What the real throttler answers, its clock set to each request's millisecond."""
    run = next(_run)  # fresh credentials: each timeline starts with no state in the app
    async with session.get(app.clock_url) as resp:
        start = now = int((await resp.json())["now"])
    answers: list[Answer] = []
    for number, hit in enumerate(timeline.hits):
        if start + hit.at != now:
            now = start + hit.at
            async with session.post(app.clock_url, json={"set": now}) as resp:
                assert resp.status == 200, await resp.text()
        headers = {"Authorization": f"Bearer run{run}-credential{hit.who}"}
        url = f"{app.url}{PATH}"
        body = None
        if hit.method == "PATCH":
            url += f"/conn-{number % CONNECTIONS:04d}"
            body = {"primaryCalendar": f"cal-{number}"}
        async with session.request(hit.method, url, headers=headers, json=body) as resp:
            await resp.read()
            assert resp.status in (200, 429), f"request {number}: {resp.status}"
            answers.append((resp.status, rate_headers(resp.headers.items())))
    return answers


def differences(timeline: Timeline, real: Sequence[Answer], model: Sequence[Answer]) -> list[str]:
    found = []
    for number, (hit, want, got) in enumerate(zip(timeline.hits, real, model, strict=True)):
        if want != got:
            found.append(
                f"#{number} {hit.method} at +{hit.at} ms by credential {hit.who}: "
                f"real {want[0]} {want[1]}, NestThrottler {got[0]} {got[1]}"
            )
    return found


@pytest.fixture
async def session() -> Any:
    connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection, requests in order
    async with aiohttp.ClientSession(connector=connector) as client:
        yield client


def test_the_timelines_are_enough() -> None:
    assert len(TIMELINES) >= 20
    assert sum(len(t.hits) for t in TIMELINES) >= 2000
    assert len({t.name for t in TIMELINES}) == len(TIMELINES)


@pytest.mark.parametrize("timeline", TIMELINES, ids=[t.name for t in TIMELINES])
async def test_nest_throttler_answers_as_the_real_one(
    timeline: Timeline, nest_apps: NestApps, session: aiohttp.ClientSession
) -> None:
    real = await real_answers(session, nest_apps.get(timeline.options), timeline)
    model = model_answers(timeline)
    found = differences(timeline, real, model)
    known = KNOWN_DIFFERENCES.get(timeline.name, "")
    assert not found, (
        f"{len(found)} of {len(real)} answers differ{f' (known: {known})' if known else ''}:\n"
        + "\n".join(found[:40])
    )


async def test_the_stock_key_gives_each_route_its_own_budget(
    nest_apps: NestApps, session: aiohttp.ClientSession
) -> None:
    """The throttler's own ``generateKey`` keys on controller and handler too.

    So with it one credential has a budget per route: NestThrottler keyed by
    (credential, route) answers as it does, and keyed by credential alone (as FakeMeetergo
    counts) it does not.
    """
    options = dataclasses.replace(PLAIN, key="route")
    timeline = Timeline("stock key", options, tuple(
        burst(0, 4, method="GET") + burst(0, 4) + burst(1, 2, method="GET") + burst(1, 2)
        + [Hit(2001, 0, "GET"), Hit(2001, 0)]
    ))  # fmt: skip
    real = await real_answers(session, nest_apps.get(options), timeline)
    assert not differences(timeline, real, model_answers(timeline, lambda h: (h.who, h.method)))
    assert differences(timeline, real, model_answers(timeline))


async def test_a_request_without_a_bearer_token_is_refused_and_not_counted(
    nest_apps: NestApps, session: aiohttp.ClientSession
) -> None:
    app = nest_apps.get(PLAIN)
    url = f"{app.url}{PATH}"
    async with session.get(url) as resp:
        assert resp.status == 401
        assert not rate_headers(resp.headers.items())
    headers = {"Authorization": "Bearer unauthenticated-then-counted"}
    async with session.get(url, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["X-RateLimit-Remaining"] == str(PLAIN.limit - 1)


async def test_the_fake_clock_leaves_keep_alive_and_the_date_header_alone(
    nest_apps: NestApps, session: aiohttp.ClientSession
) -> None:
    """Only ``Date`` is faked: Node's HTTP server keeps its real timers and its real Date."""
    options = dataclasses.replace(PLAIN, trace=True)
    app = nest_apps.get(options)
    async with session.get(app.trace_url) as resp:
        await resp.read()  # clear what an earlier test left
    headers = {"Authorization": "Bearer keep-alive"}
    for step in range(20):
        async with session.post(app.clock_url, json={"tick": 3_600_000}) as resp:
            assert (await resp.json())["now"] == options.now_ms + 3_600_000 * (step + 1)
        async with session.get(f"{app.url}{PATH}", headers=headers) as resp:
            await resp.read()
            assert resp.status == 200
            sent = email.utils.parsedate_to_datetime(resp.headers["Date"]).timestamp()
            assert abs(sent - time.time()) < 60  # real time, not the fake clock's
    async with session.get(app.trace_url) as resp:
        traced = await resp.json()
    assert len(traced["requests"]) == 20
    assert traced["connections"] == 0  # the one connection was opened before the trace read
