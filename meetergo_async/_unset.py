"""The ``UNSET`` sentinel: a field the caller did not set, left out of the JSON body."""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias


class _UnsetType(enum.Enum):
    """The type of ``UNSET``; a single-member enum so type checkers can narrow on it."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _UnsetType.UNSET
"""Marks an optional request field the caller did not set; it is not sent."""

Unset: TypeAlias = Literal[_UnsetType.UNSET]
"""The type of ``UNSET``, for annotations such as ``bool | Unset``."""
