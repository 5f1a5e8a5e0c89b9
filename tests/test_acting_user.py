"""The acting user: an API key with no default user makes every call name one with as_user."""

from __future__ import annotations

from typing import Any

import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient, UpdateRequest
from meetergo_async.errors import ArgumentValueError
from meetergo_async.testing import FakeMeetergo

USER_HEADER = "x-meetergo-api-user-id"
ALICE = "user-a11ce"
BOB = "user-b0b"
UPDATE = CalendarConnectionUpdate(validate_availability=True)


@pytest.fixture
async def fake() -> Any:
    async with FakeMeetergo(generate=3, user_ids=[ALICE, BOB]) as server:
        yield server


def client_without_user(fake: FakeMeetergo, **options: Any) -> MeetergoClient:
    return MeetergoClient(fake.api_key, base_url=fake.url, rate_limit=None, **options)


def assert_names_the_acting_user(error: BaseException) -> None:
    assert isinstance(error, ArgumentValueError)
    assert error.argument == "as_user"
    message = str(error)
    assert "as_user" in message
    assert "user_id" in message
    assert USER_HEADER in message


async def test_an_api_key_without_a_user_builds_a_client(fake: FakeMeetergo) -> None:
    client = client_without_user(fake)

    assert "user_id" not in repr(client)
    await client.aclose()


async def test_a_call_without_as_user_is_refused_before_sending(fake: FakeMeetergo) -> None:
    async with client_without_user(fake) as client:
        with pytest.raises(ValueError, match="as_user") as update_error:
            await client.update_calendar_connection("conn-0000", UPDATE)
        with pytest.raises(ValueError, match="as_user") as list_error:
            await client.list_calendar_connections()

    assert_names_the_acting_user(update_error.value)
    assert_names_the_acting_user(list_error.value)
    assert fake.requests == []


async def test_each_call_acts_as_the_user_it_names(fake: FakeMeetergo) -> None:
    async with client_without_user(fake) as client:
        await client.update_calendar_connection("conn-0000", UPDATE, as_user=ALICE)
        await client.list_calendar_connections(as_user=BOB)

    assert [r.headers[USER_HEADER] for r in fake.requests] == [ALICE, BOB]


async def test_a_default_user_from_the_environment_is_used_and_as_user_overrides_it(
    fake: FakeMeetergo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEETERGO_USER_ID", ALICE)

    async with client_without_user(fake) as client:
        await client.list_calendar_connections()
        await client.list_calendar_connections(as_user=BOB)

    assert [r.headers[USER_HEADER] for r in fake.requests] == [ALICE, BOB]


async def test_bulk_items_without_a_user_get_the_error_as_their_result(
    fake: FakeMeetergo,
) -> None:
    items = [
        UpdateRequest("conn-0000", UPDATE, as_user=ALICE),
        UpdateRequest("conn-0001", UPDATE),
        ("conn-0002", UPDATE),
        UpdateRequest("conn-0002", UPDATE, as_user=BOB),
    ]
    async with client_without_user(fake) as client:
        results = await client.update_calendar_connections(items)
        streamed = [r async for r in client.iter_update_calendar_connections(items[1:3])]

    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.ok for r in results] == [True, False, False, True]
    for result in [results[1], results[2], *streamed]:
        assert result.error is not None
        assert_names_the_acting_user(result.error)
        assert result.attempts == 0
    assert len(streamed) == 2
    assert [(r.connection_id, r.headers[USER_HEADER]) for r in fake.requests] == [
        ("conn-0000", ALICE),
        ("conn-0002", BOB),
    ]


async def test_a_personal_access_token_and_other_tokens_need_no_acting_user(
    fake: FakeMeetergo,
) -> None:
    async with MeetergoClient(fake.personal_token, base_url=fake.url) as client:
        assert len(await client.list_calendar_connections()) == 3
        with pytest.raises(ValueError, match="personal access token"):
            await client.list_calendar_connections(as_user=ALICE)

    assert USER_HEADER not in fake.requests[0].headers
    assert len(fake.requests) == 1


async def test_the_command_line_acts_as_the_user_of_as_user_without_a_default(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli._helpers import cli

    credentials = ["--base-url", fake.url, "--api-key", fake.api_key]
    refused = await cli(capsys, "list", *credentials, "--json")
    listed = await cli(capsys, "list", *credentials, "--as-user", BOB, "--json")

    assert refused.status == 2
    assert "pass --user-id or set MEETERGO_USER_ID" in refused.err
    assert listed.status == 0
    assert [r.headers[USER_HEADER] for r in fake.requests] == [BOB]
