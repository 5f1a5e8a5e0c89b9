"""The parser of the whole command line: the top-level options and every command's parser."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from meetergo_async import __version__

from . import bulk, demo, listing, sandbox, update
from ._common import PROG, CommandError
from ._options import credentials_parser


class ParserExit(Exception):
    """argparse is done (``--help``, ``--version``) and the command must end with ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises instead of exiting, and reports errors in one line."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)

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
    listing.register(subparsers, credentials)
    bulk.register(subparsers, credentials)
    sandbox.register(subparsers)
    return parser
