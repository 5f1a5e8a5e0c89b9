"""The argument checks every module runs before anything is sent; each error names its argument.

The errors are ``errors.ArgumentValueError`` and ``errors.ArgumentTypeError``: they carry the
argument's name as data (``error.argument``). The checks of an update's fields live beside
the model they check (``models``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Final

from .errors import NAME, ArgumentTypeError, ArgumentValueError

CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
