"""Checked with ``mypy --strict`` against the installed wheel (.ci/run): its types ship.

Without the wheel's ``py.typed`` mypy refuses the import; with wrong types it fails below.
"""

from __future__ import annotations

from meetergo_async import (
    AttemptEvent,
    CalendarConnection,
    CalendarConnectionUpdate,
    MeetergoClient,
    RetryPolicy,
    WaitEvent,
)
from meetergo_async.testing import FakeMeetergo


def record(event: AttemptEvent | WaitEvent) -> None:
    if isinstance(event, AttemptEvent):
        status: int | None = event.status
        print(event.route, status, event.latency)
    else:
        print(event.reason, event.seconds)


async def first_connection(fake: FakeMeetergo) -> CalendarConnection:
    async with MeetergoClient(
        fake.api_key,
        base_url=fake.url,
        retry=RetryPolicy(max_attempts=2),
        on_event=record,
    ) as client:
        connections: list[CalendarConnection] = await client.list_calendar_connections(
            as_user=fake.user_id
        )
        update = CalendarConnectionUpdate(primary_calendar="primary")
        return await client.update_calendar_connection(
            connections[0].id, update, as_user=fake.user_id
        )
