"""``Interrupts`` and ``drive``: the first signal starts a grace period, the second ends it."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from meetergo_async.cli._interrupts import Interrupts, drive


class _Work:
    """Work that runs until released, noting whether it was cancelled."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled = False
        self.stopping = 0

    async def run(self) -> None:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    def on_stopping(self) -> None:
        self.stopping += 1


async def test_work_that_ends_by_itself() -> None:
    work, interrupts = _Work(), Interrupts()
    work.release.set()
    await drive(work.run(), interrupts, 10, work.on_stopping)
    assert (work.cancelled, work.stopping, interrupts.exit_status) == (False, 0, None)


async def test_the_first_signal_lets_the_work_finish_within_the_grace() -> None:
    work, interrupts = _Work(), Interrupts()
    driving = asyncio.create_task(drive(work.run(), interrupts, 10, work.on_stopping))
    await work.started.wait()
    interrupts.receive(signal.SIGINT)
    for _ in range(100):
        if work.stopping:
            break
        await asyncio.sleep(0)
    assert work.stopping == 1
    assert not driving.done()
    work.release.set()
    await driving
    assert not work.cancelled
    assert (interrupts.requested, interrupts.name, interrupts.exit_status) == (True, "SIGINT", 130)


async def test_the_grace_period_ends_in_a_cancellation() -> None:
    work, interrupts = _Work(), Interrupts()
    interrupts.receive(signal.SIGTERM)
    await drive(work.run(), interrupts, 0, work.on_stopping)
    assert work.cancelled
    assert work.stopping == 1
    assert interrupts.exit_status == 143


async def test_a_second_signal_cancels_at_once() -> None:
    work, interrupts = _Work(), Interrupts()
    driving = asyncio.create_task(drive(work.run(), interrupts, 3600, work.on_stopping))
    await work.started.wait()
    interrupts.receive(signal.SIGINT)
    interrupts.receive(signal.SIGTERM)
    await asyncio.wait_for(driving, 5)
    assert work.cancelled
    assert interrupts.exit_status == 130  # the first signal decides


async def test_an_error_of_the_work_propagates() -> None:
    async def fails() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await drive(fails(), Interrupts(), 10, lambda: None)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_installed_receives_real_signals_and_restores_the_handlers() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupts = Interrupts()
    with interrupts.installed():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(interrupts.wait(2), 5)
    assert interrupts.received == [signal.SIGTERM, signal.SIGINT]
    assert {s: signal.getsignal(s) for s in before} == before
