"""Messages that used to mislead: each one names the value as the user gave it."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from meetergo_async import ArgumentValueError, MeetergoClient, SlidingWindow
from meetergo_async.cli._parser import build_parser
from meetergo_async.cli.bulk import _command as bulk
from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import cli, creds, updates, write_jsonl


async def test_a_snake_case_key_is_named_as_written_with_the_json_name_as_a_hint(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"connection_id": "conn-0000", "primaryCalendar": "work"},
            {"connectionId": "conn-0001", "primary_calendar": "work", "user_id": "u"},
        ],
    )
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 1
    assert "line 1: unknown field(s): connection_id (did you mean connectionId?)" in result.err
    assert (
        "line 2: unknown field(s): primary_calendar (did you mean primaryCalendar?), "
        "user_id (did you mean userId?)" in result.err
    )
    assert "unknown field(s): primaryCalendar" not in result.err
    assert "connectionId is missing" not in result.err
    assert fake.requests == []


async def test_a_snake_case_csv_column_gets_the_json_name_as_a_hint(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("connectionId,primary_calendar\nconn-0000,work\n")
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 2
    assert "unknown CSV column(s) primary_calendar (did you mean primaryCalendar?)" in result.err


@pytest.mark.parametrize(
    ("variables", "options", "message"),
    [
        (
            {"MEETERGO_API_KEY": "ak_live:with space"},
            ["--user-id", "u"],
            "MEETERGO_API_KEY must not contain whitespace",
        ),
        (
            {"MEETERGO_API_KEY": "ak_live:key", "MEETERGO_USER_ID": "  "},
            [],
            "must name in the x-meetergo-api-user-id header: pass --user-id or set "
            "MEETERGO_USER_ID",
        ),
        (
            {"MEETERGO_API_KEY": "rgo-token", "MEETERGO_USER_ID": "user-1"},
            [],
            "a user id is sent: leave MEETERGO_USER_ID unset",
        ),
        (
            {"MEETERGO_API_KEY": " ", "MEETERGO_USER_ID": "user-1"},
            [],
            "no API key: pass --api-key or set MEETERGO_API_KEY",
        ),
        (
            {"MEETERGO_API_KEY": "rgo-token", "MEETERGO_BASE_URL": "ftp://host"},
            [],
            "MEETERGO_BASE_URL must start with https://",
        ),
        (
            {"MEETERGO_API_KEY": "rgo-token"},
            ["--base-url", "ftp://host"],
            "--base-url must start with https://",
        ),
    ],
)
async def test_an_environment_error_names_its_variable(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    options: list[str],
    message: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if "MEETERGO_BASE_URL" not in variables and "--base-url" not in options:
        options = ["--base-url", "http://127.0.0.1:9", *options]
    result = await cli(capsys, "list", *options)
    assert result.status == 2
    assert message in result.err
    assert "empty" not in result.err
    assert "--api-key must" not in result.err
    assert "--user-id must" not in result.err


async def test_a_blank_user_id_variable_counts_as_unset(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEETERGO_USER_ID", " \t")  # a personal access token refuses a user id
    result = await cli(capsys, "list", "--base-url", fake.url, "--api-key", fake.personal_token)
    assert result.status == 0, result.err
    assert "3 connections" in result.out


@pytest.mark.parametrize(
    ("where", "url"), [("--base-url", "http://127.0.0.1:9/v4"), ("MEETERGO_BASE_URL", "/V4/")]
)
async def test_a_base_url_ending_in_v4_gets_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str, url: str
) -> None:
    if where == "--base-url":
        args = ["--base-url", url]
    else:
        url = "http://127.0.0.1:9/V4/"
        monkeypatch.setenv(where, url)
        args = []
    result = await cli(capsys, "list", "--api-key", "rgo-token", *args)
    assert result.status == 2
    assert f"{where} {url} ends in /v4" in result.err
    assert "give the host only, http://127.0.0.1:9" in result.err


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v4", "http://127.0.0.1:9/proxy/V4/", "http://127.0.0.1:9/v4/x"]
)
async def test_the_command_line_refuses_a_v4_base_url_in_the_sdks_words(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    with pytest.raises(ArgumentValueError) as info:
        MeetergoClient("rgo-token", base_url=url)
    result = await cli(capsys, "list", "--api-key", "rgo-token", "--base-url", url)
    assert result.status == 2
    assert str(info.value) == info.value.worded("base_url")
    assert result.err == f"meetergo-async: error: {info.value.worded('--base-url')}\n"


async def test_many_failures_without_report_do_not_point_at_it(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"connectionId": "c", "colour": "red"}] * 52)
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 1
    assert "see --report" not in result.err
    assert "... more failures are not shown here (pass --report to keep every one)" in result.err
    report = tmp_path / "r.jsonl"
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--report", str(report))
    assert f"(all are in {report})" in result.err


async def test_no_python_names_in_the_messages_about_input(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"connectionId": "conn-0000", "validateAvailability": None},
            {"connectionId": "conn-0000", "selectedCalendars": None},
            {"connectionId": "conn-0000", "primaryCalendar": None},
            {"connectionId": "conn-0000", "selectedCalendars": "work"},
            {"connectionId": "conn-0000", "selectedCalendars": [1]},
            {"connectionId": "conn-0000", "primaryCalendar": ["work"]},
            {"connectionId": "conn-0000", "syncBuffersToCalendar": "true"},
            {"connectionId": 7, "primaryCalendar": "work"},
            {"connectionId": "conn-0000", "userId": {"id": 1}, "primaryCalendar": "w"},
            {"connectionId": None},
        ],
    )
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 1
    assert len(result.err.splitlines()) == 10
    python = r"\b(UNSET|None|NoneType|str|int|tuple|bool|dict)\b"
    assert not re.search(python, result.err), result.err
    assert "line 1: validateAvailability is null: leave the field out" in result.err
    assert 'line 4: selectedCalendars must be a list of calendar ids (strings), got "work"' in (
        result.err
    )
    assert "line 7: syncBuffersToCalendar must be true or false" in result.err
    assert "line 8: connectionId must be a string, got 7" in result.err
    assert "line 10: connectionId is missing" in result.err
    assert fake.requests == []


def _bulk_args(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(["bulk", "in.jsonl", *args])


def test_bulk_rate_per_minute_is_a_sliding_window_and_0_turns_pacing_off() -> None:
    options = bulk._client_options(_bulk_args("--rate-per-minute", "50"))
    assert options == {"rate_limit": SlidingWindow(50, 60.0)}
    assert bulk._client_options(_bulk_args("--rate-per-minute", "0")) == {"rate_limit": None}
    assert bulk._client_options(_bulk_args()) == {}  # the SDK's default: 100 in any 60 s


async def test_bulk_rate_per_minute_takes_whole_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = await cli(capsys, "bulk", "in.jsonl", "--rate-per-minute", "2.5")
    assert result.status == 2
    assert "invalid non-negative integer value: '2.5'" in result.err


def _descriptions() -> dict[str, str]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: sub.format_help() for name, sub in commands.choices.items()}


def test_command_help_has_no_markup_and_no_description_starts_with_it() -> None:
    helps = _descriptions()
    assert set(helps) == {"demo", "update", "list", "bulk", "sandbox"}
    for name, text in helps.items():
        description = text.split("\n\n")[1]
        assert not description.startswith("It"), name
        assert "``" not in text, name
    assert "--block-seconds" in helps["sandbox"]
    assert "--burst" not in helps["sandbox"]


async def test_repeated_connection_ids_are_counted(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ids = ["conn-0000", "conn-0001", "conn-0000", "conn-0002", "conn-0001", "conn-0001"]
    rows = [{"connectionId": i, "primaryCalendar": f"cal-{n}"} for n, i in enumerate(ids)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 0
    assert (
        "bulk: 2 connection id(s) appeared more than once (5 rows): they were applied in "
        "input order, so the last row of each stays" in result.out
    )
    state = fake.connections
    assert [state[i]["primaryCalendar"] for i in ("conn-0000", "conn-0001")] == ["cal-2", "cal-5"]
    single = write_jsonl(tmp_path / "one.jsonl", updates(["conn-0000"]))
    result = await cli(capsys, "bulk", str(single), *creds(fake))
    assert "more than once" not in result.out
