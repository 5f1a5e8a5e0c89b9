"""What a client counts of its own work: ``ClientStats``, as ``MeetergoClient.stats`` gives it."""

from __future__ import annotations

import attrs

__all__ = ["ClientStats"]


@attrs.frozen
class ClientStats:
    """Counters of one client since it was made.

    Attributes:
        requests: attempts sent (retries included).
        rate_limited: 429 answers seen.
        retries: waits before another attempt.
        rate: the pacing rate in force now (requests a second; ``None`` when proactive
            pacing is off).
        interactive_requests: of ``requests``, those of interactive calls (single calls).
        bulk_requests: of ``requests``, those of bulk items.
    """

    requests: int
    rate_limited: int
    retries: int
    rate: float | None
    interactive_requests: int = 0
    bulk_requests: int = 0
