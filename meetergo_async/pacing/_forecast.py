"""When could the k-th next request go? The projection behind an honest ETA.

Pure arithmetic on what a limiter holds now. For a sliding log it is exact, given the log:
the free slots now, then each slot as the entry holding it stops counting, then each slot
again a window (and the margin) later, as the log fills and frees slot by slot. For a
token bucket: the tokens now, then one each ``1 / rate``. A pause after a 429 delays all.
What nobody can know (how long the server takes to answer, other clients of the key that
do not share the budget) is left out: the projection never promises faster than the limit
allows, and is what the limit allows, no more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._log import EXPIRY_MARGIN

__all__ = ["on_bucket", "on_sliding_log"]


def on_sliding_log(
    now: float,
    count: int,
    cap: int,
    window: float,
    expiries: Sequence[float],
    pause_until: float = -math.inf,
) -> float:
    """Seconds from ``now`` until the ``count``-th next request may go on a sliding log.

    ``expiries``: when each entry of the log stops counting, ascending (``cap`` at most
    count at once). ``pause_until``: nothing goes before it.
    """
    if count <= 0:
        return 0.0
    start = max(now, pause_until)
    live = [e for e in expiries if e > start]
    free = max(0, cap - len(live))
    # The cap slots, each from when it is free next: now for the free ones, else when the
    # entry holding it stops counting (the oldest ``len(live) - cap`` go first, freeing none).
    slots = [start] * free + live[len(live) - (cap - free) :]
    cycle, index = divmod(count - 1, cap)
    at = slots[index] + cycle * (window + EXPIRY_MARGIN)
    return max(0.0, at - now)


def on_bucket(
    now: float, count: int, *, tokens: float, rate: float, until: float = -math.inf
) -> float:
    """Seconds from ``now`` until the ``count``-th next request may go on a token bucket
    (``until``: nothing goes before it)."""
    if count <= 0:
        return 0.0
    start = max(now, until)
    return max(0.0, start - now + max(0.0, count - tokens) / rate)
