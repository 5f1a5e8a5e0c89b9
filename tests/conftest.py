"""The fixtures every test may use; the plain helpers they share are in ``tests.helpers``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aioresponses.core
import pytest

from meetergo_async.testing import FakeMeetergo
from tests.helpers import FakeTime, ShimmedClientResponse


@pytest.fixture
def mock_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses.aioresponses]:
    """aioresponses, with unmatched requests raising instead of reaching a network.

    aioresponses builds its responses with ``ShimmedClientResponse`` for the test's
    duration only (see its docstring for why).
    """
    monkeypatch.setattr(aioresponses.core, "ClientResponse", ShimmedClientResponse)
    with aioresponses.aioresponses() as mocked:
        yield mocked


@pytest.fixture
def fake_meetergo_options() -> dict[str, Any]:
    """The product's ``fake_meetergo`` as most tests want it: three connections, no limit."""
    return {"generate": 3, "rate_limit": None}


@pytest.fixture
def fake(fake_meetergo: FakeMeetergo) -> FakeMeetergo:
    """The product's ``fake_meetergo`` fixture, under the short name the tests use."""
    return fake_meetergo


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture(autouse=True)
def _no_meetergo_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's own MEETERGO_* variables out of every test."""
    for name in ("MEETERGO_API_KEY", "MEETERGO_USER_ID", "MEETERGO_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's proxy settings out: clients talk to 127.0.0.1 directly."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "netrc"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
