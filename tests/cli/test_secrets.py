"""The API key is never printed: not from the command line, the server or a usage error."""

from __future__ import annotations

import io
import sys

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import LIST_PATH, WRONG_KEY, cli, creds


async def test_a_rejected_key_exits_1_without_printing_it(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = await cli(capsys, "list", *creds(fake, WRONG_KEY))
    assert listed.status == 1
    assert "401" in listed.err
    updated = await cli(
        capsys,
        "update",
        "conn-0001",
        *creds(fake, WRONG_KEY),
        "--json",
        "--sync-buffers-to-calendar",
    )
    assert updated.status == 1
    monkeypatch.setattr(
        sys, "stdin", io.StringIO('{"connectionId": "conn-0001", "syncBuffersToCalendar": true}\n')
    )
    bulk = await cli(capsys, "bulk", "-", *creds(fake, WRONG_KEY))
    assert bulk.status == 1
    assert "line 1 (conn-0001): meetergo API 401" in bulk.err


async def test_a_key_echoed_by_the_server_is_blanked(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.enqueue("GET", LIST_PATH, 401, json={"statusCode": 401, "message": f"bad {WRONG_KEY}"})
    result = await cli(capsys, "list", *creds(fake, WRONG_KEY))
    assert result.status == 1
    assert "bad ***" in result.err


async def test_a_key_in_a_usage_error_is_blanked(capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "list", f"--api-key={WRONG_KEY}", WRONG_KEY)
    assert result.status == 2
    assert "unrecognized arguments: ***" in result.err
