"""Drawing the runs of ``_collect`` with matplotlib, and saving them as SVG.

Only this module imports matplotlib. Each picture is a function of its settings and its
``Run`` that returns a figure; ``save`` writes it. The style suits both of the site's colour
schemes (an opaque white background) and keeps text as text in a generic font, so the SVG
needs nothing from a network.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("svg")  # no display, no GUI toolkit: the pictures are files

from _collect import Lanes, Outage, Paced
from _record import Attempt, Run
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Okabe and Ito's colours, told apart with any colour vision.
BLUE = "#0072B2"
ORANGE = "#E69F00"
VERMILION = "#D55E00"
GREEN = "#009E73"
GREY = "#999999"

STYLE = {
    "svg.fonttype": "none",  # text stays text, in the reader's own sans-serif font
    "svg.hashsalt": "meetergo-async",  # the same element ids on every build
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],  # then the reader's sans-serif
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": True,
}


def save(draw: Callable[[], Figure], path: Path) -> None:
    """Draw a figure in the pictures' style and write it to ``path`` as SVG."""
    with plt.style.context(STYLE):
        fig = draw()
        # No date and no creator: the file changes only when the picture does.
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)


def figure(rows: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``rows`` panels sharing their time axis."""
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(8.0, 2.2 * rows + 0.6))
    fig.suptitle(title, x=0.01, ha="left", fontsize=10)
    panels = list(axes) if rows > 1 else [axes]
    panels[-1].set_xlabel("seconds since the run started")
    return fig, panels


def steps(times: Sequence[float]) -> tuple[list[float], list[int]]:
    """A count that goes up by one at each of ``times``, as points of a step line."""
    xs = [0.0, *sorted(times)]
    return xs, list(range(len(xs)))


def in_window(sent: Sequence[float], window: float) -> tuple[list[float], list[int]]:
    """How many of ``sent`` lie in the ``window`` s up to each moment, as a step line."""
    changes = sorted([(t, 1) for t in sent] + [(t + window, -1) for t in sent])
    xs, ys, count = [0.0], [0], 0
    for moment, change in changes:
        count += change
        xs.append(moment)
        ys.append(count)
    return xs, ys


# -- the paced bulk run -----------------------------------------------------------------------


def paced(settings: Paced, run: Run) -> Figure:
    """Requests sent over time, against the most a sliding log of the server's limit admits."""
    title = (
        f"{settings.n} updates, SlidingWindow({settings.limit}, {settings.window}) against "
        f"NestThrottler({settings.limit}, {settings.window}): {run.refused} refused, "
        f"{run.seconds:.1f} s"
    )
    fig, (total, counted) = figure(2, title)
    sent = [a.sent for a in run.attempts]
    _cumulative(total, settings, sent, run.seconds)
    xs, ys = in_window(sent, settings.window)
    counted.step(xs, ys, where="post", color=BLUE, linewidth=1.2, label="sent in the last W s")
    counted.axhline(settings.limit, color=VERMILION, linewidth=1, linestyle="--")
    label = f"limit L = {settings.limit}"
    counted.annotate(
        label, (0, settings.limit), xytext=(2, 3), textcoords="offset points", color=VERMILION
    )
    counted.set_ylabel(f"sent in the last\nW = {settings.window:g} s")
    counted.set_ylim(0, settings.limit * 1.25)
    counted.set_xlim(0, run.seconds + 0.3)
    fig.tight_layout()
    return fig


def _cumulative(axes: Axes, settings: Paced, sent: list[float], seconds: float) -> None:
    xs, ys = steps(sent)
    axes.step(xs, ys, where="post", color=BLUE, linewidth=1.5, label="requests sent")
    windows = int(seconds // settings.window) + 2
    # From the first request on, each window of W s admits L more: a staircase.
    bound_x = [sent[0] + k * settings.window for k in range(windows)]
    bound_y = [settings.limit * (k + 1) for k in range(windows)]
    label = f"the most the server admits: L = {settings.limit} in any W = {settings.window:g} s"
    axes.step(bound_x, bound_y, where="post", color=VERMILION, linestyle="--", label=label)
    axes.set_ylabel("requests sent")
    axes.set_ylim(0, settings.n * 1.1)
    axes.legend(loc="upper left", frameon=False)


# -- the outage and its probes ----------------------------------------------------------------


def outage(settings: Outage, run: Run) -> Figure:
    """Updates done over time, and every failed attempt and probe while the server was down."""
    title = (
        f"{settings.n} updates at concurrency {settings.concurrency}, the server down for "
        f"{settings.down_for:g} s: {run.succeeded} done, {run.failed} failed, "
        f"{len(run.attempts)} requests"
    )
    fig, (done, attempts) = figure(2, title)
    down, up = run.marks["down"], run.marks["up"]
    done.axvspan(down, up, color=GREY, alpha=0.25, linewidth=0, label="server down")
    attempts.axvspan(down, up, color=GREY, alpha=0.25, linewidth=0)
    xs, ys = steps([a.answered for a in run.attempts if a.ok])
    done.step(xs, ys, where="post", color=BLUE, linewidth=1.5, label="updates done")
    held = "every call held back,\none probe at a time"
    done.text((down + up) / 2, settings.n * 0.5, held, ha="center", va="center", color="#555555")
    done.set_ylabel("updates done")
    done.set_ylim(0, settings.n * 1.1)
    done.legend(loc="upper left", frameon=False)
    _probes(attempts, run)
    attempts.set_xlim(0, run.seconds + 0.2)
    fig.tight_layout()
    return fig


def _probes(axes: Axes, run: Run) -> None:
    noticed, answered = run.marks["noticed"], run.marks["answered"]
    probes = [a for a in run.attempts if noticed <= a.sent <= answered]
    early = [a for a in run.attempts if not a.ok and a.sent < noticed]
    _dots(axes, early, 1, ORANGE, "x", "failed before the client noticed")
    _dots(axes, [p for p in probes if not p.ok], 0, VERMILION, "o", "probe, no answer")
    _dots(axes, [p for p in probes if p.ok], 0, GREEN, "o", "probe, answered")
    for before, after in itertools.pairwise(probes):
        middle = (before.sent + after.sent) / 2
        gap = f"+{after.sent - before.sent:.1f} s"
        axes.annotate(gap, (middle, 0), xytext=(0, 6), textcoords="offset points", ha="center")
    axes.set_yticks([0, 1], ["probes", "failed\nattempts"])
    axes.set_ylim(-0.6, 1.6)
    axes.grid(axis="y", visible=False)
    axes.legend(loc="upper right", frameon=False)


def _dots(
    axes: Axes, attempts: list[Attempt], row: int, colour: str, marker: str, label: str
) -> None:
    """One row of markers at the moments ``attempts`` were sent; the label says how many."""
    if attempts:
        xs = [a.sent for a in attempts]
        label = f"{label} ({len(xs)})"
        axes.scatter(xs, [row] * len(xs), color=colour, marker=marker, s=24, label=label, zorder=3)


# -- single calls while a bulk job fills the key ----------------------------------------------


def lanes(settings: Lanes, run: Run) -> Figure:
    """Every request sent, bulk and single, and how long each single call waited for its turn."""
    waits = [call.wait for call in run.calls]
    title = (
        f"{settings.n} updates and {len(run.calls)} single calls on one key, SlidingWindow("
        f"{settings.limit}, {settings.window:g}) against NestThrottler({settings.limit}, "
        f"{settings.window:g}):\nsingle calls waited {statistics.median(waits):.2f} s (median), "
        f"{max(waits):.1f} s at most; {run.refused} refused, {run.seconds:.1f} s"
    )
    fig, (sent, waited) = figure(2, title)
    _requests(sent, settings, run)
    first = run.attempts[0].sent
    waited.axvspan(first, first + settings.window, color=GREY, alpha=0.25, linewidth=0)
    note = "the bulk job's first window:\nits burst took every slot\nbefore a single call came"
    top = max(waits) * 1.25 + 0.1
    waited.text(
        first + settings.window - 0.05, top * 0.97, note, ha="right", va="top", color="#555555"
    )
    made = [call.made for call in run.calls]
    waited.vlines(made, 0, waits, color=ORANGE, linewidth=1.2)
    label = "a single call: made, then waited this long for its turn"
    waited.scatter(made, waits, color=ORANGE, marker="D", s=18, zorder=3, label=label)
    waited.set_ylabel("seconds it waited")
    waited.set_ylim(-0.05, top)
    waited.legend(loc="upper right", frameon=False)
    waited.set_xlim(0, run.seconds + 0.3)
    fig.tight_layout()
    return fig


def _requests(axes: Axes, settings: Lanes, run: Run) -> None:
    """Each request as a mark at the moment it was sent and its number in the run."""
    numbered = list(enumerate(run.attempts, start=1))
    for lane, colour, marker, size, name in (
        ("bulk", BLUE, "o", 6, "bulk request"),
        ("single", ORANGE, "D", 18, "single call"),
    ):
        mine = [(a.sent, number) for number, a in numbered if a.lane == lane]
        xs, ys = [x for x, _ in mine], [y for _, y in mine]
        label = f"{name} ({len(mine)})"
        axes.scatter(xs, ys, color=colour, marker=marker, s=size, zorder=3, label=label)
    windows = int(run.seconds // settings.window) + 2
    first = run.attempts[0].sent
    bound_x = [first + k * settings.window for k in range(windows)]
    bound_y = [settings.limit * (k + 1) for k in range(windows)]
    label = f"the most the server admits: L = {settings.limit} in any W = {settings.window:g} s"
    axes.step(bound_x, bound_y, where="post", color=VERMILION, linestyle="--", label=label)
    axes.set_ylabel("requests sent")
    axes.set_ylim(0, len(run.attempts) * 1.1)
    axes.legend(loc="upper left", frameon=False)
