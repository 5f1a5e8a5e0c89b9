"""Tests of the pytest plugin: the fake_meetergo fixture and its options."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import FakeMeetergo
from tests.testing._client import get_list

PATH = "/v4/calendar-connections/connections"


async def test_fixture_yields_a_started_fake(
    fake_meetergo: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    assert fake_meetergo.running
    assert (await get_list(session, fake_meetergo)).status == 200


class TestTheProductDefaults:
    @pytest.fixture
    def fake_meetergo_options(self) -> dict[str, Any]:
        return {}  # the plugin's own: no override of this suite's conftest

    async def test_the_fake_limits_as_meetergo_does(self, fake_meetergo: FakeMeetergo) -> None:
        assert fake_meetergo.connections == {}
        headers = {"Authorization": f"Bearer {fake_meetergo.api_key}"}
        headers["x-meetergo-api-user-id"] = fake_meetergo.user_id
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(f"{fake_meetergo.url}{PATH}") as answer,
        ):
            assert answer.headers["X-RateLimit-Limit"] == "100"


class TestFixtureOptions:
    @pytest.fixture
    def fake_meetergo_options(self) -> dict[str, Any]:
        return {"generate": 2, "rate_limit": None}

    async def test_options_reach_the_fake(self, fake_meetergo: FakeMeetergo) -> None:
        assert list(fake_meetergo.connections) == ["conn-0000", "conn-0001"]


def test_the_server_loads_only_when_a_test_uses_it() -> None:
    # pytest imports the plugin, and so meetergo_async.testing, in every run of every
    # project that installs this package; aiohttp.web must wait for FakeMeetergo.
    code = (
        "import sys, meetergo_async; "
        "print('meetergo_async.testing' in sys.modules); "
        "import meetergo_async.testing.plugin; "
        "print('aiohttp.web' in sys.modules); "
        "from meetergo_async.testing import FakeMeetergo; "
        "print('aiohttp.web' in sys.modules)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.split() == ["False", "False", "True"]
