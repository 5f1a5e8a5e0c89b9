"""The fixture of the in-process command-line tests: a FakeMeetergo with three connections."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from meetergo_async.testing import FakeMeetergo


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=3, rate_limit=None) as server:
        yield server
