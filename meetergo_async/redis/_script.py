"""The shared budget's Lua script, its keys, and the values that cross to Redis and back.

Pure: no I/O and no import of redis, so every value here is tested without a server. The
script itself (``_budget.lua``) describes the protocol: its arguments, the state it
keeps and its reply. Its constants come from the in-process limiter's modules, so both
limiters pace by the same rules.
"""

from __future__ import annotations

import hashlib
import math
import string
from collections.abc import Sequence
from importlib import resources
from typing import Final, NamedTuple

from ..pacing._block import BLOCK_PROBE_CAP, BLOCK_PROBE_FIRST, BLOCK_PROBE_GROWTH
from ..pacing._forecast import on_sliding_log
from ..pacing._lesson import RECOVERY_STEP, RECOVERY_WINDOWS
from ..pacing._log import COUNT_SLACK, EXPIRY_MARGIN

__all__ = [
    "BULK_AHEAD",
    "POLL",
    "Keys",
    "Reply",
    "Update",
    "arguments",
    "budget_keys",
    "parse_reply",
    "source",
]

POLL: Final = 0.05
"""Seconds before asking again when a decision waits for an answer not yet reported."""
BULK_AHEAD: Final = 0.2
"""The most seconds ahead a bulk slot is reserved (and no more than ``window / limit``): an
interactive call coming meanwhile takes the slots freeing later first, whatever its process."""
_KEY_HASH_CONTEXT: Final = b"meetergo-async shared budget\x00"
_KEY_HASH_CHARS: Final = 32


def source() -> str:
    """The script's text, with the pacing constants filled in."""
    text = resources.files(__package__).joinpath("_budget.lua").read_text("utf-8")
    return string.Template(text).substitute(
        margin=_ms(EXPIRY_MARGIN),
        poll=_ms(POLL),
        probe_first=_ms(BLOCK_PROBE_FIRST),
        probe_growth=repr(BLOCK_PROBE_GROWTH),
        probe_cap=repr(BLOCK_PROBE_CAP),
        recovery_step=repr(RECOVERY_STEP),
        recovery_windows=repr(RECOVERY_WINDOWS),
        count_slack=repr(COUNT_SLACK),
        bulk_ahead=_ms(BULK_AHEAD),
    )


def forecast_source() -> str:
    """The read-only script that tells how the budget stands, for a forecast."""
    return resources.files(__package__).joinpath("_forecast.lua").read_text("utf-8")


def forecast_from(raw: Sequence[object], window: float, count: int) -> float | None:
    """Seconds until the ``count``-th next request may go, from ``_forecast.lua``'s reply.

    ``None`` during a block (when it ends is not known). An entry still in flight, or
    reserved, counts as stopping a window after now (as if answered now).
    """
    numbers = [_int(value) for value in raw]
    now_ms, limit, pause_until_ms, blocked = numbers[:4]
    if blocked:
        return None
    soonest_possible = now_ms + window * 1000 + EXPIRY_MARGIN * 1000
    expiries = [min(ms, soonest_possible) / 1000 for ms in numbers[4:]]
    expiries.sort()
    now = now_ms / 1000
    return on_sliding_log(now, count, max(1, limit), window, expiries, pause_until_ms / 1000)


def _ms(seconds: float) -> str:
    return repr(seconds * 1000.0)


class Keys(NamedTuple):
    """The Redis keys of one budget: one hash tag, so Redis Cluster keeps them on one slot."""

    log: str
    state: str
    accepted: str
    processes: str
    seen: str
    """Interactive requests sent within the last window: the bulk lane's headroom."""


def budget_keys(prefix: str, api_key: str) -> Keys:
    """The keys of ``api_key``'s budget: a hash of the key (never the key) under ``prefix``."""
    digest = hashlib.sha256(_KEY_HASH_CONTEXT + api_key.encode("utf-8")).hexdigest()
    base = f"{prefix}:{{{digest[:_KEY_HASH_CHARS]}}}"
    return Keys(
        f"{base}:log", f"{base}:state", f"{base}:accepted", f"{base}:processes", f"{base}:seen"
    )


class Update(NamedTuple):
    """One thing a process learned about one of its requests, on its own clock.

    ``kind``: ``A`` an attempt ended (``status`` 0: without an answer), ``E`` the same
    without a lesson (history only), ``S`` a request in flight, ``R`` a reserved slot given
    back unused. ``retry_ms``: ``Retry-After`` (-1 none, -2 too long to pause for).
    ``told``: ``X-RateLimit-Limit`` (-1 no rate-limit header, 0 none usable). ``stamp``:
    the budget's block count when the slot was granted, doubled, plus 1 during a block.
    """

    kind: str
    member: str
    ended: float = 0.0
    sent: float = 0.0
    status: int = 0
    retry_ms: int = -1
    told: int = -1
    stamp: int = 0


def arguments(
    *,
    limit: int,
    window: float,
    flight: float,
    presence: float,
    process: str,
    generation: str,
    full: bool,
    wanted: int,
    hello: int,
    first: int,
    updates: Sequence[Update],
    now: float,
    wanted_bulk: int = 0,
) -> list[str | int | float]:
    """The script's ARGV; times of ``updates`` become ages in ms against ``now``.

    ``wanted`` interactive slots (numbered from ``first``), then ``wanted_bulk`` bulk ones.
    """
    args: list[str | int | float] = [
        limit,
        _whole_ms(window),
        _whole_ms(flight),
        _whole_ms(presence),
        process,
        generation,
        "1" if full else "0",
        wanted,
        hello,
        first,
        wanted_bulk,
    ]
    for u in updates:
        since_end = max(0, math.floor((now - u.ended) * 1000)) if u.kind in "AE" else 0
        since_sent = max(0, math.floor((now - u.sent) * 1000))
        args += [u.kind, u.member, since_end, since_sent, u.status, u.retry_ms, u.told, u.stamp]
    return args


def _whole_ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


class Reply(NamedTuple):
    """What the script answered."""

    resync: bool
    generation: str
    now_ms: int
    limit: int
    processes: int
    stamp: int
    retry: float | None
    """Seconds until the slots not granted may be asked for again; ``None``: all granted."""
    heard: bool
    interactive: int
    """How many of ``waits`` are interactive slots (the first ones)."""
    waits: tuple[float, ...]
    """Seconds each granted slot waits before it may be used: interactive, then bulk."""

    @property
    def blocks(self) -> int:
        """How many blocks the budget has seen begin."""
        return self.stamp // 2


def parse_reply(raw: Sequence[object]) -> Reply:
    """Read the script's reply (bytes or str, integers).

    Raises:
        ValueError: the reply is not the script's.
    """
    if len(raw) < 9:
        raise ValueError(f"unexpected reply from the budget script: {len(raw)} values")
    status = _text(raw[0])
    generation = _text(raw[1])
    numbers = [_int(value) for value in raw[2:]]
    now_ms, limit, processes, stamp, retry_ms, heard, interactive = numbers[:7]
    return Reply(
        resync=status == "resync",
        generation=generation,
        now_ms=now_ms,
        limit=limit,
        processes=processes,
        stamp=stamp,
        retry=None if retry_ms < 0 else retry_ms / 1000.0,
        heard=heard == 1,
        interactive=interactive,
        waits=tuple(ms / 1000.0 for ms in numbers[7:]),
    )


def _text(value: object) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _int(value: object) -> int:
    if isinstance(value, int):
        return value
    return int(_text(value))
