"""Progress: plain lines with done/total, ok/failed, the recent pace and an ETA."""

from __future__ import annotations

import pytest

from meetergo_async.cli._common import Ui
from meetergo_async.cli._eta import Projection
from meetergo_async.cli._progress import PlainProgress, RichProgress, duration


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _advance(bar: PlainProgress, ok: int, failed: int = 0) -> None:
    for _ in range(ok):
        bar.advance(True)
    for _ in range(failed):
        bar.advance(False)


def test_a_line_with_a_known_total() -> None:
    clock = _Clock()
    bar = PlainProgress(Ui(), "updating", 3000, clock)
    clock.now += 60
    _advance(bar, 95, 5)
    assert bar.line() == "updating: 100/3000 (3%), 95 ok, 5 failed; 100/min now; ETA 29m00s"


def test_a_line_without_a_total_has_no_eta() -> None:
    clock = _Clock()
    bar = PlainProgress(Ui(), "updating", None, clock)
    clock.now += 2
    _advance(bar, 4)
    assert bar.line() == "updating: 4 done, 4 ok, 0 failed; 120/min now"


def test_the_pace_is_the_recent_one() -> None:
    clock = _Clock()
    bar = PlainProgress(Ui(), "updating", 10_000, clock)
    for _ in range(12):  # two minutes at 600 a minute ...
        clock.now += 10
        _advance(bar, 100)
        bar.line()
    for _ in range(6):  # ... then one minute at 60 a minute
        clock.now += 10
        _advance(bar, 10)
        line = bar.line()
    assert "; 60/min now; ETA 2h25m" in line
    bar = PlainProgress(Ui(), "updating", 10, clock)
    _advance(bar, 10)
    assert bar.line().endswith("0/min now")  # no time passed, done: no ETA


async def test_report_every_prints_a_line_per_period(capsys: pytest.CaptureFixture[str]) -> None:
    clock = _Clock()
    bar = PlainProgress(Ui(), "updating", 4, clock)
    naps: list[float] = []

    async def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.now += seconds
        bar.advance(len(naps) != 2)
        if len(naps) == 3:
            raise RuntimeError("enough")

    with pytest.raises(RuntimeError):
        await bar.report_every(5.0, sleep)
    assert naps == [5.0, 5.0, 5.0]
    assert capsys.readouterr().err.splitlines() == [
        "updating: 1/4 (25%), 1 ok, 0 failed; 12/min now; ETA 15s",
        "updating: 2/4 (50%), 1 ok, 1 failed; 12/min now; ETA 10s",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "1s"), (59, "59s"), (60, "1m00s"), (1091, "18m11s"), (3600, "1h00m"), (7530, "2h05m")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


async def test_the_bar_shows_the_later_eta_of_the_projection_and_the_pace() -> None:
    import io

    from rich import progress as rp
    from rich.console import Console

    clock = _Clock()
    projection = Projection(clock)

    async def forecast(count: int) -> float | None:
        return 120.0 if count else 0.0

    projection.bind(forecast, lambda: 200)
    columns = (rp.MofNCompleteColumn(), rp.TextColumn("{task.fields[eta]}"))
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    with rp.Progress(*columns, console=console, auto_refresh=False, get_time=clock) as bars:
        task = bars.add_task("updating", total=300, failed=0, status="", eta="")
        bar = RichProgress(Ui(), bars, task, projection)
        for _ in range(100):
            bar.advance(True)  # all at once: the pace alone would promise the rest at once
        naps: list[float] = []

        async def sleep(seconds: float) -> None:
            naps.append(seconds)
            clock.now += 1.0
            if len(naps) == 2:
                raise RuntimeError("enough")

        with pytest.raises(RuntimeError):
            await bar.show_eta_every(1.0, sleep)
        shown = bars.tasks[0].fields["eta"]
    assert shown == "ETA 2m00s"  # 120 s from the refresh, plus no answer seen yet
