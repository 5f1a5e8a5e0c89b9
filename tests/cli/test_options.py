"""The options commands share: credentials from options or the environment, names in errors."""

from __future__ import annotations

import json

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import WRONG_KEY, cli, creds


async def test_credentials_come_from_the_environment(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", fake.api_key)
    monkeypatch.setenv("MEETERGO_USER_ID", fake.user_id)
    monkeypatch.setenv("MEETERGO_BASE_URL", fake.url)
    result = await cli(capsys, "list", "--json")
    assert result.status == 0
    assert len(json.loads(result.out)) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list"], "no API key: pass --api-key or set MEETERGO_API_KEY"),
        (["list", "--api-key", WRONG_KEY], "pass --user-id or set MEETERGO_USER_ID"),
        (["update", "c", "--api-key", "rgo-x", "--base-url", "http://example.com", "--json"], ""),
    ],
)
async def test_bad_credentials_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    result = await cli(capsys, *args)
    assert result.status == 2
    assert result.err.count("\n") == 1
    assert message in result.err


async def test_a_refused_argument_is_named_as_the_user_typed_it(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    pat = ["--base-url", fake.url, "--api-key", fake.personal_token]
    cases = [
        (["update", " ", *creds(fake), "--primary-calendar", "x"], "CONNECTION_ID must not be"),
        (["list", *creds(fake), "--owner-user-id", " "], "--owner-user-id must not be"),
        (["list", *pat, "--as-user", fake.user_id], "--as-user cannot be used with a personal"),
    ]
    for args, message in cases:
        result = await cli(capsys, *args)
        assert result.status == 2
        assert result.err.startswith(f"meetergo-async: error: {message}")
    assert fake.requests == []
