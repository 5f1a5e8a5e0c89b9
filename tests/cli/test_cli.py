"""The command line, run in-process against a FakeMeetergo through ``run_async``."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest

from meetergo_async import MeetergoClient
from meetergo_async.cli import main, run_async
from meetergo_async.testing import DEFAULT_API_KEY, FakeMeetergo

LIST_PATH = "/v4/calendar-connections/connections"
USER_HEADER = "x-meetergo-api-user-id"
WRONG_KEY = "ak_live:00000000-0000-4000-8000-000000000000:not-the-sandbox-secret"


class Result(NamedTuple):
    status: int
    out: str
    err: str


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=3, rate_limit=None) as server:
        yield server


def creds(fake: FakeMeetergo, api_key: str | None = None) -> list[str]:
    key = api_key or fake.api_key
    return ["--base-url", fake.url, "--api-key", key, "--user-id", fake.user_id]


async def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run the command line; check that no API key was printed and no traceback either."""
    status = await run_async(list(args))
    out, err = capsys.readouterr()
    for key in (DEFAULT_API_KEY, WRONG_KEY):
        assert key not in out + err
    assert "Traceback" not in err
    return Result(status, out, err)


def patches(fake: FakeMeetergo) -> list[dict[str, object]]:
    return [r.json for r in fake.requests if r.method == "PATCH"]


# -- update ---------------------------------------------------------------------------


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


# -- list -----------------------------------------------------------------------------


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


# -- credentials and secrets ----------------------------------------------------------


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


# -- bulk -----------------------------------------------------------------------------


def write(path: Path, *lines: str) -> Path:
    return write_raw(path, "".join(line + "\n" for line in lines))


def write_raw(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


async def test_bulk_jsonl(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.jsonl",
        '{"connectionId": "conn-0000", "validateAvailability": false}',
        "",
        json.dumps(
            {
                "connectionId": "conn-0001",
                "selectedCalendars": ["a", "b"],
                "userId": fake.user_id,
                "asUser": fake.user_id,
            }
        ),
    )
    # One 429 first: the client waits the Retry-After (0 s here) and sends it again.
    fake.enqueue("PATCH", f"{LIST_PATH}/conn-0000", 429, headers={"Retry-After": "0"})
    report = tmp_path / "report.jsonl"
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--report", str(report))
    assert result.status == 0
    assert result.out.startswith("bulk: 2 of 2 updated, 0 failed")
    assert "3 requests, 1 retries, 1 rate-limited (429)" in result.out
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["connectionId"], r["attempts"]) for r in rows] == [
        (1, "conn-0000", 2),
        (3, "conn-0001", 1),
    ]
    by_id = {r.connection_id: r for r in fake.requests}
    assert by_id["conn-0000"].json == {"validateAvailability": False}
    assert by_id["conn-0000"].query == {}
    assert by_id["conn-0001"].json == {"selectedCalendars": ["a", "b"]}
    assert by_id["conn-0001"].query == {"userId": fake.user_id}


CSV_HEADER = "connectionId,primaryCalendar,selectedCalendars,validateAvailability,userId,asUser"


async def test_bulk_csv(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.csv",
        CSV_HEADER,
        "conn-0000,work,a; b,true,,",
        "",
        f"conn-0001,,[],FALSE,{fake.user_id},{fake.user_id}",
        'conn-0002,"cal,with,commas",,,,',
    )
    result = await cli(capsys, "bulk", str(source), *creds(fake))
    assert result.status == 0, result.err
    by_id = {r.connection_id: r for r in fake.requests}
    assert by_id["conn-0000"].json == {
        "primaryCalendar": "work",
        "selectedCalendars": ["a", "b"],
        "validateAvailability": True,
    }
    assert by_id["conn-0001"].json == {"selectedCalendars": [], "validateAvailability": False}
    assert by_id["conn-0001"].query == {"userId": fake.user_id}
    assert by_id["conn-0001"].headers[USER_HEADER] == fake.user_id
    assert by_id["conn-0002"].json == {"primaryCalendar": "cal,with,commas"}


MIXED = (
    '{"connectionId": "conn-0000", "syncBuffersToCalendar": true}',
    '{"connectionId": "conn-0001", bad json',
    '{"connectionId": "conn-0001", "colour": "red"}',
    '{"connectionId": "conn-0002", "validateAvailability": "yes"}',
    "",
    '{"connectionId": "nope", "validateAvailability": true}',
    '{"connectionId": "conn-0002", "validateAvailability": false}',
)


async def test_bulk_reports_malformed_lines_and_runs_the_others(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", *MIXED)
    report = tmp_path / "report.jsonl"
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--report", str(report))
    assert result.status == 1
    assert "2 of 6 updated, 4 failed (3 malformed)" in result.out
    errors = dict(line.split(": ", 1) for line in result.err.splitlines())
    assert errors["line 2"].startswith("not valid JSON")
    assert errors["line 3"] == "unknown update field(s): colour"
    assert errors["line 4"] == "validateAvailability must be a bool, got 'yes'"
    assert "404" in errors["line 6 (nope)"]
    assert sorted(r.connection_id or "" for r in fake.requests) == [
        "conn-0000",
        "conn-0002",
        "nope",
    ]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["ok"], r["status"], r["attempts"]) for r in rows] == [
        (1, True, None, 1),
        (2, False, None, 0),
        (3, False, None, 0),
        (4, False, None, 0),
        (6, False, 404, 1),
        (7, True, None, 1),
    ]
    assert rows[0] == {
        "line": 1,
        "connectionId": "conn-0000",
        "ok": True,
        "status": None,
        "error": None,
        "attempts": 1,
    }
    assert [r["connectionId"] for r in rows[1:4]] == [None, "conn-0001", "conn-0002"]
    assert "Connection not found" in rows[4]["error"]


async def test_bulk_reports_malformed_csv_rows(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.csv",
        "connectionId,validateAvailability",
        "conn-0000,yes",
        "conn-0001,true,surplus",
        '"conn-0002',
        'continued",false',
        ",true",
    )
    report = tmp_path / "report.jsonl"
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--report", str(report))
    assert result.status == 1
    assert result.err.splitlines() == [
        "line 2: validateAvailability must be true or false, got 'yes'",
        "line 3: 3 cells, but the header has 2 columns",
        "line 4: connectionId must not contain control characters (CR, LF, NUL, DEL, ...)",
        "line 6: connectionId is missing",
    ]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["connectionId"], r["ok"]) for r in rows] == [
        (2, "conn-0000", False),
        (3, None, False),
        (4, "conn-0002\ncontinued", False),  # a quoted cell may span lines
        (6, None, False),
    ]
    assert fake.requests == []


async def test_bulk_strict_sends_nothing(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", *MIXED)
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--strict")
    assert result.status == 2
    assert fake.requests == []
    assert [line.split(":")[0] for line in result.err.splitlines()] == [
        "line 2",
        "line 3",
        "line 4",
        "meetergo-async",
    ]
    assert "3 malformed lines; --strict: nothing sent" in result.err


async def test_bulk_strict_runs_a_clean_file(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write(tmp_path / "in.jsonl", MIXED[0], MIXED[-1])
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--strict")
    assert result.status == 0
    assert len(fake.requests) == 2


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
async def test_bulk_failed_file_reruns_just_the_failures(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    if suffix == "csv":
        lines = [CSV_HEADER, "conn-0000,work,,,,", "new-1,work,,,,", "conn-0001,,,true,,"]
        failed_lines = [CSV_HEADER, "new-1,work,,,,"]
    else:
        lines = [
            '{"connectionId": "conn-0000", "primaryCalendar": "work"}',
            '{"connectionId": "new-1",  "primaryCalendar": "work"}',
        ]
        failed_lines = [lines[1]]
    source = write(tmp_path / f"in.{suffix}", *lines)
    failed = tmp_path / f"failed.{suffix}"
    first = await cli(capsys, "bulk", str(source), *creds(fake), "--failed", str(failed))
    assert first.status == 1
    assert failed.read_text().splitlines() == failed_lines
    fake.add_connection("new-1")
    again = tmp_path / f"again.{suffix}"
    second = await cli(capsys, "bulk", str(failed), *creds(fake), "--failed", str(again))
    assert second.status == 0
    assert second.out.startswith("bulk: 1 of 1 updated")
    assert fake.connections["new-1"]["primaryCalendar"] == "work"
    assert again.read_text().splitlines() == failed_lines[:-1]  # the CSV header, or nothing


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffconnectionId,syncBuffersToCalendar\nconn-0001,true\n",
        '\n{"connectionId": "conn-0001", "syncBuffersToCalendar": true}\n',
    ],
    ids=["csv", "jsonl"],
)
@pytest.mark.parametrize("strict", [False, True])
async def test_bulk_reads_stdin(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    strict: bool,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    result = await cli(capsys, "bulk", "-", *creds(fake), *(["--strict"] if strict else []))
    assert result.status == 0, result.err
    assert patches(fake) == [{"syncBuffersToCalendar": True}]


async def test_bulk_options_and_progress_on_a_terminal(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    source = write(tmp_path / "in.ndjson", *MIXED)
    args = ["--concurrency", "2", "--rate-per-minute", "6000"]
    result = await cli(capsys, "bulk", str(source), *creds(fake), *args)
    assert result.status == 1
    assert "line 3: unknown update field(s): colour" in result.err
    assert "6/6" in result.err  # rich's bar, drawn on stderr


@pytest.mark.parametrize(
    ("name", "text", "args", "message"),
    [
        ("a.csv", "connectionId,colour\nc,red\n", [], "unknown CSV column(s) 'colour'"),
        ("a.csv", "primaryCalendar\nx\n", [], "no connectionId column"),
        ("a.csv", "connectionId,asUser,asUser\n", [], "repeated CSV column(s) asUser"),
        ("a.jsonl", "", ["--report", "{input}"], "is the input file"),
        ("a.jsonl", "", ["--report", "r", "--failed", "r"], "must be different files"),
        ("a.jsonl", "", ["--concurrency", "0"], "invalid positive integer value: '0'"),
        ("a.jsonl", None, [], "cannot read"),
        ("a.jsonl", "", ["--failed", "no/such/dir"], "cannot write no/such/dir"),
        ("a.jsonl", b"\xff\xfe{}\n", [], "is not UTF-8 text"),
    ],
)
async def test_bulk_bad_input_exits_2_and_sends_nothing(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    text: str | bytes | None,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if text is not None:
        write_raw(Path(name), text)
    args = [arg.format(input=name) for arg in args]
    result = await cli(capsys, "bulk", name, *creds(fake), *args)
    assert result.status == 2
    assert message in result.err
    assert result.err.count("\n") == 1
    assert fake.requests == []


# -- demo and sandbox -----------------------------------------------------------------


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "demo", "--connections", "40", "--server-rate", "400", "--seed", "3")
    assert result.status == 0, result.err
    assert "40 updated, 0 failed; verified 40/40" in result.out
    assert "paced at 800 req/s" in result.out


async def test_sandbox_serves_until_cancelled(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(run_async(["sandbox", "--port", "0", "--connections", "2"]))
    out = ""
    while "MEETERGO_USER_ID" not in out:
        await asyncio.sleep(0.01)
        assert not task.done()
        out += capsys.readouterr().out
    exports = dict(
        line.removeprefix("  export ").split("=", 1)
        for line in out.splitlines()
        if "export" in line
    )
    async with MeetergoClient(
        api_key=exports["MEETERGO_API_KEY"],
        user_id=exports["MEETERGO_USER_ID"],
        base_url=exports["MEETERGO_BASE_URL"],
    ) as client:
        assert [c.id for c in await client.list_calendar_connections()] == [
            "conn-0000",
            "conn-0001",
        ]
    task.cancel()
    assert await task == 0
    assert "sandbox stopped after 1 requests (1 x 200)" in capsys.readouterr().err


async def test_sandbox_bad_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "sandbox", "--port", "0", "--fail-rate", "0.8", "--drop-rate", "0.4")
    assert result.status == 2
    assert "must not exceed 1" in result.err


# -- the entry points -----------------------------------------------------------------


def test_main_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("meetergo-async ")
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_main_reports_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(argv: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("meetergo_async.cli.run_async", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "meetergo-async: interrupted\n"
