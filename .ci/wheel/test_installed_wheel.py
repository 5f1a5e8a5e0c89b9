"""Run by .ci/run in a fresh virtualenv holding only the built wheel: the plugin works there."""

from __future__ import annotations

import sys
from pathlib import Path

import meetergo_async
from meetergo_async import CalendarConnectionUpdate, MeetergoClient
from meetergo_async.testing import FakeMeetergo


def test_the_package_comes_from_the_wheel_not_the_source_tree() -> None:
    installed = Path(meetergo_async.__file__).resolve()

    assert Path(sys.prefix).resolve() in installed.parents
    assert "site-packages" in installed.parts
    assert (installed.parent / "py.typed").is_file()


async def test_the_fake_meetergo_fixture_serves_a_client(fake_meetergo: FakeMeetergo) -> None:
    fake_meetergo.add_connection(id="conn-1")

    async with MeetergoClient(
        fake_meetergo.api_key, user_id=fake_meetergo.user_id, base_url=fake_meetergo.url
    ) as client:
        connection = await client.update_calendar_connection(
            "conn-1", CalendarConnectionUpdate(validate_availability=True)
        )

    assert connection.validate_availability is True
    assert [r.method for r in fake_meetergo.requests] == ["PATCH"]
