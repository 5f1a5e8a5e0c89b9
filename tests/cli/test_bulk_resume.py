"""``bulk --resume REPORT``: only the rows not recorded ok are sent, to the same report."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import cli, creds, patches, read_jsonl, updates, write_jsonl

IDS = ["conn-0000", "conn-0001", "conn-0002"]


def _row(line: int, connection_id: str | None, outcome: str) -> str:
    row = {"line": line, "connectionId": connection_id, "outcome": outcome, "ok": outcome == "ok"}
    return json.dumps({**row, "status": None, "error": None, "attempts": 1}) + "\n"


async def test_resume_sends_only_the_rows_not_ok_and_appends(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(IDS))
    report = tmp_path / "report.jsonl"
    report.write_text(_row(1, "conn-0000", "ok") + _row(2, "conn-0001", "interrupted"))
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert result.status == 0, result.err
    assert sorted(r.connection_id or "" for r in fake.requests) == ["conn-0001", "conn-0002"]
    assert f"bulk: resumed from {report}: 1 rows recorded ok not sent again" in result.out
    assert result.out.startswith("bulk: 2 of 2 updated, 0 failed")
    rows = read_jsonl(report)
    assert [(r["line"], r["outcome"]) for r in rows] == [
        (1, "ok"),
        (2, "interrupted"),
        (2, "ok"),
        (3, "ok"),
    ]

    again = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert again.status == 0
    assert (
        again.out == f"bulk: nothing to resume: every row of {source} is recorded ok in {report}\n"
    )
    assert len(fake.requests) == 2  # nothing sent the second time
    assert read_jsonl(report) == rows


async def test_resume_refuses_a_changed_input(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "report.jsonl"
    written = _row(1, "conn-0000", "ok") + _row(2, "conn-0001", "failed")
    report.write_text(written)
    cases = [
        (
            ["conn-0000", "conn-0002", "conn-0001"],
            "line 2 is conn-0002 in it but conn-0001 in the report",
        ),
        (["conn-0000"], "the report has line 2, which it has no row on"),
    ]
    for ids, detail in cases:
        source = write_jsonl(tmp_path / "in.jsonl", updates(ids))
        result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
        assert result.status == 2
        assert f"cannot resume: {source} changed since {report} was written ({detail})" in (
            result.err
        )
    assert fake.requests == []
    assert report.read_text() == written


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"line": 1}\n', "line 1 is not a bulk report row"),
        ("not json\n" + _row(1, "conn-0000", "ok"), "line 1 is not a bulk report row"),
        (_row(1, "conn-0000", "ok") + _row(1, "conn-0009", "ok"), "gives line 1 two connection"),
        (None, "cannot read"),
    ],
)
async def test_resume_refuses_what_is_not_a_report(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(IDS))
    report = tmp_path / "report.jsonl"
    if content is not None:
        report.write_text(content)
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert result.status == 2
    assert message in result.err
    assert fake.requests == []


async def test_resume_drops_a_row_cut_off_by_a_crash(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(IDS))
    report = tmp_path / "report.jsonl"
    report.write_text(_row(1, "conn-0000", "ok") + _row(2, "conn-0001", "ok")[:20])
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert result.status == 0, result.err
    assert [(r["line"], r["ok"]) for r in read_jsonl(report)] == [(1, True), (2, True), (3, True)]


async def test_resume_of_a_report_without_a_final_line_break(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", updates(IDS))
    report = tmp_path / "report.jsonl"
    report.write_text(_row(1, "conn-0000", "ok") + _row(2, "conn-0001", "ok").rstrip("\n"))
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert result.status == 0, result.err
    assert [r.connection_id for r in fake.requests] == ["conn-0002"]
    assert [r["line"] for r in read_jsonl(report)] == [1, 2, 3]


async def test_resume_a_csv_input_with_malformedread_jsonl(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "connectionId,validateAvailability\nconn-0000,true\nconn-0001,yes\n\nconn-0002,false\n"
    )
    report = tmp_path / "report.jsonl"
    first = await cli(capsys, "bulk", str(source), *creds(fake), "--report", str(report))
    assert first.status == 1
    assert [(r["line"], r["outcome"]) for r in read_jsonl(report)] == [
        (2, "ok"),
        (3, "failed"),
        (5, "ok"),
    ]
    again = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert again.status == 1  # the malformed row is still malformed
    assert "line 3: validateAvailability must be true or false, got 'yes'" in again.err
    assert len(fake.requests) == 2
    assert [r["line"] for r in read_jsonl(report)] == [2, 3, 5, 3]


async def test_resume_from_stdin(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    text = write_jsonl(tmp_path / "in.jsonl", updates(IDS)).read_text()
    report = tmp_path / "report.jsonl"
    report.write_text(_row(1, "conn-0000", "ok") + _row(3, "conn-0002", "ok"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    result = await cli(capsys, "bulk", "-", *creds(fake), "--resume", str(report))
    assert result.status == 0, result.err
    assert patches(fake) == [{"primaryCalendar": "w"}]
    assert [r.connection_id for r in fake.requests] == ["conn-0001"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--report", "other.jsonl"], "--resume appends to its own report: leave --report out"),
        (["--failed", "r.jsonl"], "--report and --failed must be different files"),
        (["--report", "r.jsonl"], "cannot read r.jsonl"),  # the same file is fine
    ],
)
async def test_resume_options_that_conflict(
    fake: FakeMeetergo,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "in.jsonl", updates(IDS))
    result = await cli(capsys, "bulk", "in.jsonl", *creds(fake), "--resume", "r.jsonl", *args)
    assert result.status == 2
    assert message in result.err


async def test_resume_warns_about_a_row_behind_a_later_ok_one(
    fake: FakeMeetergo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ids = ["conn-0000", "conn-0001", "conn-0000", "conn-0001"]
    source = write_jsonl(tmp_path / "in.jsonl", updates(ids))
    report = tmp_path / "report.jsonl"
    report.write_text(
        _row(1, "conn-0000", "failed")
        + _row(2, "conn-0001", "ok")
        + _row(3, "conn-0000", "ok")
        + _row(4, "conn-0001", "failed")
    )
    result = await cli(capsys, "bulk", str(source), *creds(fake), "--resume", str(report))
    assert result.status == 0
    assert result.err.splitlines()[0] == (
        "bulk: warning: line 1 will be sent again although a later row for the same "
        "connection is recorded ok: that later update may be undone"
    )
    assert [r.connection_id for r in fake.requests] == ["conn-0000", "conn-0001"]
