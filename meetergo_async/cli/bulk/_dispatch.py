"""Sending a bulk run's rows: read lazily, tracked while in flight, each recorded once.

The client reads the rows through ``Dispatch.feed``, one whenever a request slot is free,
so the rows in flight are exactly those handed out and not yet answered. Once a stop is
asked for, ``feed`` reads no further; the rows still in flight when the run ends are
recorded as ``interrupted`` by ``abandon``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Container, Iterator

from meetergo_async import MeetergoClient, UpdateRequest

from .._common import CommandError, Ui
from .._interrupts import Interrupts
from ._report import ReportWriter, interrupted, outcome_of
from .input import Entry, LineSource


class Dispatch:
    """Hands the rows to the client and records every outcome in the ``ReportWriter``.

    Args:
        entries: the input's rows, read lazily.
        skip: input lines not to send (recorded ``ok`` by an earlier run).
    """

    def __init__(
        self,
        ui: Ui,
        entries: Iterator[Entry],
        report: ReportWriter,
        interrupts: Interrupts,
        skip: Container[int] = (),
    ) -> None:
        self._ui = ui
        self._entries = entries
        self._report = report
        self._interrupts = interrupts
        self._skip = skip
        self.in_flight: dict[int, tuple[int, Entry]] = {}
        """The client's item index -> (the row's place among the rows read, the row)."""
        self.read = 0
        self._ids: Counter[str] = Counter()

    def feed(self) -> Iterator[UpdateRequest]:
        """Yield the requests of the rows to send; record malformed rows at once."""
        sent = itertools.count()
        while not self._interrupts.requested:
            entry = next(self._entries, None)
            if entry is None:
                return
            if entry.line in self._skip:
                continue
            seq = self.read
            self.read += 1
            if entry.request is None:
                self._report.record(seq, entry, outcome_of(entry, None, self._ui), malformed=True)
                continue
            self._ids[entry.request.connection_id] += 1
            self.in_flight[next(sent)] = (seq, entry)
            yield entry.request

    async def send_all(self, client: MeetergoClient) -> None:
        """Send every row to send, recording each outcome as it comes."""
        results = client.iter_update_calendar_connections(self.feed())
        # Closed even on an error or a cancellation, so nothing stays in flight.
        async with contextlib.aclosing(results) as stream:
            async for result in stream:
                seq, entry = self.in_flight.pop(result.index)
                self._report.record(seq, entry, outcome_of(entry, result, self._ui))

    def abandon(self, signal_name: str) -> None:
        """Record the rows still in flight as interrupted by ``signal_name``."""
        for seq, entry in sorted(self.in_flight.values(), key=lambda pair: pair[0]):
            self._report.record(seq, entry, interrupted(signal_name))
        self.in_flight.clear()

    def unread(self, source: LineSource) -> int | None:
        """Count the rows to send that were never read (``None`` when that cannot be known).

        Stdin read once is not read further: whatever feeds it may never end.
        """
        if not source.replayable:
            return None
        try:
            return sum(1 for entry in self._entries if entry.line not in self._skip)
        except CommandError:  # the rest is not valid input: its rows cannot be counted
            return None

    def repeated(self) -> tuple[int, int]:
        """How many connection ids were on more than one row sent, and on how many rows."""
        counts = [n for n in self._ids.values() if n > 1]
        return len(counts), sum(counts)
