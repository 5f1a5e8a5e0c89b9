"""Fixtures of the sandbox tests: a client session and a started FakeMeetergo."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from meetergo_async.testing import FakeMeetergo


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=3, rate_limit=None) as server:
        yield server
