"""The credential never shows: whole failing scenarios with DEBUG logging, then a scan.

Everything a user or a log aggregator could see is collected (log records, reprs of the
client, errors with their causes and tracebacks, bulk results, retry events, the fake's
records, the CLI's output when the CLI exists) and searched for the keys and their secrets.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import logging
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meetergo_async import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    CalendarConnectionUpdate,
    MeetergoClient,
    MeetergoError,
    NotFoundError,
    RetryEvent,
    RetryPolicy,
    UpdateResult,
)
from meetergo_async.testing import FakeMeetergo
from tests.helpers import FakeTime
from tests.integration._servers import (
    connection_path,
    http_server,
    read_request,
    refused_port,
    tcp_server,
    wait_for_eof,
)

WRONG_KEY = "ak_live:00000000-0000-0000-0000-000000000000:TOPSECRET-abc123"
GOOD_KEY = "ak_live:11111111-2222-4333-8444-555555555555:TOPSECRET-good987"
SECRETS = (
    WRONG_KEY,
    GOOD_KEY,
    WRONG_KEY.rsplit(":", 1)[1],
    GOOD_KEY.rsplit(":", 1)[1],
    "TOPSECRET",
)
UPDATE = CalendarConnectionUpdate(primary_calendar="work", validate_availability=True)
RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.1)


class Seen:
    """Every text the scenario exposed, labelled by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, value: object) -> None:
        self.texts.append((where, value if isinstance(value, str) else repr(value)))

    def error(self, where: str, error: BaseException) -> None:
        self.add(f"{where} str", str(error))
        self.add(f"{where} repr", error)
        self.add(f"{where} args", error.args)
        self.add(f"{where} vars", vars(error))
        self.add(f"{where} traceback", "".join(traceback.format_exception(error)))
        if isinstance(error, MeetergoError):
            self.add(f"{where} message", error.message)
        for name in ("body", "headers", "request_id", "retry_after"):
            if hasattr(error, name):
                self.add(f"{where} .{name}", getattr(error, name))
        for link in (error.__cause__, error.__context__):
            if link is not None:
                self.add(f"{where} cause", link)
                self.add(f"{where} cause str", str(link))

    def results(self, where: str, results: Iterable[UpdateResult]) -> None:
        for result in results:
            self.add(f"{where} result {result.index}", result)
            if result.error is not None:
                self.error(f"{where} result {result.index} error", result.error)

    def leaks(self) -> list[str]:
        """One line per place that shows a secret (``SECRETS`` is ordered longest first)."""
        found = []
        for where, text in self.texts:
            secret = next((s for s in SECRETS if s in text), None)
            if secret is not None:
                at = max(0, text.index(secret) - 80)
                found.append(f"{where}: {secret!r} in ...{text[at : at + 200]!r}")
        return found


def logged(caplog: pytest.LogCaptureFixture, seen: Seen) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        seen.add(f"log {record.name} message", record.getMessage())
        seen.add(f"log {record.name} args", record.args)
        seen.add(f"log {record.name} formatted", formatter.format(record))
        if record.exc_text:
            seen.add(f"log {record.name} exc_text", record.exc_text)
    seen.add("caplog text", caplog.text)


async def stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await wait_for_eof(reader, timeout=5.0)


async def run_cli(
    fake: FakeMeetergo,
    seen: Seen,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Run the command line in this loop, if it exists; keep what it printed and wrote."""
    if importlib.util.find_spec("meetergo_async.cli") is None:
        return
    cli = importlib.import_module("meetergo_async.cli")
    monkeypatch.setenv("MEETERGO_API_KEY", WRONG_KEY)
    monkeypatch.setenv("MEETERGO_USER_ID", fake.user_id)
    monkeypatch.setenv("MEETERGO_BASE_URL", fake.url)
    source = tmp_path / "updates.jsonl"
    lines = [
        {"connectionId": "conn-0004", "primaryCalendar": "work"},
        {"connectionId": "missing-3", "validateAvailability": True},
        {"connectionId": "conn-0005", "primaryCalendar": 5},
    ]
    source.write_text("\n".join([*map(json.dumps, lines), "not json"]) + "\n")
    report, failed = tmp_path / "report.jsonl", tmp_path / "failed.jsonl"
    outputs = ["--report", str(report), "--failed", str(failed)]
    runs = [
        ["list"],
        ["update", "conn-0000", "--primary-calendar", "work"],
        ["update", "conn-0000", "--validate-availability", f"--api-key={WRONG_KEY}"],
        ["list", "--api-key", WRONG_KEY, "--no-such-option"],
        ["update", "missing-4", "--validate-availability", "--api-key", GOOD_KEY],
        ["bulk", str(source), "--api-key", GOOD_KEY, *outputs],
        ["bulk", str(source)],
    ]
    errors = []
    for argv in runs:
        status = await cli.run_async(argv)
        assert status != 0, argv  # every run here fails in part
        out, err = capsys.readouterr()
        seen.add(f"cli {argv[0]} stdout", out)
        seen.add(f"cli {argv[0]} stderr", err)
        errors.append(err)
    assert any("401" in err for err in errors)  # the runs really reached the server
    assert any("404" in err for err in errors)
    for written in (report, failed):
        if written.exists():
            seen.add(f"cli file {written.name}", written.read_text())


def make_client(
    key: str, fake: FakeMeetergo, fake_time: FakeTime, **options: Any
) -> MeetergoClient:
    settings: dict[str, Any] = {
        "user_id": fake.user_id,
        "base_url": fake.url,
        "rate_limit": None,
        "retry": RETRY,
        "clock": fake_time.clock,
        "sleep": fake_time.sleep,
    } | options
    return MeetergoClient(key, **settings)


def bulk_items(fake: FakeMeetergo) -> list[Any]:
    known = sorted(fake.connections)[:4]
    return [
        *[(cid, UPDATE) for cid in known],
        ("missing-1", UPDATE),
        ("missing-2", UPDATE),
        ("", UPDATE),  # invalid: an empty id
        ("conn-0001", "not an update"),  # invalid: not an update
    ]


async def wrong_key_scenario(fake: FakeMeetergo, fake_time: FakeTime, seen: Seen) -> None:
    events: list[RetryEvent] = []

    def on_retry(event: RetryEvent) -> None:
        events.append(event)
        if len(events) == 1:
            raise RuntimeError("the user's hook failed")  # logged with its traceback

    client = make_client(WRONG_KEY, fake, fake_time, on_retry=on_retry)
    seen.add("wrong client repr (new)", client)
    async with client:
        with pytest.raises(AuthenticationError) as refused:
            await client.update_calendar_connection("conn-0000", UPDATE)
        seen.error("401", refused.value)

        for _ in range(2):
            fake.enqueue("PATCH", connection_path("conn-0001"), 503)
        with pytest.raises(AuthenticationError) as retried:
            await client.update_calendar_connection("conn-0001", UPDATE)
        assert retried.value.attempts == 3
        seen.error("401 after retries", retried.value)

        with pytest.raises(AuthenticationError) as listed:
            await client.list_calendar_connections()
        seen.error("401 list", listed.value)

        results = await client.update_calendar_connections(bulk_items(fake))
        assert not any(r.ok for r in results)
        seen.results("wrong bulk", results)
        seen.add("wrong client repr (open)", client)
        seen.add("wrong client str", str(client))
        seen.add("wrong client stats", client.stats)
    seen.add("wrong client repr (closed)", client)
    assert events
    for event in events:
        seen.add("retry event", event)
        seen.error("retry event error", event.error)


async def good_key_scenario(fake: FakeMeetergo, fake_time: FakeTime, seen: Seen) -> None:
    events: list[RetryEvent] = []
    client = make_client(GOOD_KEY, fake, fake_time, on_retry=events.append)
    async with client:
        fake.enqueue("PATCH", connection_path("conn-0002"), 503)
        fake.enqueue("PATCH", connection_path("conn-0002"), 429, headers={"Retry-After": "0"})
        connection = await client.update_calendar_connection("conn-0002", UPDATE)
        seen.add("good connection", connection)

        fake.enqueue("PATCH", connection_path("conn-0003"), 500)
        fake.enqueue("PATCH", connection_path("conn-0003"), 500)
        fake.enqueue("PATCH", connection_path("conn-0003"), 500)
        results = await client.update_calendar_connections(bulk_items(fake))
        assert sum(r.ok for r in results) == 3
        assert sum(isinstance(r.error, NotFoundError) for r in results) == 2
        assert sum(isinstance(r.error, TypeError | ValueError) for r in results) == 2
        seen.results("good bulk", results)
        seen.add("stats", client.stats)
    seen.add("good client repr", client)
    for event in events:
        seen.add("good retry event", event)


async def network_failures(fake_time: FakeTime, seen: Seen) -> None:
    with refused_port() as port:
        async with MeetergoClient(
            GOOD_KEY,
            user_id="user-1",
            base_url=f"http://127.0.0.1:{port}",
            rate_limit=None,
            retry=RETRY,
            clock=fake_time.clock,
            sleep=fake_time.sleep,
        ) as client:
            with pytest.raises(APIConnectionError) as refused:
                await client.update_calendar_connection("conn-0000", UPDATE)
    seen.error("connection refused", refused.value)
    once = RetryPolicy(max_attempts=1)
    async with (
        tcp_server(stalling) as url,
        MeetergoClient(
            GOOD_KEY, user_id="user-1", base_url=url, rate_limit=None, timeout=0.05, retry=once
        ) as client,
    ):
        with pytest.raises(APITimeoutError) as stalled:
            await client.list_calendar_connections()
    seen.error("timeout", stalled.value)


async def test_no_credential_appears_anywhere_in_a_failing_run(
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Seen()
    async with FakeMeetergo(generate=6, api_keys=(GOOD_KEY,), rate_limit=None) as fake:
        await wrong_key_scenario(fake, fake_time, seen)
        await good_key_scenario(fake, fake_time, seen)
        await run_cli(fake, seen, capsys, monkeypatch, tmp_path)
        seen.add("fake repr", fake)
        for record in fake.requests:
            seen.add("fake record", record)
            assert record.headers.get("Authorization") == "Bearer ***"
        requests = len(fake.requests)
    await network_failures(fake_time, seen)
    logged(caplog, seen)

    assert requests >= 20  # the scenario really ran
    assert any(r.levelno == logging.DEBUG or r.levelno == logging.INFO for r in caplog.records)
    assert any(r.exc_text or r.exc_info for r in caplog.records)  # the hook's traceback
    assert len(seen.texts) > 100
    leaks = seen.leaks()
    assert leaks == [], "\n".join(leaks)


ECHOES = [
    pytest.param(401, "json", id="401-json-message"),
    pytest.param(400, "json-list", id="400-message-list"),
    pytest.param(503, "text", id="503-text"),
]


@pytest.mark.parametrize(("status", "shape"), ECHOES)
async def test_a_server_echoing_the_credential_does_not_put_it_in_the_error(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture, status: int, shape: str
) -> None:
    # Gateways do this ("invalid token: <token>"); the error is what users log, and its
    # message and headers are documented to hold no credential.
    caplog.set_level(logging.DEBUG)

    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        await request.read()
        auth = request.headers.get("Authorization", "")
        text = f"invalid token: {auth}"
        payload: object = {"statusCode": status, "message": text, "error": "Unauthorized"}
        if shape == "json-list":
            payload = {"statusCode": status, "message": ["bad", text], "error": "Bad Request"}
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", token="{auth}"'}
        if shape == "text":
            return web.Response(status=status, text=text, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    seen = Seen()
    async with (
        http_server(echo) as url,
        MeetergoClient(
            GOOD_KEY,
            user_id="user-1",
            base_url=url,
            rate_limit=None,
            retry=RetryPolicy(max_attempts=2),
            clock=fake_time.clock,
            sleep=fake_time.sleep,
        ) as client,
    ):
        with pytest.raises(MeetergoError) as caught:
            await client.update_calendar_connection("conn-0000", UPDATE)
    assert "invalid token" in str(caught.value)  # the server's words are kept, but not the key
    seen.error("echoed", caught.value)
    logged(caplog, seen)
    leaks = seen.leaks()
    assert leaks == [], "\n".join(leaks)
