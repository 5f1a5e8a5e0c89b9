"""Every argument check, run before anything is sent; each error names its argument.

An argument error is an ``ArgumentValueError`` (a ``ValueError``) or an ``ArgumentTypeError``
(a ``TypeError``); both are ``ArgumentError`` and carry the argument's name as data,
``error.argument``, so a caller that knows the value under another name (the command line's
``--user-id``, an environment variable, a JSON field) can say so with ``error.worded(name)``
instead of rewriting the text.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from ._unset import UNSET

if TYPE_CHECKING:
    from .models import CalendarConnectionUpdate

CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NAME: Final = "{name}"
"""Where the argument's name stands in an error's template."""


class ArgumentError(Exception):
    """An argument error: ``argument`` names it; ``worded`` says it under another name.

    Args:
        argument: the Python name of the argument (``user_id``, ``primary_calendar``).
        template: the message, with ``{name}`` where the argument's name goes.
        hint: advice that only makes sense in Python (``pass allow_insecure_http=True``),
            added to the message after ``; ``.
        spelled: how the message spells the argument in Python (default: its name, e.g.
            ``api_key=...`` where the message tells what to pass).
    """

    def __init__(
        self, argument: str, template: str, *, hint: str = "", spelled: str | None = None
    ) -> None:
        self.argument = argument
        self.template = template
        self.hint = hint
        message = self.worded(argument if spelled is None else spelled)
        super().__init__(message + (f"; {hint}" if hint else ""))

    def worded(self, name: str) -> str:
        """The message with ``name`` for the argument, and without the Python-only hint."""
        return self.template.replace(NAME, name)


class ArgumentValueError(ArgumentError, ValueError):
    """A ``ValueError`` about one argument, named by ``argument``."""


class ArgumentTypeError(ArgumentError, TypeError):
    """A ``TypeError`` about one argument, named by ``argument``."""


# -- numbers --------------------------------------------------------------------------------


def _check_number(name: str, value: object, *, minimum: float, inclusive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArgumentTypeError(name, f"{NAME} must be a number, got {type(value).__name__}")
    bad = value < minimum if inclusive else value <= minimum
    if math.isnan(value) or math.isinf(value) or bad:
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise ArgumentValueError(name, f"{NAME} must be a finite number {bound}, got {value!r}")


def check_positive(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number greater than zero."""
    _check_number(name, value, minimum=0, inclusive=False)


def check_non_negative(name: str, value: object) -> None:
    """Raise unless ``value`` is a finite number of zero or more."""
    _check_number(name, value, minimum=0, inclusive=True)


def check_fraction(name: str, value: object) -> None:
    """Raise unless ``value`` is a number within 0..1."""
    check_non_negative(name, value)
    assert isinstance(value, int | float)
    if value > 1:
        raise ArgumentValueError(name, f"{NAME} must be within 0..1, got {value!r}")


def check_count(name: str, value: object, *, minimum: int = 1) -> None:
    """Raise unless ``value`` is an ``int`` (not ``bool``) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentTypeError(name, f"{NAME} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ArgumentValueError(name, f"{NAME} must be >= {minimum}, got {value}")


def positive(_: object, attribute: Any, value: float) -> None:
    """An attrs validator: the field is a finite number greater than zero."""
    check_positive(attribute.name, value)


def count(_: object, attribute: Any, value: int) -> None:
    """An attrs validator: the field is an ``int`` of at least 1."""
    check_count(attribute.name, value)


def check_instance(name: str, value: object, kind: type, *, optional: bool = False) -> None:
    """Raise ``ArgumentTypeError`` unless ``value`` is a ``kind`` (or ``None`` if optional)."""
    if not isinstance(value, kind) and not (optional and value is None):
        wanted = f"a {kind.__name__}" + (" or None" if optional else "")
        raise ArgumentTypeError(name, f"{NAME} must be {wanted}, got {type(value).__name__}")


def check_strings(name: str, values: Iterable[str]) -> tuple[str, ...]:
    """Return ``values`` as a tuple of str; a bare str is refused, not split into letters."""
    if isinstance(values, str):
        raise ArgumentTypeError(name, f"{NAME} must be an iterable of str, not a single str")
    result = tuple(values)
    for value in result:
        if not isinstance(value, str):
            kind = type(value).__name__
            raise ArgumentTypeError(name, f"{NAME} must hold str values, got {kind}")
    return result


# -- text that reaches a URL or a header ----------------------------------------------------


def check_text(name: str, value: object) -> str:
    """Return ``value`` if it is a non-blank ``str`` free of control characters.

    Used for ids that end up in a URL path, a query or a header, where CR, LF or NUL could
    split or forge the request.

    Raises:
        ArgumentTypeError: ``value`` is not a ``str``.
        ArgumentValueError: it is empty, only whitespace, or holds a control character.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(name, f"{NAME} must be a str, got {type(value).__name__}")
    if value.isascii() and value.isprintable() and value.strip():
        return value  # the usual id: printable ASCII (no control character), not blank
    if not value.strip():
        raise ArgumentValueError(name, f"{NAME} must not be empty or whitespace")
    if CONTROL.search(value):
        raise ArgumentValueError(
            name, f"{NAME} must not contain control characters (CR, LF, NUL, DEL, ...)"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ArgumentValueError(
            name, f"{NAME} must be valid Unicode (it holds a lone surrogate)"
        ) from None
    return value


def check_optional_text(name: str, value: object) -> str | None:
    """Like ``check_text`` but ``None`` passes through."""
    return None if value is None else check_text(name, value)


# -- the fields of an update ----------------------------------------------------------------

_NO_NULL: Final = (
    "{name} cannot be None: the API has no null for it; leave the field out to keep the "
    "connection's current value"
)


def _no_none(name: str, value: object) -> None:
    if value is None:
        raise ArgumentTypeError(name, _NO_NULL, hint="it defaults to UNSET")


def check_flag(_: object, attribute: Any, value: object) -> None:
    """An attrs validator: the field is ``UNSET`` or a ``bool``."""
    _no_none(attribute.name, value)
    if value is not UNSET and not isinstance(value, bool):
        raise ArgumentTypeError(attribute.name, f"{NAME} must be a bool, got {value!r}")


def check_calendar_field(_: object, attribute: Any, value: object) -> None:
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


def to_calendar_tuple(value: Any) -> Any:
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


# -- an update request ----------------------------------------------------------------------


@functools.cache
def _update_type() -> type[CalendarConnectionUpdate]:
    # Looked up on first use: models imports this module for its field validators.
    from .models import CalendarConnectionUpdate

    return CalendarConnectionUpdate


def check_update(update: object) -> CalendarConnectionUpdate:
    """Return ``update`` if it is a ``CalendarConnectionUpdate`` with at least one field set."""
    if not isinstance(update, _update_type()):
        kind = type(update).__name__
        raise ArgumentTypeError("update", f"{NAME} must be a CalendarConnectionUpdate, got {kind}")
    if update.is_empty():
        raise ArgumentValueError("update", f"{NAME} has no field set: nothing to send")
    return update


def validate_update_request(
    connection_id: object, update: object, owner_user_id: object, as_user: object
) -> None:
    """Decide whether these make a valid update request; raise the first problem found.

    The one rule for ``UpdateRequest``, ``update_calendar_connection`` and bulk items.
    """
    check_text("connection_id", connection_id)
    check_update(update)
    if owner_user_id is not None:
        check_text("owner_user_id", owner_user_id)
    if as_user is not None:
        check_text("as_user", as_user)
