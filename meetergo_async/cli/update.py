"""The ``update`` command: change one calendar connection; only the fields given are sent."""

from __future__ import annotations

import argparse
from typing import Any, Final

from meetergo_async import CalendarConnectionUpdate

from ._common import EXIT_OK, CommandError, Ui
from ._options import FLAG_FIELDS, OPTION_NAMES, add_acting_options, in_words, make_client
from ._output import connection_json, connection_text

_FLAG_HELP: Final = {
    "validate_availability": "check this connection for conflicts when booking",
    "cancel_if_declined_or_deleted": "cancel the appointment when the attendee declines",
    "disable_attendee_notification": "suppress attendee notifications on calendar events",
    "sync_buffers_to_calendar": "write buffer events into the connected calendar",
}
"""The help of each yes/no field's ``--[no-]`` option; the options follow ``FLAG_FIELDS``."""
_FIELD_OPTIONS: Final = ", ".join(
    ["--primary-calendar", "--selected-calendar", "--clear-selected-calendars"]
    + [f"--[no-]{name.replace('_', '-')}" for name in FLAG_FIELDS]
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``update`` command."""
    update = subparsers.add_parser(
        "update",
        parents=parents,
        help="change one calendar connection's settings",
        description="Change one calendar connection; only the fields given are sent.",
        epilog="exit status: 0 updated, 1 the API refused or did not answer, 2 bad usage",
    )
    update.add_argument("connection_id", metavar="CONNECTION_ID")
    update.add_argument("--primary-calendar", metavar="ID", help="calendar new events go to")
    calendars = update.add_mutually_exclusive_group()
    calendars.add_argument(
        "--selected-calendar",
        metavar="ID",
        action="append",
        dest="selected_calendars",
        help="a calendar checked for conflicts; repeat for several (replaces the list)",
    )
    calendars.add_argument(
        "--clear-selected-calendars", action="store_true", help="check no calendar for conflicts"
    )
    for name in FLAG_FIELDS:
        flag = "--" + name.replace("_", "-")
        update.add_argument(
            flag, action=argparse.BooleanOptionalAction, default=None, help=_FLAG_HELP[name]
        )
    add_acting_options(update)
    update.set_defaults(handler=run)


def build_update(args: argparse.Namespace) -> CalendarConnectionUpdate:
    """Turn the field options into an update.

    Raises:
        CommandError: no field option was given, or a value is invalid (exit status 2).
    """
    fields: dict[str, Any] = {
        name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name) is not None
    }
    if args.primary_calendar is not None:
        fields["primary_calendar"] = args.primary_calendar
    if args.selected_calendars is not None:
        fields["selected_calendars"] = args.selected_calendars
    elif args.clear_selected_calendars:
        fields["selected_calendars"] = []
    if not fields:
        raise CommandError(f"nothing to update: give at least one of {_FIELD_OPTIONS}")
    try:
        return CalendarConnectionUpdate(**fields)
    except (TypeError, ValueError) as exc:
        raise CommandError(in_words(exc, OPTION_NAMES)) from None


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``update`` command."""
    update = build_update(args)
    async with make_client(args) as client:
        try:
            conn = await client.update_calendar_connection(
                args.connection_id, update, owner_user_id=args.owner_user_id, as_user=args.as_user
            )
        except (TypeError, ValueError) as exc:
            raise CommandError(in_words(exc, OPTION_NAMES)) from None
    ui.out(connection_json(conn) if args.json else connection_text(conn))
    return EXIT_OK
