"""What a budget gives the limiter of each of its clients: Redis, the keys, the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..pacing import SlidingWindow
from ._script import Keys

__all__ = ["Binding"]


@attrs.frozen
class Binding:
    """What a budget gives each client's limiter: Redis, the keys, the rules."""

    connect: Callable[[], tuple[Any, bool]]
    """Returns the asyncio Redis client, and whether the limiter owns it (closes it)."""
    keys: Keys
    window: SlidingWindow
    raise_when_down: bool
    local_share: int | None
    timeout: float
    presence: float
