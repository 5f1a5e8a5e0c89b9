"""A real redis-server on a free loopback port for the shared-budget tests, stopped by its PID.

No emulator: the budget's Lua script, Redis's ``TIME`` and ``NOSCRIPT`` after a restart must
be the real ones. Persistence is off, so a restart loses the data, as it would in production
without it.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

START_TIMEOUT = 5.0
"""Seconds redis-server may take to answer PING after it started."""
STOP_TIMEOUT = 10.0
"""Seconds redis-server may take to exit after SIGTERM before it is killed."""


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held at once while they are picked)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class RedisServer:
    """One redis-server process in ``directory``: start, stop, kill and restart on its port.

    ``port`` defaults to a free one; ``options`` are more command-line options (a cluster
    node's, for instance).
    """

    def __init__(
        self, directory: Path, *, port: int | None = None, options: Sequence[str] = ()
    ) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(executable).exists():
            pytest.fail("redis-server is missing: bash .ci/services installs it (apt-get)")
        self._executable = executable
        self._directory = directory
        self.port = free_ports(1)[0] if port is None else port
        self._options = tuple(options)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        """Start in the foreground, persistence off; return once it answers PING."""
        command = [
            self._executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self._directory),
            "--logfile",
            "",
            *self._options,
        ]
        self._proc = subprocess.Popen(  # noqa: S603 - the Debian binary, fixed arguments
            command, cwd=self._directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)

    def answers(self) -> bool:
        """Whether the server answers PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Kill it by its PID (SIGKILL): Redis dies mid-run and keeps nothing."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """Stop it by its PID (SIGTERM) and wait until it is gone; kill it if it lingers."""
        try:
            self._end(signal.SIGTERM)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self) -> None:
        """A new process on the same port, with no data."""
        self.stop()
        self.start()

    def _end(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        proc.wait(timeout=STOP_TIMEOUT)


async def until(check: Callable[[], Awaitable[bool] | bool], timeout: float = 2.0) -> None:
    """Wait until ``check()`` holds (it may be a coroutine function); fail after ``timeout``.

    For what neither Redis nor FakeMeetergo offers an event: a count reached, a key written.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout:g}s: {check}")
        await asyncio.sleep(0.005)
