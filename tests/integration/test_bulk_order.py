"""Bulk updates to one connection under faults: applied in input order, the last one wins.

FakeMeetergo answers a seeded share of requests with 503 and cuts others before or after
applying them; the client retries each item (waits on injected time) until it lands.
"""

from __future__ import annotations

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, RetryPolicy
from meetergo_async.testing import DROPPED, FakeMeetergo
from tests.helpers import FakeTime

FAST = RetryPolicy(max_attempts=12, initial_backoff=0.01, max_backoff=0.05)
ID = "conn-0000"


def calendar(number: int) -> str:
    return f"calendar-{number:02d}"


async def test_forty_updates_to_one_connection_under_faults_end_with_the_last(
    fake_time: FakeTime,
) -> None:
    items = [(ID, CalendarConnectionUpdate(primary_calendar=calendar(i))) for i in range(40)]
    faults = {"fail_rate": 0.1, "fail_statuses": [503]}
    drops = {"drop_before_rate": 0.05, "drop_after_rate": 0.05}
    async with FakeMeetergo(generate=3, rate_limit=None, seed=14, **faults, **drops) as fake:
        async with MeetergoClient(
            fake.api_key,
            user_id=fake.user_id,
            base_url=fake.url,
            rate_limit=None,
            retry=FAST,
            max_concurrency=8,
            clock=fake_time.clock,
            sleep=fake_time.sleep,
        ) as client:
            results = await client.update_calendar_connections(items)
        final = fake.connections[ID]["primaryCalendar"]
        sent = [r.json["primaryCalendar"] for r in fake.requests if r.connection_id == ID]
        statuses = fake.status_counts

    assert [r.index for r in results] == list(range(40))
    assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok]
    assert final == calendar(39)
    # Each update was sent (again, after a fault) only once the one before it had ended.
    assert sent == sorted(sent)
    assert sorted(set(sent)) == [calendar(i) for i in range(40)]
    assert statuses[503] >= 3, "the 503s did happen"
    assert statuses[DROPPED] >= 3, "the cut connections did happen"
