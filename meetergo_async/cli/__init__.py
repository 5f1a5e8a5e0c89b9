"""The ``meetergo-async`` command line.

```
meetergo-async demo                      a bulk update against a local fake, no credentials
meetergo-async update CONNECTION_ID ...  change one connection
meetergo-async list                      list connections
meetergo-async bulk FILE                 many updates from JSON Lines or CSV, with a report
meetergo-async sandbox                   serve a fake meetergo API locally until Ctrl-C
```

Exit status: 0 all went well, 1 some work failed (the API refused or did not answer), 2 bad
usage or bad input (nothing was sent), 130 stopped by Ctrl-C (SIGINT), 143 stopped by SIGTERM
(``bulk`` stops in order on either). Errors are one line on stderr; the API key is never
printed. Output into a pipe whose reader has gone (``| head``) is dropped without an error:
the command ends as it would have, with the same status. ``main`` is the console script's
entry point; ``run_async`` is the same command line as a coroutine, for callers (and tests)
that already run an event loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from meetergo_async import MeetergoError

from ._common import (
    EXIT_FAILED,
    PROG,
    CommandError,
    Handler,
    Ui,
    flush_stdout,
    secrets_in,
    write_line,
)
from ._parser import ParserExit, build_parser

__all__ = ["main", "run_async"]

EXIT_INTERRUPTED = 130
"""Ctrl-C during a command other than ``sandbox`` (128 + SIGINT, as shells report it)."""


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
    except ParserExit as done:
        return done.status
    except CommandError as exc:
        ui.error(exc.message)
        return exc.status
    except MeetergoError as exc:
        ui.error(str(exc))
        return EXIT_FAILED
    except OSError as exc:  # a file that cannot be written, a full disk (not a closed stdout)
        ui.error(str(exc))
        return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (the console script exits with it)."""
    try:
        status = asyncio.run(run_async(argv))
    except KeyboardInterrupt:
        write_line(sys.stderr, f"{PROG}: interrupted")
        status = EXIT_INTERRUPTED
    flush_stdout()  # now, not at exit, where a reader that has gone fails it with status 120
    return status
