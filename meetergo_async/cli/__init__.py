"""The ``meetergo-async`` command line.

```
meetergo-async demo                      a bulk update against a local fake, no credentials
meetergo-async update CONNECTION_ID ...  change one connection
meetergo-async list                      list connections
meetergo-async bulk FILE                 many updates from JSON Lines or CSV, with a report
meetergo-async sandbox                   serve a fake meetergo API locally until Ctrl-C
```

Exit status: 0 all went well, 1 some work failed (the API refused or did not answer), 2 bad
usage or bad input (nothing was sent). Errors are one line on stderr; the API key is never
printed. ``main`` is the console script's entry point; ``run_async`` is the same command line
as a coroutine, for callers (and tests) that already run an event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import NoReturn

from meetergo_async import MeetergoError, __version__

from . import bulk, demo, sandbox, update
from ._common import (
    EXIT_FAILED,
    PROG,
    CommandError,
    Handler,
    Ui,
    credentials_parser,
    secrets_in,
)

__all__ = ["main", "run_async"]

EXIT_INTERRUPTED = 130
"""Ctrl-C during a command other than ``sandbox`` (128 + SIGINT, as shells report it)."""


class _ParserExit(Exception):
    """argparse is done (``--help``, ``--version``) and the command must end with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises instead of exiting, and reports errors in one line."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _ParserExit(status)

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of every command."""
    parser = _ArgumentParser(
        prog=PROG,
        description="Update meetergo calendar connections from the command line.",
        epilog="Start with: meetergo-async demo. Credentials come from --api-key/--user-id or "
        "MEETERGO_API_KEY/MEETERGO_USER_ID (and MEETERGO_BASE_URL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    credentials = [credentials_parser()]
    demo.register(subparsers)
    update.register(subparsers, credentials)
    bulk.register(subparsers, credentials)
    sandbox.register(subparsers)
    return parser


async def run_async(argv: Sequence[str] | None = None) -> int:
    """Run the command line in the running event loop; return the exit status.

    Args:
        argv: the arguments without the program name; default ``sys.argv[1:]``.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    ui = Ui(secrets_in(args_list))
    try:
        args = build_parser().parse_args(args_list)
        handler: Handler = args.handler
        return await handler(args, ui)
    except _ParserExit as done:
        return done.status
    except CommandError as exc:
        ui.error(exc.message)
        return exc.status
    except MeetergoError as exc:
        ui.error(str(exc))
        return EXIT_FAILED
    except OSError as exc:  # a file that cannot be written, a full disk, a closed pipe
        ui.error(str(exc))
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (the console script exits with it)."""
    try:
        return asyncio.run(run_async(argv))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
