"""``bulk --dry-run``: check every row as ``--strict`` does, send nothing, say what a run would do.

It prints the rows, the valid and malformed ones (line numbers and the messages a real run
gives), the connections named more than once, the acting users, and how long the valid rows
would take at the key's budget as it stands now (``MeetergoClient.forecast``: the shared
budget too, with ``--redis-url``). ``--json`` prints the same as one object. ``--report``
writes the plan in the report's format, each row ``planned`` or ``malformed`` and never
``ok``, so a ``--resume`` from it sends every row.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final, TextIO

from meetergo_async import MeetergoClient, MeetergoError

from .._common import EXIT_OK, EXIT_USAGE, CommandError, Ui
from .._progress import duration
from ._report import (
    MALFORMED,
    MAX_PRINTED_FAILURES,
    PLANNED,
    Outcome,
    check_paths,
    open_output,
    report_line,
    report_path,
)
from .input import Entry, LineSource, records

SHOWN: Final = 3
"""Repeated ids and acting users named in the text (all of them are in ``--json``)."""
OWN_USER: Final = "the token's own user"


class Tally:
    """What a dry run found in the input, row by row.

    Args:
        default_user: the acting user of a row without ``asUser`` (``--user-id``), if any.
    """

    def __init__(self, default_user: str | None) -> None:
        self._default_user = default_user
        self.rows = 0
        self.malformed: list[Entry] = []
        self.ids: Counter[str] = Counter()
        self.users: dict[str | None, None] = {}  # in order of first use

    @property
    def valid(self) -> int:
        """The rows a run would send."""
        return self.rows - len(self.malformed)

    def add(self, entry: Entry) -> Outcome:
        """Count one row; its outcome in the plan."""
        self.rows += 1
        request = entry.request
        if request is None:
            self.malformed.append(entry)
            return Outcome(MALFORMED, None, entry.error, 0)
        self.ids[request.connection_id] += 1
        self.users.setdefault(request.as_user or self._default_user)
        return Outcome(PLANNED, None, None, 0)

    def repeated(self) -> dict[str, int]:
        """The connection ids on more than one row, and on how many."""
        return {i: n for i, n in self.ids.items() if n > 1}


def tally(entries: Iterable[Entry], default_user: str | None, report: TextIO | None) -> Tally:
    """Count every row; write each to ``report`` as a plan row, if given."""
    counted = Tally(default_user)
    for entry in entries:
        outcome = counted.add(entry)
        if report is not None:
            report.write(report_line(entry, outcome))
    return counted


async def dry_run(
    args: argparse.Namespace, ui: Ui, client: MeetergoClient, default_user: str | None, budget: str
) -> int:
    """Run ``bulk --dry-run``: exit status 0 when every row is valid, 2 when not.

    Args:
        budget: the limit in words, as the projection is made.
    """
    if args.resume is not None or args.failed is not None:
        raise CommandError("--dry-run plans a fresh run: it cannot go with --resume or --failed")
    report = report_path(args)
    check_paths(args, report)
    source = LineSource(args.file, replayable=False)
    async with contextlib.AsyncExitStack() as stack:
        entries, _ = records(source)
        stack.enter_context(contextlib.closing(entries))
        counted = tally(entries, default_user, open_output(stack, report))
    async with client:  # opening the client sends nothing; a forecast only reads
        seconds = await _forecast(client, counted.valid)
    if args.json:
        ui.out(json.dumps(_as_json(source.name, counted, seconds, budget), ensure_ascii=False))
    else:
        ui.out("\n".join(_as_text(source.name, counted, seconds, budget)))
    if not counted.malformed:
        return EXIT_OK
    lines = "line" if len(counted.malformed) == 1 else "lines"
    ui.err(f"bulk: {source.name}: {len(counted.malformed)} malformed {lines}")
    return EXIT_USAGE


async def _forecast(client: MeetergoClient, requests: int) -> float | None:
    if requests == 0:
        return 0.0
    try:
        return await client.forecast(requests)
    except MeetergoError:  # a shared budget that cannot be read
        return None


def _as_text(name: str, counted: Tally, seconds: float | None, budget: str) -> list[str]:
    bad = len(counted.malformed)
    lines = [
        f"bulk: dry run of {name}: nothing sent",
        f"  rows       {counted.rows}: {counted.valid} valid, {bad} malformed",
    ]
    for index, entry in enumerate(counted.malformed[:MAX_PRINTED_FAILURES]):
        label = "malformed" if index == 0 else ""
        lines.append(f"  {label:<9}  line {entry.line}: {entry.error}")
    if bad > MAX_PRINTED_FAILURES:
        lines.append(f"             ... and {bad - MAX_PRINTED_FAILURES} more (--report lists all)")
    repeated = counted.repeated()
    if repeated:
        named = ", ".join(f"{i} ({n} rows)" for i, n in list(repeated.items())[:SHOWN])
        more = f" and {len(repeated) - SHOWN} more" if len(repeated) > SHOWN else ""
        lines.append(
            f"  repeated   {len(repeated)} connection id(s) on more than one row "
            f"({sum(repeated.values())} rows): {named}{more}; they run in input order, so the "
            "last row of each stays"
        )
    users = [OWN_USER if u is None else u for u in counted.users]
    more = f" and {len(users) - SHOWN} more" if len(users) > SHOWN else ""
    lines.append(f"  users      {len(users)} acting user(s): {', '.join(users[:SHOWN])}{more}")
    lines.append(f"  duration   {_duration(counted.valid, seconds, budget)}")
    return lines


def _duration(requests: int, seconds: float | None, budget: str) -> str:
    if requests == 0:
        return "nothing to send"
    if seconds is None:
        return f"cannot be told now at {budget} (the key is held back, or no limit is known)"
    return (
        f"{duration(seconds)} until the last of {requests} requests may go, at {budget} as "
        "it stands now (answer times not included)"
    )


def _as_json(name: str, counted: Tally, seconds: float | None, budget: str) -> dict[str, Any]:
    return {
        "file": name,
        "rows": counted.rows,
        "valid": counted.valid,
        "malformed": [
            {"line": e.line, "connectionId": e.connection_id, "error": e.error}
            for e in counted.malformed
        ],
        "repeated": counted.repeated(),
        "actingUsers": list(counted.users),
        "requests": counted.valid,
        "projectedSeconds": seconds,
        "budget": budget,
        "sent": 0,
    }
