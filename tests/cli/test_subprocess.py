"""The command line as users start it: a real process, the console script, Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from meetergo_async.testing import FakeMeetergo
from tests.cli._helpers import subprocess_env


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with the test environment; its output as text, whatever its status."""
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        command, capture_output=True, text=True, timeout=30, env=subprocess_env(), check=False
    )


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "meetergo-async"
    found = str(script) if script.exists() else shutil.which("meetergo-async")
    return [found] if found else [sys.executable, "-m", "meetergo_async"]


def test_demo_runs_as_a_module() -> None:
    args = ["demo", "--connections", "30", "--server-rate", "300", "--quiet"]
    done = _run([sys.executable, "-m", "meetergo_async", *args])
    assert done.returncode == 0, done.stderr
    assert "30 updated, 0 failed; verified 30/30" in done.stdout
    assert "req/s" in done.stdout
    assert done.stderr == ""


def test_console_script_help() -> None:
    done = _run([*_console_script(), "--help"])
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


# Runs the commands that reach the API in one process, noting after the import and after
# each command whether aiohttp's server or the sandbox has been loaded.
_API_COMMANDS = """\
import json, sys
from meetergo_async import cli

def loaded():
    return [m for m in ("aiohttp.web", "meetergo_async.testing") if m in sys.modules]

url, key, user, source = sys.argv[1:]
creds = ["--base-url", url, "--api-key", key, "--user-id", user]
seen = {"import": loaded()}
for args in (["list"], ["update", "conn-0000", "--primary-calendar", "work"], ["bulk", source]):
    status = cli.main([*args, *creds])
    seen[args[0]] = [status, loaded()]
print(json.dumps(seen))
"""


async def test_api_commands_load_neither_the_sandbox_nor_aiohttp_web(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"connectionId": "conn-0001", "validateAvailability": false}\n')
    async with FakeMeetergo(generate=2, rate_limit=None) as fake:
        # Not subprocess.run: the fake answers from this event loop, which must keep running.
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-c", _API_COMMANDS],
            *[fake.url, fake.api_key, fake.user_id, str(source)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=subprocess_env(),
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
        methods = [(r.method, r.connection_id) for r in fake.requests]
    assert process.returncode == 0, err.decode()
    assert err == b""
    assert methods == [("GET", None), ("PATCH", "conn-0000"), ("PATCH", "conn-0001")]
    seen = json.loads(out.decode().splitlines()[-1])
    assert seen == {"import": [], "list": [0, []], "update": [0, []], "bulk": [0, []]}


def test_demo_loads_the_sandbox_only_when_it_runs() -> None:
    code = (
        "import sys; from meetergo_async import cli; "
        "names = ('meetergo_async.testing', 'aiohttp.web'); "
        "before = [n in sys.modules for n in names]; "
        "status = cli.main(['demo', '--connections', '5', '--server-rate', '500']); "
        "print(before, status, [n in sys.modules for n in names])"
    )
    done = _run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert "verified 5/5" in done.stdout
    assert done.stdout.splitlines()[-1] == "[False, False] 0 [True, True]"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery is POSIX-only here")
@pytest.mark.parametrize(
    ("stop", "started_ignoring_ctrl_c"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "kill", "ctrl-c-to-a-background-job"],
)
def test_sandbox_stops_cleanly(stop: signal.Signals, started_ignoring_ctrl_c: bool) -> None:
    # A shell starts a background job with SIGINT ignored; the sandbox still stops on it.
    ignore = signal.SIG_IGN if started_ignoring_ctrl_c else signal.SIG_DFL
    with subprocess.Popen(
        [sys.executable, "-m", "meetergo_async", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, ignore),
    ) as process:
        assert process.stdout is not None
        assert "FakeMeetergo sandbox on http://127.0.0.1:" in process.stdout.readline()
        process.send_signal(stop)
        try:
            _, err = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()  # fail, do not hang: leaving the block waits for the process
            raise
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "sandbox stopped after 0 requests" in err
