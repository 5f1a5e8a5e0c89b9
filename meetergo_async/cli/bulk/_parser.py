"""The ``bulk`` command's options and help."""

from __future__ import annotations

import argparse
from typing import Any, Final

from .._interrupts import DEFAULT_GRACE
from .._options import non_negative_float, non_negative_int, positive_float, positive_int
from .._progress import DEFAULT_PROGRESS_EVERY
from ._command import ENV_REDIS_URL, run
from .input import FIELDS

_EPILOG: Final = f"""\
input:
  JSON Lines, one object a line:
    {{"connectionId": "conn-1", "validateAvailability": false, "selectedCalendars": ["primary"]}}
  or CSV with a header row:
    connectionId,primaryCalendar,selectedCalendars,validateAvailability
    conn-1,primary,primary;work,false
  fields: {", ".join(FIELDS)}
  (connectionId is required; userId names the owner, admins only; asUser acts as that user).
  CSV cells: empty leaves the field unset; selectedCalendars are separated by ";" and the
  cell [] clears them; booleans are true or false. Blank lines are skipped.

The report has one JSON object a line for each row read, in input order:
  {{"line": 3, "connectionId": "conn-1", "outcome": "failed", "ok": false, "status": 404,
   "error": "...", "attempts": 1}}
outcome is ok, failed or interrupted (in flight when the run stopped, no answer came: it may
have been applied); status is the HTTP status of a refusal, else null. The failed file holds
the input lines not updated, verbatim (CSV: after the header row).

Ctrl-C or SIGTERM stops in order: no new row is read, the requests in flight get --grace
seconds, every row read is reported, and the command to resume is printed. A second signal
stops at once, after writing what is known.

--dry-run sends nothing: with --report it writes the plan, each row "planned" or
"malformed" (never ok, so --resume from it sends every row).

exit status: 0 all updated (--dry-run: all valid), 1 some failed, 2 bad usage or input
(with --strict or --dry-run nothing is sent), 130 stopped by Ctrl-C (SIGINT), 143 stopped
by SIGTERM
"""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``bulk`` command."""
    parser = subparsers.add_parser(
        "bulk",
        parents=parents,
        help="update many connections from a JSON Lines or CSV file",
        description="Update many calendar connections, paced under meetergo's rate limit.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="JSON Lines or CSV file; - reads stdin")
    parser.add_argument("--report", metavar="OUT.jsonl", help="write one JSON object per row")
    parser.add_argument("--failed", metavar="FILE", help="write the rows not updated here")
    parser.add_argument(
        "--resume",
        metavar="REPORT",
        help="send only the rows REPORT does not record ok (same input required); append to it",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, metavar="N", help="requests in flight (default 16)"
    )
    parser.add_argument(
        "--rate-per-minute",
        type=non_negative_int,
        metavar="N",
        help="at most N requests in any 60 s (default 100, meetergo's limit); 0: no pacing",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="share the key's budget through this Redis with every other client of the key "
        f"(bots, other runs); default ${ENV_REDIS_URL}; needs the redis extra",
    )
    parser.add_argument(
        "--strict", action="store_true", help="check every line first; send nothing if any is bad"
    )
    _add_dry_run_options(parser)
    _add_run_options(parser)
    parser.set_defaults(handler=run)


def _add_dry_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="check every line as --strict does and send nothing: print the rows, the "
        "malformed ones, repeated ids, acting users and the time it would take now",
    )
    parser.add_argument("--json", action="store_true", help="print the --dry-run plan as JSON")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--grace",
        type=non_negative_float,
        metavar="S",
        help=f"on Ctrl-C/SIGTERM, seconds for requests in flight to finish (default "
        f"{DEFAULT_GRACE:g})",
    )
    parser.add_argument(
        "--progress-every",
        type=positive_float,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal (default "
        f"{DEFAULT_PROGRESS_EVERY:g})",
    )
    parser.add_argument("--quiet", action="store_true", help="show no progress bar or lines")
