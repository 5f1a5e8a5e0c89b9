"""The ``list`` command: the calendar connections of one user, as a table or JSON."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, CommandError, Ui
from ._options import OPTION_NAMES, add_acting_options, in_words, make_client
from ._output import connection_json, print_table


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``list`` command."""
    listing = subparsers.add_parser(
        "list",
        parents=parents,
        help="list a user's calendar connections",
        description="List the calendar connections of the acting user (or --owner-user-id).",
    )
    add_acting_options(listing)
    listing.set_defaults(handler=run)


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``list`` command."""
    async with make_client(args) as client:
        try:
            conns = await client.list_calendar_connections(
                owner_user_id=args.owner_user_id, as_user=args.as_user
            )
        except (TypeError, ValueError) as exc:
            raise CommandError(in_words(exc, OPTION_NAMES)) from None
    if args.json:
        ui.out(connection_json(conns))
    else:
        print_table(ui, conns)
    return EXIT_OK
