"""The fields a bulk record may carry, checked in the words of JSON (not of Python).

A record names its fields as the API does (``primaryCalendar``). A key written the Python
way (``primary_calendar``) is unknown, and the error says which name was meant. A value of
the wrong JSON type is refused here, in JSON's words (``true or false``, ``null``), before the
SDK's own checks (empty or malformed ids) run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from meetergo_async import UPDATE_FIELD_NAMES

from ..._options import FLAG_FIELDS

JSON_NAMES: Final = {
    "connection_id": "connectionId",
    "owner_user_id": "userId",
    "as_user": "asUser",
    **UPDATE_FIELD_NAMES,
}
"""The SDK's argument names as this input names them: the routing fields, then the update's."""
FIELDS: Final = tuple(JSON_NAMES.values())
"""Every field a record may carry, as JSON Lines keys or CSV column names."""
BOOLEAN_FIELDS: Final = frozenset(UPDATE_FIELD_NAMES[name] for name in FLAG_FIELDS)
CALENDARS_FIELD: Final = UPDATE_FIELD_NAMES["selected_calendars"]
_MEANT: Final = {**JSON_NAMES, "user_id": "userId", **{f.lower(): f for f in FIELDS}}
"""Names a user may write for a field (Python style, or in the wrong case), lower-cased."""
_NO_NULL: Final = "is null: leave the field out to keep the connection's current value"


def unknown_names(names: list[str]) -> list[str]:
    """The unknown ones of ``names``, each with the field it probably means, if any."""
    unknown = []
    for name in names:
        if name in FIELDS:
            continue
        meant = _MEANT.get(name.strip().lower().replace("-", "_"))
        unknown.append(f"{name} (did you mean {meant}?)" if meant else name)
    return unknown


def field_problem(data: Mapping[str, object]) -> str | None:
    """Say what is wrong with a record's keys or value types, or ``None`` when nothing is."""
    unknown = unknown_names([str(key) for key in data])
    if unknown:
        return f"unknown field(s): {', '.join(unknown)}"
    for key, value in data.items():
        problem = _value_problem(key, value)
        if problem:
            return f"{key} {problem}"
    return None


def _value_problem(key: str, value: object) -> str | None:
    if value is None:
        return "is missing" if key == "connectionId" else _NO_NULL
    if key in BOOLEAN_FIELDS:
        return None if isinstance(value, bool) else f"must be true or false, got {_shown(value)}"
    if key == CALENDARS_FIELD:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return None
        return f"must be a list of calendar ids (strings), got {_shown(value)}"
    return None if isinstance(value, str) else f"must be a string, got {_shown(value)}"


def _shown(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
