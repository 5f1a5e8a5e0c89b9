"""NestThrottler counts as @nestjs/throttler 6.x does: a sliding log, a block, its headers.

Each table is a run of requests on a hand-stepped clock: (seconds to advance first, the
credential, the verdict expected). Verdict = (allowed, limit, remaining, reset, retry_after).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from meetergo_async.testing import DEFAULT_RATE_LIMIT, NestThrottler
from meetergo_async.testing._limits import Verdict, limit_headers, make_limiter

Step = tuple[float, str, Verdict]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(config: NestThrottler, steps: list[Step]) -> None:
    clock = Clock()
    limiter = make_limiter(config, clock)
    for number, (advance, key, expected) in enumerate(steps, 1):
        clock.now += advance
        assert limiter.hit(key) == expected, f"step {number} at +{clock.now - 100.0:g}s"


def ok(remaining: int, reset: int, limit: int = 3) -> Verdict:
    return Verdict(True, limit, remaining, reset, 0)


def refused(retry_after: int, reset: int, limit: int = 3) -> Verdict:
    return Verdict(False, limit, 0, reset, retry_after)


def test_the_sandbox_counts_like_meetergo_by_default() -> None:
    assert NestThrottler(100, 60.0) == DEFAULT_RATE_LIMIT
    assert NestThrottler(100, 60.0).block_seconds == 60.0
    assert NestThrottler(100, 60.0, block=5).block_seconds == 5.0


SLIDING_LOG: list[Step] = [
    (0.0, "k", ok(2, 10)),
    (4.0, "k", ok(1, 6)),
    (4.0, "k", ok(0, 2)),
    # t=10: the first hit expired and the Reset timer ran out; a new timer starts here.
    (2.0, "k", ok(0, 10)),
    # t=14: the hit of t=4 expired: one slot again, although Reset says 6 s.
    (4.0, "k", ok(0, 6)),
]


def test_each_hit_expires_ttl_after_it_arrived() -> None:
    run(NestThrottler(3, 10.0), SLIDING_LOG)


BLOCK: list[Step] = [
    (0.0, "k", ok(2, 10)),
    (0.0, "k", ok(1, 10)),
    (0.0, "k", ok(0, 10)),
    (1.0, "k", refused(10, 9)),  # over the limit: blocked for a whole ttl from now
    (9.5, "k", refused(1, 10)),  # t=10.5: old hits expired, still blocked (not counted)
    (0.5, "k", ok(2, 10)),  # t=11: the block ended: a fresh log, this is its first hit
    (0.0, "k", ok(1, 10)),
]


def test_one_request_over_the_limit_blocks_for_a_whole_ttl_then_the_log_starts_fresh() -> None:
    run(NestThrottler(3, 10.0), BLOCK)


SHORT_BLOCK: list[Step] = [
    (0.0, "k", ok(0, 10, limit=1)),
    (0.0, "k", refused(2, 10, limit=1)),
    (1.0, "k", refused(1, 9, limit=1)),
    (1.0, "k", ok(0, 8, limit=1)),  # block of 2 s over: fresh log despite the hit of t=0
]


def test_a_block_of_its_own_length() -> None:
    run(NestThrottler(1, 10.0, block=2.0), SHORT_BLOCK)


NO_BLOCK: list[Step] = [
    (0.0, "k", ok(1, 10, limit=2)),
    (3.0, "k", ok(0, 7, limit=2)),
    (1.0, "k", refused(6, 6, limit=2)),  # refused, not counted: wait for the oldest hit
    (6.0, "k", ok(0, 10, limit=2)),  # t=10: the first hit expired
]


def test_block_zero_refuses_without_counting_or_blocking() -> None:
    run(NestThrottler(2, 10.0, block=0), NO_BLOCK)


def test_every_credential_has_its_own_log() -> None:
    run(
        NestThrottler(1, 10.0),
        [
            (0.0, "a", ok(0, 10, limit=1)),
            (0.0, "b", ok(0, 10, limit=1)),
            (0.0, "a", refused(10, 10, limit=1)),
            (0.0, "b", refused(10, 10, limit=1)),
        ],
    )


def test_requests_during_a_block_do_not_extend_it() -> None:
    run(
        NestThrottler(1, 4.0),
        [
            (0.0, "k", ok(0, 4, limit=1)),
            (0.0, "k", refused(4, 4, limit=1)),
            (1.0, "k", refused(3, 3, limit=1)),
            (1.0, "k", refused(2, 2, limit=1)),
            (2.0, "k", ok(0, 4, limit=1)),
        ],
    )


@pytest.mark.parametrize(
    ("verdict", "options", "expected"),
    [
        (
            ok(2, 7),
            {},
            {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "7"},
        ),
        (refused(5, 7), {}, {"Retry-After": "5"}),
        (
            ok(2, 7),
            {"suffix": "-short"},
            {
                "X-RateLimit-Limit-short": "3",
                "X-RateLimit-Remaining-short": "2",
                "X-RateLimit-Reset-short": "7",
            },
        ),
        (refused(5, 7), {"suffix": "-short"}, {"Retry-After-short": "5"}),
        (ok(2, 7), {"rate_headers": False}, {}),
        (refused(5, 7), {"rate_headers": False}, {}),
        (refused(5, 7), {"retry_after": False}, {}),
    ],
)
def test_headers_as_nestjs_sends_them(
    verdict: Verdict, options: dict[str, object], expected: dict[str, str]
) -> None:
    arguments: dict[str, object] = {"rate_headers": True, "retry_after": True, "suffix": ""}
    arguments.update(options)
    assert limit_headers(verdict, nest=True, **arguments) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build",
    [
        lambda: NestThrottler(0, 1.0),
        lambda: NestThrottler(1, 0.0),
        lambda: NestThrottler(1, 1.0, block=-1),
        lambda: NestThrottler(1, float("nan")),
    ],
)
def test_bad_values_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"limit|ttl|block"):
        build()
