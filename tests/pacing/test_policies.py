"""The pacing policies as plain code: values in (with ``now``), decisions out, no event loop.

Each case is a script of what happened to a client (a request sent, an answer, a 429) at
given times, and what the policy must say next: how long to wait, or what it learned.
These are synchronous tests on purpose: nothing here may need a loop or a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from meetergo_async.pacing import SlidingWindow, Ticket, TokenBucket
from meetergo_async.pacing._block import BLOCK_PROBE_FIRST
from meetergo_async.pacing._bucket import BLIND_CLIMB_SECONDS, TokenBucketPolicy
from meetergo_async.pacing._lesson import RECOVERY_STEP, RECOVERY_WINDOWS, Lesson
from meetergo_async.pacing._log import EXPIRY_MARGIN, OwnLog
from meetergo_async.pacing._neighbours import NEIGHBOUR_SHARE, Neighbours
from meetergo_async.pacing._window import SlidingWindowPolicy

# -- OwnLog: a request counts from its sending until a window after its answer -------------


@pytest.mark.parametrize(
    ("answered_at", "asked_at", "live"),
    [
        (None, 100.0, 1),  # in flight: counts whatever the time
        (1.0, 1.0 + 10.0, 1),  # a window after its answer it may still count
        (1.0, 1.0 + 10.0 + EXPIRY_MARGIN, 0),  # with the margin, it has gone
        (5.0, 12.0, 1),  # sent at 0, answered at 5: counted until 15.02
    ],
)
def test_a_request_counts_until_a_window_after_its_answer(
    answered_at: float | None, asked_at: float, live: int
) -> None:
    log = OwnLog(10.0)
    log.start(1, 0.0)
    if answered_at is not None:
        log.end(1, 200, answered_at, keep=True)
    assert log.live(asked_at) == live


def test_the_next_expiry_is_the_oldest_answer_plus_a_window() -> None:
    log = OwnLog(10.0)
    for seq, (sent, ended) in enumerate([(0.0, 2.0), (1.0, 1.5)], 1):
        log.start(seq, sent)
        log.end(seq, 200, ended, keep=True)
    assert log.next_expiry() == pytest.approx(2.0 + 10.0 + EXPIRY_MARGIN)  # in end order


@pytest.mark.parametrize(
    ("statuses", "at", "surely"),
    [
        ([200, 200, 429], 5.0, 2),  # a refusal was not counted
        ([200, 200], 10.5, 0),  # sent at 0 and 0.1: more than a window ago
        ([200, 500], 5.0, 1),  # a 5xx was not accepted
    ],
)
def test_surely_accepted_counts_accepted_requests_sent_within_a_window(
    statuses: list[int], at: float, surely: int
) -> None:
    log = OwnLog(10.0)
    for seq, status in enumerate(statuses, 1):
        log.start(seq, 0.1 * (seq - 1))
        log.end(seq, status, 1.0, keep=True)
    assert log.surely_accepted(at) == surely


def test_a_restart_forgets_everything_before_the_first_request_of_a_fresh_log() -> None:
    log = OwnLog(10.0)
    for seq in (1, 2, 3):
        log.start(seq, 0.0)
        hit = log.end(seq, 200, 1.0, keep=True)
    assert hit is not None
    log.restart(hit)
    assert log.live(2.0) == 1
    assert log.surely_accepted(2.0) == 1


# -- Lesson: the limit 429s teach a client without headers ------------------------------


@dataclass
class LessonCase:
    steps: list[tuple[str, int, float]]  # ("blocked" | "quiet", count, now)
    limit: int | None
    refused_at: int | None = None
    confirmed: bool = False


SECONDS = 10.0
LESSONS = {
    "the first block teaches what was accepted": LessonCase([("blocked", 80, 5.0)], 80, 81),
    "a second refusal at that level confirms it": LessonCase(
        [("blocked", 80, 5.0), ("blocked", 80, 20.0)], 80, None, True
    ),
    "more accepted before means a neighbour's doing": LessonCase(
        [("quiet", 100, 1.0), ("blocked", 60, 5.0)], None
    ),
    "nothing of ours accepted teaches nothing": LessonCase([("blocked", 0, 5.0)], None),
    "clean windows climb back a step": LessonCase(
        [("blocked", 50, 0.0), ("quiet", 10, RECOVERY_WINDOWS * SECONDS)],
        50 + int(RECOVERY_STEP * 100),
        51,
    ),
    "less than the clean windows: no climb": LessonCase(
        [("blocked", 50, 0.0), ("quiet", 10, RECOVERY_WINDOWS * SECONDS - 0.1)], 50, 51
    ),
    "climbing back to the configured limit forgets the lesson": LessonCase(
        [("blocked", 95, 0.0), ("quiet", 10, RECOVERY_WINDOWS * SECONDS)], None, 96
    ),
    "more accepted than once refused: a neighbour caused the refusal": LessonCase(
        [("blocked", 50, 0.0), ("quiet", 51, 1.0)], 50, None
    ),
}


@pytest.mark.parametrize("case", LESSONS.values(), ids=LESSONS.keys())
def test_what_429s_teach(case: LessonCase) -> None:
    lesson = Lesson(100, 0.0)
    for kind, count, now in case.steps:
        if kind == "blocked":
            lesson.blocked(count, now, SECONDS)
        else:
            lesson.quiet(count, now, SECONDS)
    assert (lesson.limit, lesson.refused_at, lesson.confirmed) == (
        case.limit,
        case.refused_at,
        case.confirmed,
    )


# -- Neighbours: what others on the key leave us ------------------------------------------


def _neighbours_after(remaining: int, ours: int, *, at: float = 1.0) -> Neighbours:
    """A client with ``ours`` answered requests, the last answer saying ``remaining``."""
    log = OwnLog(10.0)
    hit = None
    for seq in range(1, ours + 1):
        log.start(seq, 0.0)
        hit = log.end(seq, 200, at, keep=True)
    assert hit is not None
    neighbours = Neighbours(log)
    neighbours.observe(hit, 100, remaining, at)
    return neighbours


@pytest.mark.parametrize(
    ("remaining", "ours", "quota"),
    [
        (95, 5, None),  # all counted requests are ours: alone on the key, no quota
        # 40 others appeared, new to us: taken as sending, they get half of the free slots
        # (55 free, plus the one of ours counted, less our 5 that may count).
        (55, 5, 5 + int(NEIGHBOUR_SHARE * (55 + 1 - 5))),
    ],
)
def test_a_quota_appears_only_when_the_server_counts_more_than_ours(
    remaining: int, ours: int, quota: int | None
) -> None:
    assert _neighbours_after(remaining, ours).cap(1.0) == quota


def test_a_growing_neighbour_gets_its_share_of_the_free_slots() -> None:
    log = OwnLog(10.0)
    neighbours = Neighbours(log)
    for seq, (at, remaining) in enumerate([(1.0, 89), (2.0, 69)], 1):  # 10, then 30 others
        log.start(seq, at - 0.01)
        hit = log.end(seq, 200, at, keep=True)
        assert hit is not None
        neighbours.observe(hit, 100, remaining, at)
    free = 69 + 1 - 2  # what the server had free, ours it counted back, ours that may count
    assert neighbours.cap(2.0) == 2 + int(NEIGHBOUR_SHARE * free)
    assert neighbours.cap(2.0 + 10.0) is None  # a quota lasts a window


# -- SlidingWindowPolicy: when the next request may go ------------------------------------

Step = Callable[[SlidingWindowPolicy, list[Ticket]], object]


def grant(now: float) -> Step:
    return lambda policy, tickets: tickets.append(policy.grant(now))


def answer(index: int, now: float, status: int = 200, **headers: str) -> Step:
    def step(policy: SlidingWindowPolicy, tickets: list[Ticket]) -> None:
        retry_after = float(headers.pop("retry_after")) if "retry_after" in headers else None
        named = {k.replace("_", "-"): v for k, v in headers.items()}
        policy.answered(tickets[index], status, named, retry_after, now)

    return step


@dataclass
class WindowCase:
    window: SlidingWindow | None
    steps: list[Step]
    now: float
    wait: float | None
    paused: bool = False
    rate: float | None = field(default=None)


WINDOWS = {
    "the first request goes at once": WindowCase(SlidingWindow(3, 10.0), [], 0.0, 0.0),
    "the second waits for the first answer": WindowCase(
        SlidingWindow(3, 10.0), [grant(0.0)], 0.0, None
    ),
    "under the limit, at once": WindowCase(
        SlidingWindow(3, 10.0), [grant(0.0), answer(0, 0.5), grant(0.5)], 0.6, 0.0
    ),
    "at the limit, until the oldest answer is a window old": WindowCase(
        SlidingWindow(2, 10.0),
        [grant(0.0), answer(0, 0.5), grant(0.5), answer(1, 0.7)],
        1.0,
        0.5 + 10.0 + EXPIRY_MARGIN - 1.0,
    ),
    "a lower X-RateLimit-Limit governs": WindowCase(
        SlidingWindow(10, 10.0),
        [
            grant(0.0),
            answer(0, 0.5, X_RateLimit_Limit="1", X_RateLimit_Remaining="0"),
        ],
        1.0,
        0.5 + 10.0 + EXPIRY_MARGIN - 1.0,
        rate=0.1,
    ),
    "a 429 with Retry-After pauses until it ends": WindowCase(
        SlidingWindow(10, 10.0),
        [grant(0.0), answer(0, 1.0, 429, retry_after="3")],
        2.0,
        2.0,
        paused=True,
    ),
    "a 429 without Retry-After waits for the first probe": WindowCase(
        SlidingWindow(10, 10.0),
        [grant(0.0), answer(0, 1.0, 429)],
        1.0,
        BLOCK_PROBE_FIRST,
        paused=True,
    ),
    "during a block one probe goes, whatever the log": WindowCase(
        SlidingWindow(10, 10.0),
        [grant(0.0), answer(0, 1.0, 429), grant(1.0 + BLOCK_PROBE_FIRST)],
        2.0,
        None,
        paused=True,
    ),
    "the probe's answer ends the block": WindowCase(
        SlidingWindow(10, 10.0),
        [grant(0.0), answer(0, 1.0, 429), grant(1.3), answer(1, 1.4)],
        1.5,
        0.0,
    ),
    "no window of its own: unpaced": WindowCase(None, [grant(0.0), grant(0.0)], 0.0, 0.0),
}


@pytest.mark.parametrize("case", WINDOWS.values(), ids=WINDOWS.keys())
def test_when_the_sliding_window_lets_the_next_request_go(case: WindowCase) -> None:
    policy = SlidingWindowPolicy(case.window, now=0.0)
    tickets: list[Ticket] = []
    for step in case.steps:
        step(policy, tickets)
    wait = policy.wait(case.now)
    assert wait == (None if case.wait is None else pytest.approx(case.wait))
    assert policy.paused(case.now) is case.paused
    if case.rate is not None:
        assert policy.rate == pytest.approx(case.rate)


# -- TokenBucketPolicy ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("burst", "taken", "answered", "now", "wait"),
    [
        (3, 3, None, 5.0, 1.0 / 10),  # no answer yet: the bucket has not begun to refill
        (3, 3, 1.0, 1.05, 0.05),  # refilling from the first answer at 10 a second
        (3, 2, None, 0.0, 0.0),  # a token left
        (1, 1, 1.0, 1.1, 0.0),  # refilled one
    ],
)
def test_when_the_token_bucket_lets_the_next_request_go(
    burst: int, taken: int, answered: float | None, now: float, wait: float
) -> None:
    policy = TokenBucketPolicy(TokenBucket(10.0, burst), now=0.0)
    tickets = [policy.grant(0.0) for _ in range(taken)]
    if answered is not None:
        policy.answered(tickets[0], 200, {}, None, answered)
    assert policy.wait(now) == pytest.approx(wait)


def test_a_429_pauses_the_bucket_and_lowers_its_rate() -> None:
    policy = TokenBucketPolicy(TokenBucket(10.0, 5), now=0.0)
    ticket = policy.grant(0.0)
    policy.answered(ticket, 429, {}, 2.0, 0.1)
    assert policy.paused(1.0)
    assert policy.wait(1.0) == pytest.approx(1.1)
    assert policy.rate == pytest.approx(5.0)  # halved: the 429 came at once, from a burst
    assert not policy.paused(2.2)


def test_a_halving_for_a_burst_climbs_back_when_no_429_follows() -> None:
    # Another user of the key took some tokens just before: the burst met an emptier bucket.
    policy = TokenBucketPolicy(TokenBucket(50.0, 5), now=0.0)
    first = policy.grant(0.0)
    policy.answered(first, 200, {}, None, 0.01)
    burst = [policy.grant(0.01) for _ in range(4)]
    policy.answered(burst[1], 429, {}, 1.0, 0.02)
    assert policy.rate == pytest.approx(25.0)  # halved: it came at once, nothing measured
    policy.wait(1.02 + BLIND_CLIMB_SECONDS)  # a second after the pause, no 429 since
    assert policy.rate == pytest.approx(50.0)  # back to what it was


def test_a_429_for_a_paced_request_is_evidence_and_the_rate_stays() -> None:
    policy = TokenBucketPolicy(TokenBucket(50.0, 1), now=0.0)
    first = policy.grant(0.0)
    policy.answered(first, 200, {}, None, 0.01)
    policy.wait(0.05)
    paced = policy.grant(0.05)  # one token at a time: paced, not a burst
    policy.answered(paced, 429, {}, 1.0, 0.06)
    assert policy.rate == pytest.approx(25.0)
    policy.wait(1.06 + 5 * BLIND_CLIMB_SECONDS)
    assert policy.rate == pytest.approx(25.0)  # it holds (until the slow recovery)
