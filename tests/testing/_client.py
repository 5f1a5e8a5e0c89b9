"""How the sandbox tests speak to a FakeMeetergo: a plain aiohttp client over 127.0.0.1."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from meetergo_async.testing import FakeMeetergo

LIST = "/v4/calendar-connections/connections"
USER_HEADER = "x-meetergo-api-user-id"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def api_headers(fake: FakeMeetergo) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.api_key}", USER_HEADER: fake.user_id}


def item_url(fake: FakeMeetergo, connection_id: str) -> URL:
    # Percent-encode the id as one segment, dots included, and stop yarl from re-encoding.
    segment = quote(connection_id, safe="").replace(".", "%2E")
    return URL(f"{fake.url}{LIST}/{segment}", encoded=True)


async def patch(
    session: aiohttp.ClientSession,
    fake: FakeMeetergo,
    connection_id: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with session.patch(
        item_url(fake, connection_id),
        json=body,
        headers=api_headers(fake) if headers is None else headers,
    ) as response:
        return response.status, await response.json()


async def get_list(
    session: aiohttp.ClientSession, fake: FakeMeetergo, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse:
    async with session.get(fake.url + LIST, headers=headers or api_headers(fake)) as response:
        await response.read()
        return response
