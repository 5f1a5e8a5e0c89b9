"""The ``bulk`` command: JSON Lines or CSV input, the report, the failed file, --strict."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import LIST_PATH, USER_HEADER, cli, creds, patches


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
    assert errors["line 3"] == "unknown field(s): colour"
    assert errors["line 4"] == 'validateAvailability must be true or false, got "yes"'
    assert "404" in errors["line 6 (nope)"]
    assert sorted(r.connection_id or "" for r in fake.requests) == [
        "conn-0000",
        "conn-0002",
        "nope",
    ]
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert [(r["line"], r["outcome"], r["ok"], r["status"], r["attempts"]) for r in rows] == [
        (1, "ok", True, None, 1),
        (2, "failed", False, None, 0),
        (3, "failed", False, None, 0),
        (4, "failed", False, None, 0),
        (6, "failed", False, 404, 1),
        (7, "ok", True, None, 1),
    ]
    assert rows[0] == {
        "line": 1,
        "connectionId": "conn-0000",
        "outcome": "ok",
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
        (3, "conn-0001", False),  # too many cells, but the id is readable
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
    assert "line 3: unknown field(s): colour" in result.err
    assert "6/6" in result.err  # rich's bar, drawn on stderr


@pytest.mark.parametrize(
    ("name", "text", "args", "message"),
    [
        ("a.csv", "connectionId,colour\nc,red\n", [], "unknown CSV column(s) colour; the"),
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
