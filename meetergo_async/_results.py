"""What a success answer holds: its body decoded, the connection(s) read from it.

Lenient, as meetergo does not promise the response schema: nothing here raises; what cannot
be read is logged and left out (or kept raw in ``extra`` by the converter of ``_serde``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

import attrs

from ._answers import decode_json
from ._serde import converter
from .models import CalendarConnection

__all__ = [
    "decode_success",
    "parse_connection",
    "parse_connection_list",
    "parse_updated_connection",
]

log = logging.getLogger(__name__)

_structure_connection: Final[Callable[[Any, type], CalendarConnection]] = (
    converter.get_structure_hook(CalendarConnection)
)


def decode_success(body: bytes, method: str, path: str) -> object:
    """Decode a success's body: ``None`` when empty; a body that is not JSON is logged."""
    if not body:
        return None
    ok, data = decode_json(body)
    if not ok:
        log.warning(
            "%s %s answered 2xx with a body that is not JSON; kept what is known", method, path
        )
    return data


def parse_connection(data: object, fallback_id: str) -> CalendarConnection:
    """Read a connection from a decoded JSON body; never raises.

    A body that is not an object, or has no string ``id``, gives a connection with
    ``fallback_id`` (the id that was requested).
    """
    conn = _structure_connection(data, CalendarConnection)  # the converter's hook, undispatched
    return conn if conn.id else attrs.evolve(conn, id=fallback_id)


def parse_updated_connection(data: object, connection_id: str, path: str) -> CalendarConnection:
    """Read the connection a PATCH answered with; a body that is not an object is logged."""
    if data is not None and not isinstance(data, dict):
        log.warning("PATCH %s answered 2xx with a non-object body; kept the id", path)
    return parse_connection(data, connection_id)


def parse_connection_list(data: object, path: str) -> list[CalendarConnection]:
    """Read the connections of a list answer; entries without a string ``id`` are skipped.

    Never raises: an answer without a ``connections`` list gives ``[]``, with a warning.
    """
    items = data.get("connections") if isinstance(data, dict) else None
    if not isinstance(items, list):
        log.warning("GET %s answered 2xx without a connections list", path)
        return []
    usable = [i for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
    if len(usable) != len(items):
        log.warning("skipped %d listed connections without a string id", len(items) - len(usable))
    return [parse_connection(item, item["id"]) for item in usable]
