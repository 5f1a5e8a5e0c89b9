"""The documentation's pictures: their runs record what happened, and the pages show them.

``docs/pictures/build.py`` draws with matplotlib, which the test environment does not have;
what it draws comes from ``docs/pictures/_collect.py``, which needs only the package. Its
collectors run here with tiny numbers against FakeMeetergo on 127.0.0.1 (under a second).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from meetergo_async import AttemptEvent, WaitEvent
from meetergo_async import _health as health

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "docs" / "pictures"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_PICTURE_BYTES = 64 * 1024
_CODE = re.compile(r"^ *(`{3,}|~{3,}).*?^ *\1|`[^`\n]*`", re.MULTILINE | re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|<img[^>]*\bsrc=\"([^\"]+)\"")


def _load(name: str) -> ModuleType:
    """``docs/pictures/NAME.py``, loaded from its path (docs is not a package) under its own
    name, as ``build.py`` imports it (``_collect`` imports ``_record`` so)."""
    spec = importlib.util.spec_from_file_location(name, PICTURES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


record = _load("_record")
collect = _load("_collect")


# -- the collectors ---------------------------------------------------------------------------


async def test_the_paced_run_never_sends_more_than_the_limit_in_a_window() -> None:
    paced = collect.Paced(limit=5, window=0.2, n=12, latency=0.0)

    run = await collect.paced_run(paced)

    assert (run.succeeded, run.failed, run.refused) == (12, 0, 0)
    sent = [attempt.sent for attempt in run.attempts]
    assert len(sent) == 12
    assert all(attempt.ok for attempt in run.attempts)
    assert sent == sorted(sent)
    busiest = max(sum(start <= t < start + paced.window for t in sent) for start in sent)
    assert busiest <= paced.limit
    windows = math.ceil(paced.n / paced.limit) - 1  # the last batch waits this many windows
    assert sent[-1] - sent[0] >= windows * paced.window
    assert run.seconds >= sent[-1]


async def test_the_outage_run_marks_the_outage_and_probes_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "OUTAGE_PROBE_FIRST", 0.02)  # probes 20 ms apart, not 0.5 s
    outage = collect.Outage(n=40, concurrency=4, latency=0.005, down_at=0.05, down_for=0.1)

    run = await collect.outage_run(outage)

    assert (run.succeeded, run.failed) == (40, 0)
    marks = run.marks
    assert set(marks) == {"down", "noticed", "up", "answered"}
    assert marks["down"] <= marks["noticed"] < marks["answered"]
    assert marks["down"] < marks["up"] <= marks["answered"]
    assert any(not attempt.ok for attempt in run.attempts)
    probes = [a for a in run.attempts if marks["noticed"] <= a.sent <= marks["answered"]]
    assert probes
    assert probes[-1].ok
    assert all(not probe.ok for probe in probes[:-1])
    for before, after in itertools.pairwise(probes):
        assert after.sent >= before.answered  # one probe at a time
    assert len(run.attempts) == 40 + sum(not attempt.ok for attempt in run.attempts)


async def test_the_lanes_run_sends_single_calls_between_bulk_requests() -> None:
    lanes = collect.Lanes(limit=5, window=0.2, n=20, every=0.1, start=0.05, latency=0.0)

    run = await collect.lanes_run(lanes)

    assert (run.succeeded, run.failed, run.refused) == (20, 0, 0)
    bulk = [a.sent for a in run.attempts if a.lane == "bulk"]
    singles = [a.sent for a in run.attempts if a.lane == "single"]
    assert len(bulk) == 20
    assert len(singles) == len(run.calls) >= 2
    sent = sorted(bulk + singles)
    busiest = max(sum(start <= t < start + lanes.window for t in sent) for start in sent)
    assert busiest <= lanes.limit
    assert min(singles) < max(bulk)  # not left until the bulk job is done
    for call in run.calls:
        assert call.made <= call.sent <= call.answered
        assert sum(wait.seconds for wait in call.waits) <= call.wait + 0.01
    lanes_seen = {(wait.lane, wait.priority) for wait in run.waits}
    assert lanes_seen <= {("bulk", "bulk"), ("single", "interactive")}


def test_a_timed_call_keeps_its_first_attempt_and_its_waits() -> None:
    times = iter([0.0, 1.0, 1.5, 2.0, 3.0])
    recorder = record.Recorder(clock=lambda: next(times))

    async def call() -> None:
        recorder(WaitEvent("pace", 0.5))
        recorder(AttemptEvent("PATCH", "/route", 200, None, 0.25, 1, None))

    asyncio.run(recorder.call(call(), "single"))

    (timed,) = recorder.calls
    assert (timed.made, timed.sent, timed.answered, timed.wait) == (1.0, 1.75, 2.0, 0.75)
    assert [(w.ended, w.seconds, w.priority, w.lane) for w in timed.waits] == [
        (1.5, 0.5, "interactive", "single")
    ]
    assert recorder.attempts[0].lane == "single"


def test_the_recorder_tags_attempts_with_their_lane() -> None:
    times = iter([10.0, 11.0, 12.5])
    recorder = record.Recorder(clock=lambda: next(times))
    event = AttemptEvent("PATCH", "/route", 200, None, 0.25, 1, None)

    recorder(event)
    with recorder.lane("single"):
        recorder(event)

    first, second = recorder.attempts
    assert (first.sent, first.answered, first.lane) == (0.75, 1.0, "")
    assert (second.sent, second.answered, second.lane) == (2.25, 2.5, "single")


# -- the pages and the files ------------------------------------------------------------------


def _images(page: Path) -> list[Path]:
    """The local pictures ``page`` shows (code, where a page may write one out, left out)."""
    text = _CODE.sub("", page.read_text(encoding="utf-8"))
    found = [a or b for a, b in _IMAGE.findall(text)]
    return [(page.parent / link).resolve() for link in found if "://" not in link]


def test_every_picture_a_page_shows_exists() -> None:
    missing = [
        f"{page.name}: {image}" for page in PAGES for image in _images(page) if not image.is_file()
    ]
    assert not missing


def test_every_picture_is_shown_on_a_page() -> None:
    shown = {image for page in PAGES for image in _images(page)}
    pictures = sorted(PICTURES.glob("*.svg"))
    assert len(pictures) >= 3
    assert [p.name for p in pictures if p.resolve() not in shown] == []


@pytest.mark.parametrize("picture", sorted(PICTURES.glob("*.svg")), ids=lambda p: p.name)
def test_a_picture_is_small_and_needs_no_network(picture: Path) -> None:
    text = picture.read_text(encoding="utf-8")
    assert len(text.encode()) <= MAX_PICTURE_BYTES
    assert "<text" in text  # text stays text, in the reader's font
    assert "<script" not in text
    assert "@import" not in text
    assert "@font-face" not in text
    assert re.search(r"(?:href|src)=\"https?:", text) is None
    assert re.search(r"url\(\s*['\"]?https?:", text) is None
