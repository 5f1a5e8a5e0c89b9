"""The ``list`` command, as a table (plain or rich) or JSON."""

from __future__ import annotations

import json
import sys

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import cli, creds


async def test_list_prints_a_table(fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "list", *creds(fake))
    assert result.status == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["ID", "PROVIDER", "EMAIL"]
    assert [line.split()[0] for line in lines[1:4]] == ["conn-0000", "conn-0001", "conn-0002"]
    assert lines[-1] == "3 connections"


async def test_list_json(fake: FakeMeetergo, capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "list", *creds(fake), "--json", "--owner-user-id", fake.user_id)
    assert result.status == 0
    assert [c["id"] for c in json.loads(result.out)] == ["conn-0000", "conn-0001", "conn-0002"]
    assert fake.requests[-1].query == {"userId": fake.user_id}


async def test_list_draws_a_rich_table_on_a_terminal(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    fake.add_connection("conn-[red]x[/red]", selectedCalendars=["[bold]"])
    result = await cli(capsys, "list", *creds(fake))
    assert result.status == 0
    assert "\x1b[" in result.out  # rich's styling
    assert "conn-0002" in result.out
    assert "conn-[red]x[/red]" in result.out  # data is shown as is, not read as markup
    assert "[bold]" in result.out


async def test_without_rich_a_terminal_gets_plain_output(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")] + ["rich"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    listed = await cli(capsys, "list", *creds(fake))
    assert listed.status == 0
    assert "\x1b[" not in listed.out
    assert listed.out.startswith("ID ")
    demo = await cli(capsys, "demo", "--connections", "5", "--server-rate", "500")
    assert demo.status == 0
    assert "verified 5/5" in demo.out
