"""The ``update`` command, run in-process against a FakeMeetergo."""

from __future__ import annotations

import json

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import USER_HEADER, cli, creds, patches


async def test_update_sends_only_the_fields_given(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await cli(
        capsys,
        "update",
        "conn-0001",
        *creds(fake),
        "--primary-calendar",
        "work",
        "--selected-calendar",
        "a",
        "--selected-calendar",
        "b",
        "--no-validate-availability",
        "--sync-buffers-to-calendar",
        "--owner-user-id",
        fake.user_id,
        "--as-user",
        fake.user_id,
    )
    assert result.status == 0
    request = fake.requests[-1]
    assert request.json == {
        "primaryCalendar": "work",
        "selectedCalendars": ["a", "b"],
        "validateAvailability": False,
        "syncBuffersToCalendar": True,
    }
    assert request.query == {"userId": fake.user_id}
    assert request.headers[USER_HEADER] == fake.user_id
    assert result.out.splitlines()[0] == "conn-0001"
    assert "primary calendar" in result.out
    assert "a, b" in result.out


async def test_update_json_output(fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(
        capsys, "update", "conn-0002", *creds(fake), "--clear-selected-calendars", "--json"
    )
    assert result.status == 0
    assert patches(fake) == [{"selectedCalendars": []}]
    data = json.loads(result.out)
    assert data["id"] == "conn-0002"
    assert data["selectedCalendars"] == []
    assert data["updatedAt"].endswith("Z")


async def test_update_unknown_connection_exits_1_with_one_line(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await cli(capsys, "update", "nope", *creds(fake), "--primary-calendar", "x")
    assert result.status == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith("meetergo-async: error: meetergo API 404")


async def test_update_without_a_field_exits_2_and_sends_nothing(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    result = await cli(capsys, "update", "conn-0001", *creds(fake))
    assert result.status == 2
    assert "nothing to update" in result.err
    assert result.err.count("\n") == 1
    assert fake.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--selected-calendar", "a", "--clear-selected-calendars"], "not allowed with"),
        (["--primary-calendar", " "], "--primary-calendar must not"),
        (["--selected-calendar", ""], "--selected-calendar must not"),
        (["--validate-availability", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
async def test_update_bad_usage_exits_2_in_one_line(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    result = await cli(capsys, "update", "conn-0001", *creds(fake), *args)
    assert result.status == 2
    assert message in result.err
    assert result.err.count("\n") == 1
    assert result.err.startswith("meetergo-async: error:")
    assert fake.requests == []
