"""Tests of FakeMeetergo itself, spoken to with a plain aiohttp client over 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest
from yarl import URL

from meetergo_async.testing import DEFAULT_API_KEY, DEFAULT_USER_ID, FakeMeetergo
from tests.testing._client import LIST, USER_HEADER, api_headers, get_list, item_url, patch

# -- the two routes --------------------------------------------------------------------------


async def test_patch_applies_only_the_sent_fields(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    before = fake.connections["conn-0001"]

    status, body = await patch(session, fake, "conn-0001", {"validateAvailability": False})

    assert status == 200
    assert body == fake.connections["conn-0001"]
    assert body["validateAvailability"] is False
    changed = {key for key in body if body[key] != before[key]}
    assert changed == {"validateAvailability", "updatedAt"}
    assert body["updatedAt"].endswith("Z")
    assert body["updatedAt"] > before["updatedAt"]
    assert fake.update_counts == {"conn-0001": 1}


async def test_patch_answers_the_whole_connection_object(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    calendars = ["primary", "work"]
    status, body = await patch(
        session, fake, "conn-0000", {"selectedCalendars": calendars, "primaryCalendar": "work"}
    )

    assert status == 200
    assert set(body) == {
        "id",
        "provider",
        "email",
        "isPrimary",
        "isConnected",
        "primaryCalendar",
        "selectedCalendars",
        "validateAvailability",
        "cancelIfDeclinedOrDeleted",
        "disableAttendeeNotification",
        "syncBuffersToCalendar",
        "createdAt",
        "updatedAt",
    }
    assert (body["selectedCalendars"], body["primaryCalendar"]) == (calendars, "work")


async def test_updated_at_moves_on_even_within_one_millisecond(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeMeetergo(generate=1, wall_clock=lambda: 1_800_000_000.0) as fake:
        _, first = await patch(session, fake, "conn-0000", {})
        _, second = await patch(session, fake, "conn-0000", {})

    assert first["updatedAt"] == "2027-01-15T08:00:00.000Z"
    assert second["updatedAt"] == "2027-01-15T08:00:00.001Z"


async def test_get_lists_every_connection(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    async with session.get(fake.url + LIST, headers=api_headers(fake)) as response:
        body = await response.json()

    assert response.status == 200
    assert body["total"] == 3
    assert [c["id"] for c in body["connections"]] == ["conn-0000", "conn-0001", "conn-0002"]
    assert body["connections"] == list(fake.connections.values())


async def test_generated_connections_are_deterministic() -> None:
    first = FakeMeetergo(generate=5).connections
    second = FakeMeetergo(generate=5).connections
    assert first == second
    assert list(first) == [f"conn-{i:04d}" for i in range(5)]


async def test_unknown_connection_is_404(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    status, body = await patch(session, fake, "nope", {"validateAvailability": True})

    assert status == 404
    assert body == {"statusCode": 404, "message": "Connection not found", "error": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/x"),
        ("GET", LIST + "/conn-0001"),
        ("PATCH", LIST + "/conn-0001/extra"),
        ("PATCH", LIST + "/"),
        ("DELETE", LIST + "/conn-0001"),
    ],
)
async def test_unknown_route_is_nestjs_404(
    fake: FakeMeetergo, session: aiohttp.ClientSession, method: str, path: str
) -> None:
    url = URL(fake.url + path, encoded=True)
    async with session.request(method, url, headers=api_headers(fake)) as response:
        body = await response.json()

    assert response.status == 404
    assert body == {"statusCode": 404, "message": f"Cannot {method} {path}", "error": "Not Found"}


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"foo": 1}, ["property foo should not exist"]),
        ({"validateAvailability": "yes"}, ["validateAvailability must be a boolean value"]),
        ({"syncBuffersToCalendar": 1}, ["syncBuffersToCalendar must be a boolean value"]),
        ({"primaryCalendar": 5}, ["primaryCalendar must be a string"]),
        ({"selectedCalendars": "primary"}, ["selectedCalendars must be an array"]),
        ({"selectedCalendars": ["a", 2]}, ["each value in selectedCalendars must be a string"]),
        (
            {"selectedCalendars": 7},
            [
                "selectedCalendars must be an array",
                "each value in selectedCalendars must be a string",
            ],
        ),
        (
            {"bar": True, "cancelIfDeclinedOrDeleted": None, "disableAttendeeNotification": "n"},
            [
                "property bar should not exist",
                "disableAttendeeNotification must be a boolean value",
            ],
        ),
        ([{"validateAvailability": True}], ["request body must be a JSON object"]),
        ("text", ["request body must be a JSON object"]),
    ],
)
async def test_invalid_bodies_are_400_with_every_message(
    fake: FakeMeetergo, session: aiohttp.ClientSession, body: Any, messages: list[str]
) -> None:
    status, answer = await patch(session, fake, "conn-0001", body)

    assert status == 400
    assert answer == {"statusCode": 400, "message": messages, "error": "Bad Request"}
    assert fake.update_counts["conn-0001"] == 0


async def test_invalid_json_is_400(fake: FakeMeetergo, session: aiohttp.ClientSession) -> None:
    headers = {**api_headers(fake), "Content-Type": "application/json"}
    async with session.patch(item_url(fake, "conn-0001"), data=b"{bad", headers=headers) as resp:
        body = await resp.json()

    assert resp.status == 400
    assert body["error"] == "Bad Request"
    assert "JSON" in body["message"]
    assert fake.requests[-1].json is None
    assert fake.requests[-1].body == b"{bad"


async def test_oversized_body_is_413(fake: FakeMeetergo, session: aiohttp.ClientSession) -> None:
    body = io.BytesIO(b'{"primaryCalendar":"' + b"x" * (1024 * 1024) + b'"}')
    headers = {**api_headers(fake), "Content-Type": "application/json"}
    async with session.patch(item_url(fake, "conn-0001"), data=body, headers=headers) as resp:
        status, answer = resp.status, await resp.json()

    assert status == 413
    assert answer == {
        "statusCode": 413,
        "message": "request entity too large",
        "error": "Request Entity Too Large",
    }


async def test_null_fields_pass_and_change_nothing(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    status, body = await patch(session, fake, "conn-0001", {"primaryCalendar": None})
    assert status == 200
    assert body["primaryCalendar"] == "primary"


# -- connection ids as path segments ---------------------------------------------------------


@pytest.mark.parametrize(
    "connection_id", ["a/b", "../x", "..", "a?b#c", "ä ö", "%2F", "50%", "a+b", "conn 1/2?x=y"]
)
async def test_percent_encoded_ids_reach_their_connection(
    session: aiohttp.ClientSession, connection_id: str
) -> None:
    async with FakeMeetergo([{"id": connection_id}, {"id": "x"}, {"id": "a"}]) as fake:
        status, body = await patch(session, fake, connection_id, {"primaryCalendar": "cal"})

        assert (status, body["id"]) == (200, connection_id)
        assert fake.update_counts == {connection_id: 1}
        assert fake.requests[-1].connection_id == connection_id
        assert fake.requests[-1].path == f"{LIST}/{connection_id}"


# -- records ---------------------------------------------------------------------------------


async def test_records_redact_the_credential(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    await patch(session, fake, "conn-0002", {"syncBuffersToCalendar": True})

    record = fake.requests[-1]
    assert record.method == "PATCH"
    assert record.raw_path == f"{LIST}/conn-0002"
    assert record.json == {"syncBuffersToCalendar": True}
    assert record.headers["Authorization"] == "Bearer ***"
    assert record.headers[USER_HEADER] == DEFAULT_USER_ID
    assert record.status == 200
    assert DEFAULT_API_KEY not in repr(fake.requests)
    assert DEFAULT_API_KEY.split(":")[-1] not in repr(fake.requests)


async def test_reset_records_keeps_the_store(
    fake: FakeMeetergo, session: aiohttp.ClientSession
) -> None:
    await patch(session, fake, "conn-0000", {"primaryCalendar": "kept"})
    fake.reset_records()

    assert (fake.requests, fake.status_counts, fake.update_counts) == ([], {}, {})
    assert fake.connections["conn-0000"]["primaryCalendar"] == "kept"


async def test_records_can_be_switched_off(session: aiohttp.ClientSession) -> None:
    async with FakeMeetergo(record_requests=False) as fake:
        await get_list(session, fake)
        assert fake.requests == []
        assert fake.status_counts == {200: 1}


# -- the store and the options ---------------------------------------------------------------


def test_add_connection_fills_defaults_and_returns_a_copy() -> None:
    fake = FakeMeetergo([{"id": "seeded", "provider": "icloud"}])
    added = fake.add_connection(id="conn-1", email="a@example.com", selectedCalendars=["x"])
    added["selectedCalendars"].append("changed")

    stored = fake.connections
    assert stored["seeded"]["provider"] == "icloud"
    assert stored["conn-1"]["email"] == "a@example.com"
    assert stored["conn-1"]["selectedCalendars"] == ["x"]
    assert fake.add_connection()["id"] == "conn-0002"
    with pytest.raises(ValueError, match="already exists"):
        fake.add_connection(id="conn-1")
    with pytest.raises(TypeError):
        fake.add_connection(id="odd", createdAt=object())


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"fail_rate": 1.5}, ValueError),
        ({"fail_rate": 0.6, "drop_after_rate": 0.6}, ValueError),
        ({"fail_statuses": []}, ValueError),
        ({"api_keys": DEFAULT_API_KEY}, TypeError),
        ({"user_ids": []}, ValueError),
        ({"latency": -1}, ValueError),
        ({"generate": -1}, ValueError),
        ({"rate_limit": "100/min"}, TypeError),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        FakeMeetergo(**options)


# -- lifecycle -------------------------------------------------------------------------------


async def test_lifecycle_without_async_with() -> None:
    fake = FakeMeetergo()
    with pytest.raises(RuntimeError):
        _ = fake.url
    await fake.start()
    assert fake.url == f"http://127.0.0.1:{fake.port}"
    assert fake.running
    with pytest.raises(RuntimeError):
        await fake.start()
    await fake.close()
    await fake.close()
    assert not fake.running


async def test_close_with_a_request_in_flight_leaves_nothing_behind() -> None:
    fake = FakeMeetergo(latency=1.0, shutdown_timeout=0)
    await fake.start()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(get_list(session, fake))
        async with asyncio.timeout(5):  # the request reaches the server, then waits 1 s
            while not fake.requests:  # noqa: ASYNC110 - the fake offers no event for it
                await asyncio.sleep(0.001)
        assert len(fake.requests) == 1

        await fake.close()

        assert asyncio.all_tasks() == {asyncio.current_task(), request}
        with pytest.raises(aiohttp.ClientConnectionError):
            await request


async def test_serve_forever_runs_until_cancelled(session: aiohttp.ClientSession) -> None:
    fake = FakeMeetergo()
    await fake.start()  # as a command line does, to print fake.url before serving
    serving = asyncio.create_task(fake.serve_forever())
    assert (await get_list(session, fake)).status == 200

    serving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await serving
    assert not fake.running
