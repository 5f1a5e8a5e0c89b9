"""A real HTTP proxy for the tests: Debian's ``tinyproxy`` on a free 127.0.0.1 port.

``.ci/run`` installs tinyproxy when it is missing. Elsewhere a machine without it skips
the proxy tests, except under CI (``CI`` set), where a missing proxy is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class Tinyproxy:
    """A running tinyproxy: its port and its log file."""

    port: int
    log: Path

    def url(self, credentials: str = "") -> str:
        """``http://[credentials@]127.0.0.1:<port>``."""
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        """The request lines the proxy logged (``GET http://... HTTP/1.1``)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return [line.split("): ", 1)[1] for line in text.splitlines() if ": Request (" in line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, output: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tinyproxy exited {proc.returncode}: {output.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    pytest.fail(f"tinyproxy did not listen on 127.0.0.1:{port} within {_START_TIMEOUT:g}s")


@contextlib.contextmanager
def tinyproxy(directory: Path, basic_auth: tuple[str, str] | None = None) -> Iterator[Tinyproxy]:
    """Run tinyproxy in the foreground with a config file in ``directory``; stop it by PID."""
    binary = shutil.which("tinyproxy") or next(
        (p for p in ("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy") if os.path.exists(p)), None
    )
    if binary is None:
        pytest.fail("tinyproxy is not installed: bash .ci/services installs it (apt-get)")
    port, log = _free_port(), directory / "tinyproxy.log"
    config = [
        f"Port {port}",
        "Listen 127.0.0.1",
        "Timeout 30",
        f'LogFile "{log}"',
        "LogLevel Connect",
        "MaxClients 50",
        "Allow 127.0.0.1",
    ]
    if basic_auth is not None:
        config.append("BasicAuth {} {}".format(*basic_auth))
    (directory / "tinyproxy.conf").write_text("\n".join(config) + "\n", encoding="utf-8")
    output = directory / "tinyproxy.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - the system's tinyproxy, our own config
            [binary, "-d", "-c", str(directory / "tinyproxy.conf")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_listening(proc, port, output)
        yield Tinyproxy(port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
