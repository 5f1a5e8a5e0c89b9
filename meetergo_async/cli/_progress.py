"""Progress of a long command: a rich bar on a terminal, plain lines everywhere else.

On a terminal (and with the ``cli`` extra's rich), a bar on stderr. Otherwise, as under cron,
systemd, CI or ``nohup``, one plain line on stderr every few seconds, so that a long run never
looks hung in a log::

    updating: 1200/3000 (40%), 1190 ok, 10 failed; 99/min now; ETA 18m11s

The ETA is the later of the limiter's projection and the rows left at the recent pace
(``_eta``). ``--quiet`` turns both off; failures (``note``) are printed either way.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final, Protocol

from ._common import Ui
from ._eta import Projection, time_left

DEFAULT_PROGRESS_EVERY: Final = 10.0
"""Seconds between two plain progress lines."""
PACE_SPAN: Final = 60.0
"""The pace a plain line shows is measured over about this many seconds before it."""
BAR_REFRESH: Final = 1.0
"""Seconds between two projections of the time left a bar shows."""


class Progress(Protocol):
    """Counts finished items while a long command runs."""

    def advance(self, ok: bool, status: str = "") -> None:
        """Count one finished item; ``status`` is a short live note (e.g. the current rate)."""

    def note(self, text: str) -> None:
        """Print a line on stderr without breaking the bar."""


class _Quiet:
    """Counts nothing and draws nothing; notes are still printed."""

    def __init__(self, ui: Ui) -> None:
        self._ui = ui

    def advance(self, ok: bool, status: str = "") -> None:
        pass

    def note(self, text: str) -> None:
        self._ui.err(text)


class PlainProgress(_Quiet):
    """Counts items and describes the run in one plain line (``line``).

    Args:
        ui: where notes and lines go.
        description: the line's first word (``updating``).
        total: the items expected, when known.
        clock: the monotonic clock (injectable for tests).
        projection: the limiter's view of the time left, refreshed before each line.
    """

    def __init__(
        self,
        ui: Ui,
        description: str,
        total: int | None,
        clock: Callable[[], float] = time.monotonic,
        *,
        projection: Projection | None = None,
    ) -> None:
        super().__init__(ui)
        self._description = description
        self._total = total
        self._clock = clock
        self._projection = projection
        self.last_eta: float | None = None
        """The seconds left that the last ``line()`` told, if it told any."""
        self.ok = 0
        self.failed = 0
        self._samples: collections.deque[tuple[float, int]] = collections.deque()
        self._samples.append((clock(), 0))

    @property
    def done(self) -> int:
        """The items finished so far."""
        return self.ok + self.failed

    def advance(self, ok: bool, status: str = "") -> None:
        if ok:
            self.ok += 1
        else:
            self.failed += 1

    def line(self) -> str:
        """Describe the run now: done (of total), ok, failed, the recent pace and the ETA."""
        now = self._clock()
        done = self.done
        total = self._total
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= PACE_SPAN:
            self._samples.popleft()
        since, then = self._samples[0]
        pace = (done - then) / (now - since) if now > since else 0.0
        counted = f"{done}/{total} ({done / total:.0%})" if total else f"{done} done"
        parts = [f"{self._description}: {counted}, {self.ok} ok, {self.failed} failed"]
        parts.append(f"{pace * 60:.0f}/min now")
        left = time_left(now, self._projection, total - done, pace) if total else None
        self.last_eta = left
        if left is not None:
            parts.append(f"ETA {duration(left)}")
        return "; ".join(parts)

    async def report_every(
        self, seconds: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        """Print ``line()`` on stderr every ``seconds`` until cancelled."""
        while True:
            await sleep(seconds)
            if self._projection is not None:
                await self._projection.refresh()
            self._ui.err(self.line())


def duration(seconds: float) -> str:
    """Say a duration briefly: ``45s``, ``18m11s``, ``2h05m``."""
    whole = math.ceil(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


@asynccontextmanager
async def progress(
    ui: Ui,
    description: str,
    total: int | None,
    *,
    every: float = DEFAULT_PROGRESS_EVERY,
    quiet: bool = False,
    projection: Projection | None = None,
) -> AsyncIterator[Progress]:
    """Show progress while the block runs: a bar, plain lines every ``every`` s, or nothing.

    The bar is drawn when stderr is a terminal and rich is installed; otherwise plain lines
    are printed on stderr; with ``quiet``, neither. ``projection`` is asked before each line
    (and every ``BAR_REFRESH`` s for the bar) when the limiter would let the last row go.
    """
    if quiet:
        yield _Quiet(ui)
        return
    with contextlib.ExitStack() as stack:
        shown: PlainProgress | RichProgress
        if sys.stderr.isatty() and rich_available():
            shown = stack.enter_context(_rich_progress(ui, description, total, projection))
            reporter = asyncio.create_task(shown.show_eta_every(BAR_REFRESH))
        else:
            shown = PlainProgress(ui, description, total, projection=projection)
            reporter = asyncio.create_task(shown.report_every(every))
        try:
            yield shown
        finally:
            reporter.cancel()
            await asyncio.wait([reporter])


@contextmanager
def _rich_progress(
    ui: Ui, description: str, total: int | None, projection: Projection | None
) -> Iterator[RichProgress]:
    from rich import progress as rp
    from rich.console import Console

    columns = (
        rp.TextColumn("[progress.description]{task.description}"),
        rp.BarColumn(),
        rp.MofNCompleteColumn(),
        rp.TextColumn("{task.fields[failed]} failed"),
        rp.TimeElapsedColumn(),
        rp.TextColumn("{task.fields[eta]}"),
        rp.TextColumn("{task.fields[status]}"),
    )
    with rp.Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total, failed=0, status="", eta="")
        yield RichProgress(ui, bar, task, projection)


class RichProgress:
    """Counts items in a rich bar, with the time left (``eta``) shown every few seconds."""

    def __init__(self, ui: Ui, bar: Any, task: Any, projection: Projection | None) -> None:
        self._ui = ui
        self._bar = bar
        self._task = task
        self._projection = projection
        self._failed = 0

    def advance(self, ok: bool, status: str = "") -> None:
        self._failed += not ok
        self._bar.update(self._task, advance=1, failed=self._failed, status=status)

    def note(self, text: str) -> None:
        self._bar.console.print(
            self._ui.redact(text), markup=False, highlight=False, soft_wrap=True
        )

    async def show_eta_every(
        self, seconds: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        """Show the time left (``eta``) in the bar, anew every ``seconds``, until cancelled."""
        while True:
            await sleep(seconds)
            if self._projection is not None:
                await self._projection.refresh()
            task = next(t for t in self._bar.tasks if t.id == self._task)
            if task.total is None:
                continue
            pace = task.speed or 0.0
            left = time_left(task.get_time(), self._projection, int(task.remaining), pace)
            self._bar.update(self._task, eta="" if left is None else f"ETA {duration(left)}")


def rich_available() -> bool:
    """Tell whether rich can be imported (the ``cli`` extra is installed)."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True
