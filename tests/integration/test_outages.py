"""Outages end to end: FakeMeetergo restarted (refusing connections meanwhile) during a run.

The client runs on a fake clock whose sleeps also let the loopback do its work for a few
real milliseconds; the server comes back when the fake clock says so. So a 30 s outage takes
a few real milliseconds, and only the client's probes and waits measure it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from meetergo_async import (
    APIConnectionError,
    CalendarConnectionUpdate,
    MeetergoClient,
    NotFoundError,
    RetryPolicy,
    ServerError,
    TokenBucket,
    UpdateRequest,
)
from meetergo_async.testing import FakeMeetergo
from meetergo_async.testing import TokenBucket as ServerBucket
from tests.helpers import VirtualTime

N = 120


class OutageClock(VirtualTime):
    """The client's virtual clock; the server it watches comes back once it reads ``back_at``."""

    def __init__(self, fake: FakeMeetergo) -> None:
        super().__init__()
        self.fake = fake
        self.back_at: float | None = None
        self.on_tick = self._tick

    async def _tick(self, now: float) -> None:
        if self.back_at is not None and now >= self.back_at:
            self.back_at = None
            await self.fake.start()

    async def go_down(self, seconds: float) -> None:
        await self.fake.close()
        self.back_at = self.now + seconds


def items(tag: str) -> list[UpdateRequest]:
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=f"{tag}-{i}"))
        for i in range(N)
    ]


async def bulk_with_outage(
    seconds: float, *, policy: RetryPolicy | None = None
) -> tuple[list[Any], FakeMeetergo, MeetergoClient]:
    fake = FakeMeetergo(generate=N, rate_limit=None)
    async with fake:
        time = OutageClock(fake)
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=None,
            retry=policy or RetryPolicy(),
            clock=time.clock,
            sleep=time.sleep,
        )
        outages: list[asyncio.Task[None]] = []

        def read_lazily() -> Any:
            for index, item in enumerate(items("x")):
                if index == N // 3:  # a third in: the server goes down
                    outages.append(asyncio.create_task(time.go_down(seconds)))
                yield item

        async with client:
            results = await client.update_calendar_connections(read_lazily())
        await asyncio.gather(*outages)
        if not fake.running:
            await fake.start()
        return results, fake, client


@pytest.mark.parametrize("attempts", [RetryPolicy().max_attempts, 3])
async def test_a_thirty_second_outage_fails_no_item_and_no_call_passes_its_attempts(
    attempts: int,
) -> None:
    results, fake, client = await bulk_with_outage(30.0, policy=RetryPolicy(max_attempts=attempts))
    assert [r.ok for r in results] == [True] * N
    assert all(c["primaryCalendar"] == f"x-{i}" for i, c in enumerate(fake.connections.values()))
    # Every request counts, the probes included: they went to calls with attempts to spare.
    assert max(r.attempts for r in results) <= attempts
    # While it was down: those in flight when it went, and one probe at a time after.
    never_arrived = client.stats.requests - len(fake.requests)
    assert never_arrived <= 16 + 12


async def test_an_outage_longer_than_the_deadline_says_how_long_it_waited() -> None:
    policy = RetryPolicy(deadline=20.0)
    results, _, _ = await bulk_with_outage(300.0, policy=policy)
    failed = [r for r in results if not r.ok]
    assert failed
    assert all(isinstance(r.error, APIConnectionError) for r in failed)
    assert any("has not answered for" in str(r.error) for r in failed)
    assert len(results) == N  # one result per item all the same


async def test_a_single_failure_on_a_healthy_service_is_retried_as_before() -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        fake.enqueue("PATCH", "/v4/calendar-connections/connections/conn-0000", 503)
        async with MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            retry=RetryPolicy(initial_backoff=0.001),
        ) as client:
            await client.update_calendar_connection(
                "conn-0000", CalendarConnectionUpdate(validate_availability=False)
            )
    assert [r.status for r in fake.requests] == [503, 200]


async def test_a_gateway_throttling_with_503_paces_the_client() -> None:
    # A gateway's limiter at 20 requests a second, answering 503 as nginx does; the client
    # is told four times as much. Both read one virtual clock.
    time = VirtualTime()
    bucket = ServerBucket.per_second(20, burst=5)
    fake = FakeMeetergo(generate=N, rate_limit=bucket, rate_limit_status=503, clock=time.clock)
    async with fake:
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=TokenBucket.per_second(80, burst=5),
            clock=time.clock,
            sleep=time.sleep,
        )
        async with client:
            results = await client.update_calendar_connections(items("t"))
    assert all(r.ok for r in results)
    refused = fake.status_counts[503]
    assert client.stats.rate_limited == refused  # each was taken as a refusal for rate
    assert refused < 0.25 * fake.status_counts.total()
    assert client.stats.rate is not None
    assert client.stats.rate < 80


async def test_a_503_with_retry_after_pauses_the_client_like_a_429() -> None:
    async with FakeMeetergo(generate=1, rate_limit=None) as fake:
        path = "/v4/calendar-connections/connections/conn-0000"
        fake.enqueue("PATCH", path, 503, headers={"Retry-After": "1"})
        clock_time = OutageClock(fake)
        async with MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            clock=clock_time.clock,
            sleep=clock_time.sleep,
        ) as client:
            await client.update_calendar_connection(
                "conn-0000", CalendarConnectionUpdate(validate_availability=False)
            )
            assert client.stats.rate_limited == 1
    assert clock_time.now >= 1.0


@pytest.mark.parametrize(("status", "error"), [(500, ServerError), (404, NotFoundError)])
async def test_errors_of_the_request_are_not_an_outage(status: int, error: type) -> None:
    fake = FakeMeetergo(generate=1, rate_limit=None, fail_rate=1.0, fail_statuses=[status])
    async with fake:
        client = MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            retry=RetryPolicy(initial_backoff=0.001),
        )
        async with client:
            with pytest.raises(error) as caught:
                await client.list_calendar_connections()
    assert "has not answered" not in str(caught.value)
    assert len(fake.requests) == (RetryPolicy().max_attempts if status == 500 else 1)
