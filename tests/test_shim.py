"""The aioresponses shim in conftest lets mocked responses be built on aiohttp >= 3.14."""

import aiohttp


async def test_mocked_response_can_be_read(mock_api) -> None:
    mock_api.get("https://api.test.invalid/x", payload={"a": 1}, headers={"X-Extra": "1"})
    async with aiohttp.ClientSession() as session, session.get("https://api.test.invalid/x") as r:
        assert r.status == 200
        assert r.headers["X-Extra"] == "1"
        assert await r.json() == {"a": 1}
