"""pytest plugin of meetergo-async: the ``fake_meetergo`` fixture.

Registered through the ``pytest11`` entry point, so installing the package is enough::

    async def test_my_bot(fake_meetergo):
        fake_meetergo.add_connection(id="conn-1")
        ...  # point your code at fake_meetergo.url

``fake_meetergo`` yields a started ``FakeMeetergo`` and closes it after the test. Override
the ``fake_meetergo_options`` fixture (a dict of ``FakeMeetergo`` keyword arguments) in a
``conftest.py`` or a test module to change its options. The fixture is async and needs
pytest-asyncio; without it, a test that asks for it fails with a message saying so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from meetergo_async.testing import FakeMeetergo

_NEEDS_ASYNCIO = (
    "the fake_meetergo fixture needs pytest-asyncio: pip install pytest-asyncio "
    "(and mark the test with @pytest.mark.asyncio unless asyncio_mode = auto)"
)


@pytest.fixture
def fake_meetergo_options() -> dict[str, Any]:
    """Keyword arguments for the ``fake_meetergo`` server; override it to change them."""
    return {}


async def _fake_meetergo(fake_meetergo_options: dict[str, Any]) -> AsyncIterator[FakeMeetergo]:
    """A started ``FakeMeetergo`` built from ``fake_meetergo_options``, closed afterwards."""
    # Imported here so that pytest runs that never use the fixture do not load aiohttp.web.
    from meetergo_async.testing import FakeMeetergo

    async with FakeMeetergo(**fake_meetergo_options) as fake:
        yield fake


def _missing_pytest_asyncio() -> None:
    """Stands in for ``fake_meetergo`` when pytest-asyncio is not installed."""
    pytest.fail(_NEEDS_ASYNCIO, pytrace=False)


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - only without pytest-asyncio
    fake_meetergo: Any = pytest.fixture(name="fake_meetergo")(_missing_pytest_asyncio)
else:
    fake_meetergo = pytest_asyncio.fixture(name="fake_meetergo")(_fake_meetergo)
