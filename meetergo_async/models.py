"""Request and response models: frozen attrs classes holding plain data.

They know nothing of JSON; the one converter in ``_serde`` owns the wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from ._unset import UNSET, Unset
from ._validate import (
    check_calendar_field,
    check_flag,
    to_calendar_tuple,
    validate_update_request,
)

__all__ = [
    "CalendarConnection",
    "CalendarConnectionUpdate",
    "UpdateRequest",
    "UpdateResult",
]


@attrs.frozen(kw_only=True)
class CalendarConnectionUpdate:
    """The fields to change on a calendar connection; unset fields are not sent.

    Every field defaults to ``UNSET`` and is left out of the request body. Each field sent is
    an absolute assignment, so sending the same update twice leaves the same state.

    Args:
        primary_calendar: calendar id that new events are created in (``"primary"`` on Google).
        selected_calendars: calendar ids checked for availability conflicts; ``[]`` clears them.
        validate_availability: check this connection for conflicts when booking.
        cancel_if_declined_or_deleted: cancel the appointment when the attendee declines or
            deletes the calendar event.
        disable_attendee_notification: suppress attendee notifications on the event.
        sync_buffers_to_calendar: write buffer events into the connected calendar.

    Raises:
        TypeError: a flag is not a ``bool``, a calendar id is not a ``str``,
            ``selected_calendars`` is a bare string, or a field is ``None``.
        ValueError: a calendar id is empty.
    """

    primary_calendar: str | Unset = attrs.field(default=UNSET, validator=check_calendar_field)
    selected_calendars: tuple[str, ...] | Unset = attrs.field(
        default=UNSET, converter=to_calendar_tuple
    )
    validate_availability: bool | Unset = attrs.field(default=UNSET, validator=check_flag)
    cancel_if_declined_or_deleted: bool | Unset = attrs.field(default=UNSET, validator=check_flag)
    disable_attendee_notification: bool | Unset = attrs.field(default=UNSET, validator=check_flag)
    sync_buffers_to_calendar: bool | Unset = attrs.field(default=UNSET, validator=check_flag)

    def is_empty(self) -> bool:
        """Tell whether no field is set (such an update is refused before sending)."""
        return self == _EMPTY_UPDATE


_EMPTY_UPDATE: Final = CalendarConnectionUpdate()


@attrs.frozen(kw_only=True)
class CalendarConnection:
    """A calendar connection as the server describes it.

    Only ``id`` is certain: meetergo does not promise the response schema, so every other
    field may be ``None``. JSON fields this model does not know, and known fields whose
    value had an unexpected type, are kept raw in ``extra`` under their JSON name.
    """

    id: str
    provider: str | None = None
    email: str | None = None
    is_primary: bool | None = None
    is_connected: bool | None = None
    primary_calendar: str | None = None
    selected_calendars: tuple[str, ...] | None = None
    validate_availability: bool | None = None
    cancel_if_declined_or_deleted: bool | None = None
    disable_attendee_notification: bool | None = None
    sync_buffers_to_calendar: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, eq=True, hash=False)


@attrs.frozen
class UpdateRequest:
    """One item of a bulk update: which connection, what to change, and for whom.

    Args:
        connection_id: the connection to update.
        update: the fields to change.
        owner_user_id: sent as the ``userId`` query parameter (admins naming another user).
        as_user: the ``x-meetergo-api-user-id`` header for this item only.

    Raises:
        TypeError, ValueError: an argument is invalid (checked at construction).
    """

    connection_id: str
    update: CalendarConnectionUpdate
    owner_user_id: str | None = None
    as_user: str | None = None

    def __attrs_post_init__(self) -> None:
        validate_update_request(self.connection_id, self.update, self.owner_user_id, self.as_user)


@attrs.frozen
class UpdateResult:
    """How one bulk item ended: ``connection`` on success, ``error`` otherwise.

    Attributes:
        index: the item's position in the input (0-based).
        connection_id: the id the item named (``None`` when the item was not even a valid
            request).
        connection: the updated connection, or ``None`` on failure.
        error: the exception that ended the item, or ``None`` on success. A ``MeetergoError``
            for server or network trouble, ``TypeError``/``ValueError`` for an invalid item
            (nothing was sent for it).
        attempts: requests sent for this item (0 for an invalid item).
    """

    index: int
    connection_id: str | None
    connection: CalendarConnection | None = None
    error: BaseException | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """Tell whether the update succeeded."""
        return self.error is None
