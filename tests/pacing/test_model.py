"""How the client tells the server's model apart, from recorded answer sequences.

First the detector on its own, then the learning policy of a ``TokenBucket`` fed what each
kind of server answers (a fake clock: plain values, no event loop).
"""

from __future__ import annotations

import pytest

from meetergo_async.pacing import Ticket, TokenBucket
from meetergo_async.pacing._learning import LearningPolicy
from meetergo_async.pacing._model import LONG_REFUSAL, ServerModel, ServerModelDetector

SLIDING = ServerModel.SLIDING_LOG
BUCKET = ServerModel.TOKEN_BUCKET
UNKNOWN = ServerModel.UNKNOWN

# -- the detector ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "model"),
    [
        ([], UNKNOWN),
        ([("told",)], SLIDING),  # a window described: assumed from the first answer
        ([("told",), ("refused", 5.0)], SLIDING),  # and a block of a window confirms it
        ([("refused", 1.0)], BUCKET),  # a token comes back within a second
        ([("told",), ("refused", 1.0)], BUCKET),  # headers of a bucket, then its short 429
        ([("refused", None)], UNKNOWN),  # without Retry-After: how long it lasts tells
        ([("refused", None), ("ended", 5.25)], SLIDING),
        ([("refused", None), ("ended", 0.25)], BUCKET),
        ([("refused", None), ("ended", LONG_REFUSAL)], SLIDING),
        ([("told",), ("contradicted",)], SLIDING),  # once may be noise
        ([("told",), ("contradicted",), ("contradicted",)], BUCKET),
        ([("contradicted",), ("contradicted",), ("told",), ("refused", 60.0)], BUCKET),
        ([("refused", 1.0), ("refused", 60.0)], BUCKET),  # a bucket, once known, stays
    ],
)
def test_the_detector_decides_by_the_evidence(
    events: list[tuple[object, ...]], model: object
) -> None:
    detector = ServerModelDetector()
    for event, *args in events:
        if event == "told":
            detector.told()
        elif event == "refused":
            detector.refused(args[0])  # type: ignore[arg-type]
        elif event == "ended":
            detector.refusal_ended(args[0])  # type: ignore[arg-type]
        else:
            detector.contradicted()
    assert detector.model is model


# -- the learning policy of a TokenBucket, fed recorded answers --------------------------


def nest_headers(remaining: int, reset: int = 5, limit: int = 250) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


def send(policy: LearningPolicy, now: float, count: int) -> list[Ticket]:
    tickets = []
    for _ in range(count):
        assert policy.wait(now) == 0.0
        tickets.append(policy.grant(now))
    return tickets


def test_against_nestjs_with_headers_it_paces_the_window_at_once() -> None:
    policy = LearningPolicy(TokenBucket.per_second(200, burst=1000), now=0.0)
    [first] = send(policy, 0.0, 1)
    assert policy.wait(0.0) is None  # the first answer tells whether others use the key
    policy.answered(first, 200, nest_headers(249), None, 0.05)
    assert policy.model is SLIDING
    assert policy.rate == pytest.approx(250 / 5)  # the server's 250 in 5 s, under 1000 in 5 s
    tickets = send(policy, 0.1, 249)
    for ticket in tickets:
        policy.answered(ticket, 200, nest_headers(0), None, 0.2)
    wait = policy.wait(0.3)  # the bucket would send on: the window says when one expires
    assert wait == pytest.approx(0.05 + 5.0 + 0.02 - 0.3)


def test_the_window_is_never_paced_faster_than_the_buckets_rate() -> None:
    policy = LearningPolicy(TokenBucket.per_second(10, burst=1), now=0.0)
    [first] = send(policy, 0.0, 1)
    policy.answered(first, 200, nest_headers(249), None, 0.05)
    assert policy.rate == pytest.approx(50 / 5)  # 10/s over a 5 s window: 50, not 250


def test_against_nestjs_without_headers_a_block_teaches_its_window() -> None:
    policy = LearningPolicy(TokenBucket.per_second(200, burst=1000), now=0.0)
    [first] = send(policy, 0.0, 1)
    policy.answered(first, 200, {}, None, 0.01)
    tickets = send(policy, 0.02, 260)  # the bucket's burst: the server takes 250
    for ticket in tickets[:249]:
        policy.answered(ticket, 200, {}, None, 0.1)
    for ticket in tickets[249:]:
        policy.answered(ticket, 429, {}, None, 0.1)  # blocked: no header says for how long
    assert policy.model is UNKNOWN
    assert policy.bucket.rate == 200  # no cut: a refusal that lasts is not "too fast"
    now = 0.1
    while policy.wait(now) != 0.0:  # probes, further and further apart
        now += policy.wait(now) or 0.01
        if policy.wait(now) == 0.0:
            [probe] = send(policy, now, 1)
            accepted = now >= 0.1 + 5.0
            policy.answered(probe, 200 if accepted else 429, {}, None, now + 0.01)
            now += 0.01
            if accepted:
                break
    assert policy.model is SLIDING
    assert policy.rate == pytest.approx(250 / policy.window._log.seconds, rel=0.01)
    assert 5.0 <= policy.window._log.seconds < 6.0  # the block's length: a window


def test_against_a_token_bucket_a_short_retry_after_keeps_the_bucket() -> None:
    policy = LearningPolicy(TokenBucket.per_second(200, burst=40), now=0.0)
    [first] = send(policy, 0.0, 1)
    policy.answered(first, 200, {}, None, 0.01)
    tickets = send(policy, 0.02, 39)
    for ticket in tickets[:9]:
        policy.answered(ticket, 200, {}, None, 0.05)
    for ticket in tickets[9:]:
        policy.answered(ticket, 429, {"Retry-After": "1"}, 1.0, 0.05)
    assert policy.model is BUCKET
    assert policy.paused(0.5)  # the bucket's pause for Retry-After
    assert policy.wait(0.5) == pytest.approx(0.55)


def test_against_a_token_bucket_without_retry_after_a_quick_acceptance_tells() -> None:
    policy = LearningPolicy(TokenBucket.per_second(200, burst=40), now=0.0)
    [first] = send(policy, 0.0, 1)
    policy.answered(first, 200, {}, None, 0.01)
    tickets = send(policy, 0.02, 39)
    for ticket in tickets[:9]:
        policy.answered(ticket, 200, {}, None, 0.05)
    for ticket in tickets[9:]:
        policy.answered(ticket, 429, {}, None, 0.05)
    assert policy.model is UNKNOWN
    now = 0.05 + policy.wait(0.05)  # type: ignore[operator]  # the first probe
    [probe] = send(policy, now, 1)
    policy.answered(probe, 200, {}, None, now + 0.01)  # a token came back at once
    assert policy.model is BUCKET
    assert policy.rate is not None
    assert policy.rate < 200  # the bucket took the refusal as "too fast", as it should


def test_fixed_windows_contradict_a_sliding_log() -> None:
    # Fixed windows of 250 per 5 s: at a window's turn Remaining is full again, though 100
    # requests of the client's, sent a second before, still count in any sliding log.
    policy = LearningPolicy(TokenBucket.per_second(200, burst=1000), now=0.0)
    [first] = send(policy, 0.0, 1)
    policy.answered(first, 200, nest_headers(249, reset=5), None, 0.01)
    assert policy.model is SLIDING
    for index, ticket in enumerate(send(policy, 1.0, 100)):
        policy.answered(ticket, 200, nest_headers(248 - index, reset=4), None, 1.05)
    assert policy.model is SLIDING
    for index, ticket in enumerate(send(policy, 5.1, 2)):  # the next window: a fresh 250
        policy.answered(ticket, 200, nest_headers(249 - index, reset=5), None, 5.15)
    assert policy.model is BUCKET  # today's bucket paces fixed windows by their Reset
