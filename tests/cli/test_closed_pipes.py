"""Output into a pipe whose reader has gone (``| head``): dropped quietly, the status kept.

Real processes against the real sandbox: each reader closes its end early, either after a
few bytes of an output far larger than a pipe holds (64 KiB), or before the command writes
at all, so that the command's next write always meets a closed pipe.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meetergo_async.testing import DEFAULT_API_KEY, DEFAULT_USER_ID
from tests.cli._helpers import COMMAND, LIST_PATH, USER_HEADER, subprocess_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes and signals")

CONNECTIONS = 1000
"""Enough that ``list`` prints far more than a pipe holds: the rest meets the closed end."""


def _stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM the sandbox; return its stderr (fail, do not hang, if it does not stop)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=10)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.fixture(scope="module")
def sandbox_env() -> Iterator[dict[str, str]]:
    """A sandbox of many connections in a process of its own; the environment to reach it."""
    args = ["sandbox", "--port", "0", "--connections", str(CONNECTIONS), "--rate-per-minute", "0"]
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    ) as process:
        assert process.stdout is not None
        env = subprocess_env()
        for line in process.stdout:
            if line.startswith("  export "):
                name, value = line.removeprefix("  export ").strip().split("=", 1)
                env[name] = value
            if "MEETERGO_USER_ID" in env:
                break
        try:
            yield env
        finally:
            assert "Traceback" not in _stop(process)


def _run_closing_early(env: dict[str, str], args: list[str], keep: int) -> tuple[int, str]:
    """Run the command, read ``keep`` bytes of its stdout, close it; its status and stderr."""
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        head = process.stdout.read(keep) if keep else b""
        process.stdout.close()  # the reader has gone, as head's does
        try:
            err = process.stderr.read()
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert len(head) == keep
    return process.returncode, err.decode()


@pytest.mark.parametrize("args", [["list", "--json"], ["list"]], ids=["json", "table"])
def test_list_into_a_pipe_closed_early_exits_0_quietly(
    sandbox_env: dict[str, str], args: list[str]
) -> None:
    status, err = _run_closing_early(sandbox_env, args, keep=400)
    assert (status, err) == (0, "")


NOT_FOUND = (
    f"line 2 (nope): meetergo API 404 Not Found: Connection not found (PATCH {LIST_PATH}/nope)"
)


@pytest.mark.parametrize(
    ("ids", "status", "err"),
    [(["conn-0000", "conn-0001", "conn-0000"], 0, ""), (["conn-0000", "nope"], 1, NOT_FOUND)],
    ids=["ok", "a-row-fails"],
)
def test_bulk_into_a_closed_pipe_keeps_the_status_of_its_work(
    sandbox_env: dict[str, str], tmp_path: Path, ids: list[str], status: int, err: str
) -> None:
    rows = [json.dumps({"connectionId": i, "validateAvailability": True}) for i in ids]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(rows) + "\n")
    # Its stdout is written at the end (summary, notes): the reader is gone before.
    got = _run_closing_early(sandbox_env, ["bulk", str(source), "--quiet"], keep=0)
    assert got == (status, err + "\n" if err else "")  # a failed row is on stderr, nothing else


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get_connections(port: int) -> int | None:
    """The status of a list request to the sandbox, or ``None`` while nothing listens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}", USER_HEADER: DEFAULT_USER_ID}
    try:
        connection.request("GET", LIST_PATH, headers=headers)
        return connection.getresponse().status
    except ConnectionRefusedError:
        return None
    finally:
        connection.close()


def test_the_sandbox_serves_on_when_its_stdout_is_closed() -> None:
    port = _free_port()
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*COMMAND, "sandbox", "--port", str(port), "--connections", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    ) as process:
        assert process.stdout is not None
        process.stdout.close()  # before the banner: its first line meets a closed pipe
        answered = None
        deadline = time.monotonic() + 15
        while answered is None and process.poll() is None and time.monotonic() < deadline:
            answered = _get_connections(port)
            if answered is None:
                time.sleep(0.02)  # the process is starting: its port is not open yet
        err = _stop(process) if process.poll() is None else process.communicate()[1]
    assert answered == 200, err
    assert process.returncode == 0
    assert err == "sandbox stopped after 1 requests (1 x 200)\n"
