"""Request and response models: frozen attrs classes holding plain data, and their checks.

They know nothing of JSON; the one converter in ``_serde`` owns the wire format. The checks
of an update's fields and of a whole update request live here, beside what they check:
``validate_update_request`` is the one rule for ``UpdateRequest``,
``update_calendar_connection`` and bulk items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from ._unset import UNSET, Unset
from ._validate import check_text
from .errors import NAME, ArgumentTypeError, ArgumentValueError
from .pacing._config import Priority, check_priority

__all__ = [
    "CalendarConnection",
    "CalendarConnectionUpdate",
    "UpdateRequest",
    "UpdateResult",
    "check_update",
    "validate_update_request",
]

_NO_NULL: Final = (
    "{name} cannot be None: the API has no null for it; leave the field out to keep the "
    "connection's current value"
)


def _no_none(name: str, value: object) -> None:
    if value is None:
        raise ArgumentTypeError(name, _NO_NULL, hint="it defaults to UNSET")


def _check_flag(_: object, attribute: Any, value: object) -> None:
    """An attrs validator: the field is ``UNSET`` or a ``bool``."""
    _no_none(attribute.name, value)
    if value is not UNSET and not isinstance(value, bool):
        raise ArgumentTypeError(attribute.name, f"{NAME} must be a bool, got {value!r}")


def _check_calendar_field(_: object, attribute: Any, value: object) -> None:
    """An attrs validator: the field is ``UNSET`` or one calendar id."""
    _no_none(attribute.name, value)
    if value is not UNSET:
        _calendar_id(attribute.name, value)


def _calendar_id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"{NAME} must hold calendar ids as str, got {value!r}")
    if not value.strip():
        raise ArgumentValueError(name, f"{NAME} must not hold an empty calendar id")
    return value


def _to_calendar_tuple(value: Any) -> Any:
    """An attrs converter: calendar ids as a tuple (``UNSET`` passes through)."""
    # A bare str is a sequence too; accepting it would send one id per character.
    name = "selected_calendars"
    _no_none(name, value)
    if value is UNSET:
        return value
    if isinstance(value, str) or not isinstance(value, Sequence):
        kind = type(value).__name__
        raise ArgumentTypeError(name, f"{NAME} must be a list or tuple of calendar ids, got {kind}")
    return tuple(_calendar_id(name, item) for item in value)


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

    primary_calendar: str | Unset = attrs.field(default=UNSET, validator=_check_calendar_field)
    selected_calendars: tuple[str, ...] | Unset = attrs.field(
        default=UNSET, converter=_to_calendar_tuple
    )
    validate_availability: bool | Unset = attrs.field(default=UNSET, validator=_check_flag)
    cancel_if_declined_or_deleted: bool | Unset = attrs.field(default=UNSET, validator=_check_flag)
    disable_attendee_notification: bool | Unset = attrs.field(default=UNSET, validator=_check_flag)
    sync_buffers_to_calendar: bool | Unset = attrs.field(default=UNSET, validator=_check_flag)

    def is_empty(self) -> bool:
        """Tell whether no field is set (such an update is refused before sending)."""
        return self == _EMPTY_UPDATE


_EMPTY_UPDATE: Final = CalendarConnectionUpdate()


def _to_priority(value: object) -> Priority | None:
    """An attrs converter: an item's own lane, or ``None`` for the run's."""
    return None if value is None else check_priority("priority", value, Priority.BULK)


def check_update(update: object) -> CalendarConnectionUpdate:
    """Return ``update`` if it is a ``CalendarConnectionUpdate`` with at least one field set."""
    if not isinstance(update, CalendarConnectionUpdate):
        kind = type(update).__name__
        # A dict of the JSON fields is the usual mistake: point to the door that takes one.
        how = "; build one with update_from_dict(...)" if isinstance(update, Mapping) else ""
        raise ArgumentTypeError(
            "update", f"{NAME} must be a CalendarConnectionUpdate, got {kind}{how}"
        )
    if update.is_empty():
        raise ArgumentValueError("update", f"{NAME} has no field set: nothing to send")
    return update


def validate_update_request(
    connection_id: object, update: object, owner_user_id: object, as_user: object
) -> None:
    """Decide whether these make a valid update request; raise the first problem found."""
    check_text("connection_id", connection_id)
    check_update(update)
    if owner_user_id is not None:
        check_text("owner_user_id", owner_user_id)
    if as_user is not None:
        check_text("as_user", as_user)


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
        priority: the lane this item waits in for its turn (``Priority`` or its value);
            ``None`` takes the bulk run's (``"bulk"`` by default).

    Raises:
        TypeError, ValueError: an argument is invalid (checked at construction).
    """

    connection_id: str
    update: CalendarConnectionUpdate
    owner_user_id: str | None = None
    as_user: str | None = None
    priority: Priority | None = attrs.field(default=None, converter=_to_priority)

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
