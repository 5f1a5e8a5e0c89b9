"""The fake server's connection store and the PATCH body validation.

Connections are kept as the camelCase JSON objects the API returns, so answering a request is
one ``json`` encode of what is stored, with no conversion and no copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from meetergo_async.testing._protocol import encode_json

Connection = dict[str, Any]

_STRING: Final = "string"
_STRINGS: Final = "string[]"
_BOOLEAN: Final = "boolean"

PATCH_FIELDS: Final[Mapping[str, str]] = {
    "primaryCalendar": _STRING,
    "selectedCalendars": _STRINGS,
    "validateAvailability": _BOOLEAN,
    "cancelIfDeclinedOrDeleted": _BOOLEAN,
    "disableAttendeeNotification": _BOOLEAN,
    "syncBuffersToCalendar": _BOOLEAN,
}
"""JSON name -> kind of the fields a PATCH may carry, in the order class-validator reports them.

Spelled here from meetergo's API reference, not taken from the SDK's converter: were the SDK
to misspell a field, the sandbox must refuse it as meetergo would (``tests/testing`` pins
that the two agree).
"""

NOT_AN_OBJECT: Final = "request body must be a JSON object"
GENERATED_PROVIDERS: Final = ("google", "outlook", "icloud", "caldav", "exchange")
BASE_TIME_MS: Final = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 1000
"""``createdAt`` of seeded connections that do not bring their own: fixed, so runs repeat."""


def isoformat(epoch_ms: int) -> str:
    """Format milliseconds since the epoch as JavaScript's ``toISOString`` does (UTC, ``Z``)."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_second_prefix(seconds)}.{millis:03d}Z"


@lru_cache(maxsize=4)
def _second_prefix(seconds: int) -> str:
    # strftime is the slow part of a timestamp; within one second the prefix repeats.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def parse_epoch_ms(value: object) -> int | None:
    """Return the epoch milliseconds of an ISO-8601 timestamp with a zone, else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def _field_errors(name: str, kind: str, value: object) -> list[str]:
    if kind == _BOOLEAN:
        return [] if isinstance(value, bool) else [f"{name} must be a boolean value"]
    if kind == _STRING:
        return [] if isinstance(value, str) else [f"{name} must be a string"]
    # class-validator's @IsString({each: true}) checks a non-array value itself, so "x"
    # fails only @IsArray while 5 fails both.
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return []
        return [f"each value in {name} must be a string"]
    errors = [f"{name} must be an array"]
    if not isinstance(value, str):
        errors.append(f"each value in {name} must be a string")
    return errors


def validate_patch(body: object) -> list[str]:
    """Return class-validator's messages for a PATCH body; an empty list means it is valid.

    Unknown properties come first (whitelist with forbidNonWhitelisted), then the known
    fields in declaration order. ``null`` passes, as ``@IsOptional`` lets it through.
    """
    if not isinstance(body, dict):
        return [NOT_AN_OBJECT]
    errors = [f"property {key} should not exist" for key in body if key not in PATCH_FIELDS]
    for name, kind in PATCH_FIELDS.items():
        value = body.get(name)
        if value is not None:
            errors.extend(_field_errors(name, kind, value))
    return errors


def _default_connection(cid: str, index: int) -> Connection:
    created = isoformat(BASE_TIME_MS + index * 1000)
    return {
        "id": cid,
        "provider": GENERATED_PROVIDERS[index % len(GENERATED_PROVIDERS)],
        "email": f"user{index:04d}@example.com",
        "isPrimary": index == 0,
        "isConnected": True,
        "primaryCalendar": "primary",
        "selectedCalendars": ["primary"],
        "validateAvailability": True,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": False,
        "syncBuffersToCalendar": False,
        "createdAt": created,
        "updatedAt": created,
    }


class ConnectionStore:
    """The connections the fake serves, keyed by id, in insertion order."""

    __slots__ = ("_stamps", "_wall_clock", "items")

    def __init__(self, wall_clock: Callable[[], float]) -> None:
        self._wall_clock = wall_clock
        self.items: dict[str, Connection] = {}
        self._stamps: dict[str, int] = {}  # id -> epoch ms of the last updatedAt we wrote

    @classmethod
    def seeded(
        cls,
        wall_clock: Callable[[], float],
        connections: Iterable[Mapping[str, Any]],
        generate: int,
    ) -> ConnectionStore:
        """Build a store holding ``connections``, then ``generate`` generated ones after them."""
        store = cls(wall_clock)
        store.seed(connections)
        store.generate(generate)
        return store

    def add(self, cid: str | None, fields: Mapping[str, Any]) -> Connection:
        """Store a connection: defaults overlaid with ``fields``; ``None`` picks the next id.

        Raises:
            TypeError: the id is not a string, or a value cannot be encoded as JSON.
            ValueError: the id is already stored.
        """
        index = len(self.items)
        if cid is None:
            cid = fields.get("id", self._free_id(index))
        if not isinstance(cid, str):
            raise TypeError(f"connection id must be a str, got {type(cid).__name__}")
        if cid in self.items:
            raise ValueError(f"connection {cid!r} already exists")
        connection = _default_connection(cid, index)
        connection.update(copy_connection(dict(fields)))
        connection["id"] = cid
        encode_json(connection)  # a value JSON cannot carry fails here, not in a request
        self.items[cid] = connection
        return connection

    def _free_id(self, index: int) -> str:
        while f"conn-{index:04d}" in self.items:
            index += 1
        return f"conn-{index:04d}"

    def generate(self, count: int) -> None:
        """Add ``count`` connections with ids ``conn-0000``, ``conn-0001``, ... (deterministic)."""
        for _ in range(count):
            self.add(None, {})

    def seed(self, connections: Iterable[Mapping[str, Any]]) -> None:
        """Add each mapping of ``connections`` as a connection (its ``id`` key picks the id)."""
        for fields in connections:
            self.add(fields.get("id"), fields)

    def apply(self, connection: Connection, patch: Mapping[str, Any]) -> None:
        """Assign every non-null field of a validated ``patch`` and move ``updatedAt`` on."""
        for name, value in patch.items():
            if value is not None:
                connection[name] = value
        cid = connection["id"]
        previous = self._stamps.get(cid)
        if previous is None:
            previous = parse_epoch_ms(connection.get("updatedAt")) or 0
        # updatedAt must change on every update, even two within one millisecond.
        stamp = max(int(self._wall_clock() * 1000), previous + 1)
        self._stamps[cid] = stamp
        connection["updatedAt"] = isoformat(stamp)

    def listing(self) -> dict[str, Any]:
        """Return the body of ``GET /v4/calendar-connections/connections``."""
        return {"connections": list(self.items.values()), "total": len(self.items)}


def copy_connection(connection: Connection) -> Connection:
    """Copy a connection deep enough that editing the copy leaves the store alone."""
    return {
        key: list(value) if isinstance(value, list) else value for key, value in connection.items()
    }
