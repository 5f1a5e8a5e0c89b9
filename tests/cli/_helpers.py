"""What the in-process command-line tests share: credentials, a runner that checks for leaks."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from meetergo_async.cli import run_async
from meetergo_async.testing import DEFAULT_API_KEY, FakeMeetergo

LIST_PATH = "/v4/calendar-connections/connections"
USER_HEADER = "x-meetergo-api-user-id"
WRONG_KEY = "ak_live:00000000-0000-4000-8000-000000000000:not-the-sandbox-secret"


class Result(NamedTuple):
    status: int
    out: str
    err: str


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


def subprocess_env(fake: FakeMeetergo | None = None) -> dict[str, str]:
    """The environment of a command run in a subprocess: no MEETERGO_* but the fake's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETERGO_")}
    env["PYTHONWARNINGS"] = "error"  # an unclosed session or socket fails the run
    if fake is not None:
        env["MEETERGO_BASE_URL"] = fake.url
        env["MEETERGO_API_KEY"] = fake.api_key
        env["MEETERGO_USER_ID"] = fake.user_id
    return env


COMMAND = [sys.executable, "-m", "meetergo_async"]
"""The command line, run as a module of this interpreter."""


def conn_ids(count: int) -> list[str]:
    """The ids of a FakeMeetergo's first ``count`` generated connections."""
    return [f"conn-{i:04d}" for i in range(count)]


def updates(ids: Iterable[str]) -> list[dict[str, object]]:
    """One bulk row per id, each setting the primary calendar."""
    return [{"connectionId": i, "primaryCalendar": "w"} for i in ids]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, object]]) -> Path:
    """Write ``rows`` as JSON Lines; return the path."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a report (or any JSON Lines file)."""
    return [json.loads(line) for line in path.read_text().splitlines()]
