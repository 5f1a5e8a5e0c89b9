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
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import NestThrottler
from meetergo_async.testing._limits import limit_headers, make_limiter

from ._app import NestApp
from ._timelines import (
    CONNECTIONS,
    KNOWN_DIFFERENCES,
    PLAIN,
    TIMELINES,
    Hit,
    Timeline,
    burst,
)
from ._timelines import timeline as make_timeline
from .conftest import NestApps

PATH = "/v4/calendar-connections/connections"
MODEL_START = 1000.0
"""Where the model's clock starts, in seconds (any value works; not 0, to exercise floats)."""

Headers = dict[str, str]
Answer = tuple[int, Headers]


def rate_headers(headers: Iterable[tuple[str, str]]) -> Headers:
    """The throttler's headers of a response, names lower-cased."""
    return {
        name.lower(): value
        for name, value in headers
        if name.lower().startswith(("x-ratelimit-", "retry-after"))
    }


def model_answers(timeline: Timeline, key: Callable[[Hit], object] | None = None) -> list[Answer]:
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
            verdict,
            rate_headers=options.headers,
            retry_after=True,
            suffix=options.suffix,
            nest=True,
        )
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
    stock = make_timeline(
        "stock key",
        options,
        burst(0, 4, method="GET"),
        burst(0, 4),
        burst(1, 2, method="GET"),
        burst(1, 2),
        [Hit(2001, 0, "GET"), Hit(2001, 0)],
    )
    real = await real_answers(session, nest_apps.get(options), stock)
    assert not differences(stock, real, model_answers(stock, lambda h: (h.who, h.method)))
    assert differences(stock, real, model_answers(stock))


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
