"""Run every Python example of README.md and docs/*.md, so that no example can rot.

The convention every ```python fenced block follows:

- It is a complete program that talks only to a ``FakeMeetergo`` on 127.0.0.1 (never to
  api.meetergo.com). It is one of two kinds:
  - a **script**, which ends by running ``asyncio.run(main())``. It is executed in a fresh
    thread of this process, as ``__main__``, so ``asyncio.run`` makes its own event loop and
    never meets this test's; warnings are errors (pytest's ``filterwarnings``), and an
    unclosed session or a leaked task fails the test. ``os.environ`` and the logging
    configuration are restored afterwards, so an example may set them.
  - a **pytest file**, which defines ``def test_...`` or ``async def test_...``. It is run in
    its own process, ``python -W error -m pytest -W error <file>``, with pytest-asyncio in
    strict mode (async tests carry ``@pytest.mark.asyncio``, which works in every mode) and
    ``asyncio_default_fixture_loop_scope = function``.
- A script may import a metrics library the package does not depend on (``prometheus_client``,
  ``opentelemetry``): where it is not installed, it runs against a stand-in that records the
  calls (``tests/doc_stubs.py``).
- A block that must show something it cannot run (production credentials against
  api.meetergo.com) starts with the line ``# doc: not-run (<why>)``. It is only compiled.
  Such blocks stay rare: at most ``MAX_NOT_RUN`` across all pages.

Tests are parametrized by ``<page>:<line of the opening fence>``, and tracebacks point at the
Markdown page's own line numbers. Pytest files start in parallel when the first of them is
needed, because each pays for an interpreter start; scripts cost no start-up at all.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import doc_stubs

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "# doc: not-run"
MAX_NOT_RUN = 3
TIMEOUT = 60.0
"""Seconds one example may run: far above what any takes, to fail instead of hanging."""

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\n]*)$")
_PYTHON = frozenset({"python", "py", "python3"})
_TEST_FUNCTION = re.compile(r"^\s*(?:async\s+)?def\s+test_", re.MULTILINE)
_LEAK_MARKERS = ("Exception ignored", "Unclosed client session", "Unclosed connector")
_PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


@dataclass(frozen=True)
class Example:
    """One ```python block: its page, the line of its opening fence, and its code."""

    path: Path
    line: int
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def runs(self) -> bool:
        return not self.code.startswith(NOT_RUN)

    @property
    def is_pytest(self) -> bool:
        return _TEST_FUNCTION.search(self.code) is not None

    def source(self) -> str:
        """The code, shifted down so that its line numbers are the page's."""
        return "\n" * self.line + self.code


def _blocks(path: Path) -> Iterator[Example]:
    """Yield the Python fenced blocks of one Markdown page (indented ones included)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        index += 1
        if opening is None:
            continue
        fence_line, indent, fence = index, len(opening["indent"]), opening["fence"]
        body: list[str] = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1  # the closing fence
        language = opening["info"].strip().split(" ")[0].lstrip("{.").rstrip("}").lower()
        if language in _PYTHON:
            yield Example(path, fence_line, "\n".join(body) + "\n")


EXAMPLES = [example for path in PAGES for example in _blocks(path)]


# -- scripts: a fresh thread of this process ------------------------------------------------


@contextlib.contextmanager
def _restored_globals() -> Iterator[None]:
    """Give back ``os.environ`` and the logging configuration as they were."""
    environ = dict(os.environ)
    loggers = [logging.root, *logging.root.manager.loggerDict.values()]
    saved = [
        (lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled)
        for lg in loggers
        if isinstance(lg, logging.Logger)
    ]
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        for lg, level, handlers, propagate, disabled in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate, lg.disabled = propagate, disabled


def _run_script(example: Example) -> None:
    code = compile(example.source(), str(example.path), "exec")
    namespace = {"__name__": "__main__", "__file__": str(example.path)}
    failures: list[BaseException] = []

    def target() -> None:
        try:
            exec(code, namespace)  # noqa: S102 - our own documentation's examples
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                failures.append(exit_)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            failures.append(exc)

    with _restored_globals(), doc_stubs.stand_ins():
        thread = threading.Thread(target=target, name=f"example {example.id}", daemon=True)
        thread.start()
        thread.join(TIMEOUT)
    if thread.is_alive():
        pytest.fail(f"{example.id} still runs after {TIMEOUT:g}s")
    namespace.clear()
    gc.collect()  # an unclosed session warns now, while this test is still running
    if failures:
        raise failures[0]


# -- pytest files: one process each, started together -------------------------------------


def _run_pytest_file(example: Example, workdir: Path) -> subprocess.CompletedProcess[str]:
    workdir.mkdir(parents=True)
    (workdir / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")
    stem = re.sub(r"\W", "_", example.id)
    script = workdir / f"test_{stem}.py"
    script.write_text(example.source(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETERGO_")}
    command = [sys.executable, "-W", "error", "-m", "pytest", "-W", "error", "-q"]
    command += ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", str(script)]
    return subprocess.run(  # noqa: S603 - our own interpreter on our own docs
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


@pytest.fixture(scope="module")
def pytest_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """Start the selected pytest-file examples at once; map example id -> its run."""
    selected = [
        item.callspec.params["example"]
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == "test_example_runs"
    ]
    chosen = [
        example
        for example in selected
        if isinstance(example, Example) and example.runs and example.is_pytest
    ]
    base = tmp_path_factory.mktemp("doc-examples")
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        runs = {
            example.id: pool.submit(_run_pytest_file, example, base / f"{n:03d}")
            for n, example in enumerate(chosen)
        }
        yield runs


# -- the tests ----------------------------------------------------------------------------


def test_pages_have_examples() -> None:
    assert len(EXAMPLES) >= 10, [p.name for p in PAGES]


def test_not_run_blocks_stay_rare() -> None:
    skipped = [example.id for example in EXAMPLES if not example.runs]
    assert len(skipped) <= MAX_NOT_RUN, skipped


def _table(page: str) -> dict[str, str]:
    """Map each backticked name in the first column of a page's tables to the next cell."""
    text = (ROOT / page).read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, re.MULTILINE)
    return {name: cell.strip() for name, cell in rows}


def _rows(page: str, *_: str) -> dict[str, tuple[str, str]]:
    """Map each backticked name of a three-column table (name, `module`, value) to the rest."""
    text = (ROOT / page).read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (`[\w.]*_\w+`) \| ([^|]+) \|", text, re.MULTILINE)
    return {name: (module, value.strip()) for name, module, value in rows}


def test_documented_defaults_match_the_code() -> None:
    """The numbers the pages quote are the code's: a changed default fails here."""
    import importlib

    from meetergo_async import DEFAULT_MAX_CONCURRENCY, DEFAULT_TIMEOUT, RetryPolicy
    from meetergo_async.pacing import _bucket as limiter

    page = "docs/retries-and-rate-limits.md"
    table = _table(page)
    policy = RetryPolicy()
    for field in ("max_attempts", "initial_backoff", "max_backoff", "max_retry_after"):
        assert table[field] == f"`{getattr(policy, field)!r}`", (page, field)
    assert table["deadline"] == f"`{policy.deadline!r}`", (page, "deadline")
    constants = (
        "ESTIMATE_MIN_SECONDS",
        "ESTIMATE_MARGIN",
        "BURST_CUT_FACTOR",
        "MIN_RATE_FRACTION",
        "RECOVERY_HOLD_SECONDS",
        "RECOVERY_PER_SECOND",
    )
    for name in constants:
        assert float(table[name].split()[0]) == getattr(limiter, name), (page, name)
    back = limiter.RECOVERY_HOLD_SECONDS + limiter.BURST_CUT_FACTOR / limiter.RECOVERY_PER_SECOND
    text = (ROOT / page).read_text(encoding="utf-8")
    assert f"back at 100 about {back:g} s later" in text, (page, back)
    rows = _rows(page)
    assert len(rows) >= 7, (page, rows)
    for name, (module, value) in rows.items():
        actual = getattr(importlib.import_module(f"meetergo_async.{module.strip('`')}"), name)
        assert float(value.split()[0]) == actual, (page, name)

    options = _table("docs/quickstart.md")
    assert options["timeout"].startswith(f"`{DEFAULT_TIMEOUT!r}`")
    assert options["max_concurrency"].startswith(f"`{DEFAULT_MAX_CONCURRENCY!r}`")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.id)
def test_example_compiles(example: Example) -> None:
    compile(example.source(), str(example.path), "exec")


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.runs], ids=lambda example: example.id)
def test_example_runs(
    example: Example,
    pytest_runs: dict[str, Future[subprocess.CompletedProcess[str]]],
) -> None:
    # Blocks marked '# doc: not-run' are covered by test_example_compiles only.
    if not example.is_pytest:
        assert "asyncio.run(" in example.code, (
            f"{example.id}: an example must run asyncio.run(main()) or define test_ functions"
        )
        _run_script(example)
        return
    result = pytest_runs[example.id].result(timeout=TIMEOUT + 30)
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, f"{example.id} exited {result.returncode}\n{output}"
    leaks = [marker for marker in _LEAK_MARKERS if marker in result.stderr]
    assert not leaks, f"{example.id} leaked resources\n{output}"
