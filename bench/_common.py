"""Helpers shared by the benchmarks: a server in a subprocess, medians, a plain table.

``server`` runs a FakeMeetergo (``_server.py``); ``real_server`` runs the NestJS app of
``bench/nest`` behind the real @nestjs/throttler, for the scenarios whose server arguments
start with ``nest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp

from meetergo_async import CalendarConnectionUpdate, UpdateRequest
from meetergo_async.testing import DEFAULT_API_KEY, DEFAULT_USER_ID

API_KEY = DEFAULT_API_KEY
USER_ID = DEFAULT_USER_ID
VERIFY_KEY = "ak_live:bench-verify:verify-secret"
"""A second key the benchmark server accepts: reading the final state spends its budget."""
SERVER = Path(__file__).with_name("_server.py")
NEST_HARNESS = Path(__file__).resolve().parents[1] / "tests" / "nest" / "_app.py"
"""Installs and starts the NestJS app (shared with tests/nest, which import it as a package)."""
PATH = "/v4/calendar-connections/connections"


def value(tag: str, i: int) -> str:
    """The primary calendar a run tagged ``tag`` gives connection ``i``: each its own."""
    return f"{tag}-{i:04d}"


def requests_for(tag: str, start: int, count: int) -> list[UpdateRequest]:
    """One update a connection, ``conn-<start>`` onwards, each to its own value."""
    return [
        UpdateRequest(f"conn-{i:04d}", CalendarConnectionUpdate(primary_calendar=value(tag, i)))
        for i in range(start, start + count)
    ]


async def wrong_values(url: str, tag: str, n: int) -> int:
    """How many of the N connections do not hold their update's value (read with VERIFY_KEY)."""
    headers = {"Authorization": f"Bearer {VERIFY_KEY}", "x-meetergo-api-user-id": USER_ID}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(f"{url}{PATH}") as resp,
    ):
        state = {c["id"]: c for c in (await resp.json())["connections"]}
    return sum(state[f"conn-{i:04d}"]["primaryCalendar"] != value(tag, i) for i in range(n))


@contextlib.contextmanager
def server(*args: str) -> Iterator[str]:
    """Start ``_server.py`` with ``args`` in its own process; yield its URL."""
    proc = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SERVER), *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def nest_harness() -> ModuleType:
    """``tests/nest/_app.py``, loaded from its path (bench is not a package)."""
    name = "_meetergo_nest_harness"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, NEST_HARNESS)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return module


def nest_options(connections: int, args: Sequence[str], **extra: Any) -> Any:
    """The NestJS app's options for ``_server.py``-style arguments ``nest LIMIT TTL ...``.

    ``no-headers`` is ``setHeaders: false``, ``suffix=-NAME`` a throttler named NAME;
    ``jitter=`` is the fake's model of how a busy server counts, which the real one needs
    not; the app has no other switch of ``_server.py`` (faults, latency, ``no-retry-after``).
    """
    if len(args) < 3 or args[0] != "nest":
        raise ValueError(f"the real server runs NestJS's throttler only: {list(args)}")
    headers, name = True, None
    for arg in args[3:]:
        if arg == "no-headers":
            headers = False
        elif arg.startswith("suffix=-"):
            name = arg.removeprefix("suffix=-")
        elif arg.startswith("jitter="):
            continue
        else:
            raise ValueError(f"the real NestJS app has no {arg!r}")
    return nest_harness().NestOptions(
        limit=int(args[1]),
        ttl_ms=round(float(args[2]) * 1000),
        headers=headers,
        name=name,
        connections=connections,
        **extra,
    )


@contextlib.contextmanager
def real_server(*args: str, trace: bool = False) -> Iterator[str]:
    """Start the NestJS app for ``CONNECTIONS nest LIMIT TTL ...``; yield its URL.

    Any bearer token works, each with its own budget, so VERIFY_KEY reads the final state
    without spending the measured key's. ``trace``: the app records every request's timing,
    read (and cleared) with ``GET {url}/__/trace``.
    """
    harness = nest_harness()
    app = harness.start(nest_options(int(args[0]), args[1:], trace=trace))
    try:
        yield app.url
    finally:
        app.stop()


def run_together(commands: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """Start each command; once all said ``ready``, tell them ``go``; their JSON reports.

    So that starting Python is not measured, a worker prints ``ready`` once imported, waits
    for a line on stdin, runs, and prints one JSON object.
    """
    procs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own scripts
        for command in commands
    ]
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.readline()  # ready
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [json.loads(proc.communicate()[0]) for proc in procs]


def serve_worker(run: Coroutine[Any, Any, dict[str, Any]]) -> None:
    """A worker's side of ``run_together``: say ``ready``, start on ``go``, then print the
    outcome of ``run`` with its wall-clock start and end (``began``, ``ended``)."""
    print("ready", flush=True)
    sys.stdin.readline()
    began = time.time()
    outcome = asyncio.run(run)
    print(json.dumps({**outcome, "began": began, "ended": time.time()}), flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
