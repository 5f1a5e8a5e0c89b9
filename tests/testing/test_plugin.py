"""Tests of the pytest plugin: the fake_meetergo fixture and its options."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from meetergo_async.testing import FakeMeetergo
from tests.testing._client import get_list


async def test_fixture_yields_a_started_fake(
    fake_meetergo: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    assert fake_meetergo.running
    assert (await get_list(session, fake_meetergo)).status == 200


class TestFixtureOptions:
    @pytest.fixture
    def fake_meetergo_options(self) -> dict[str, Any]:
        return {"generate": 2, "rate_limit": None}

    async def test_options_reach_the_fake(self, fake_meetergo: FakeMeetergo) -> None:
        assert list(fake_meetergo.connections) == ["conn-0000", "conn-0001"]
