"""The command line as users start it: a real process, the console script, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETERGO_")}
    env["PYTHONWARNINGS"] = "error"  # an unclosed session or socket fails the run
    return env


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "meetergo-async"
    found = str(script) if script.exists() else shutil.which("meetergo-async")
    return [found] if found else [sys.executable, "-m", "meetergo_async"]


def test_demo_runs_as_a_module() -> None:
    args = ["demo", "--connections", "30", "--server-rate", "300"]
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-m", "meetergo_async", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "30 updated, 0 failed; verified 30/30" in done.stdout
    assert "req/s" in done.stdout
    assert done.stderr == ""


def test_console_script_help() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [*_console_script(), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
        check=False,
    )
    assert done.returncode == 0
    for command in ("demo", "update", "list", "bulk", "sandbox"):
        assert command in done.stdout


def test_importing_the_sdk_loads_neither_the_cli_nor_rich() -> None:
    code = (
        "import sys, meetergo_async, meetergo_async.testing; "
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'rich' "
        "or m == 'meetergo_async.cli' or m.startswith('meetergo_async.cli.')]; print(loaded)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX-only here")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_sandbox_stops_cleanly(stop: signal.Signals) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "meetergo_async", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    ) as process:
        assert process.stdout is not None
        assert "FakeMeetergo sandbox on http://127.0.0.1:" in process.stdout.readline()
        process.send_signal(stop)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "sandbox stopped after 0 requests" in err
