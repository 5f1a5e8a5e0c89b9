"""The one cattrs converter that owns the wire format.

Requests: camelCase names, fields left ``UNSET`` omitted. Responses: parsed leniently, since
meetergo does not promise the response schema: a field of the wrong type becomes ``None``
with its raw value kept in ``extra``; unknown fields go to ``extra``; parsing never raises.
What a success answer's body holds is read with this converter in ``_results``.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from .errors import ArgumentError, ArgumentTypeError, ArgumentValueError
from .models import CalendarConnection, CalendarConnectionUpdate

__all__ = [
    "UPDATE_FIELD_NAMES",
    "camel",
    "converter",
    "encode_update",
    "to_dict",
    "update_from_dict",
]

T = TypeVar("T")


def camel(name: str) -> str:
    """Turn ``cancel_if_declined_or_deleted`` into ``cancelIfDeclinedOrDeleted``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


UPDATE_FIELD_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {a.name: camel(a.name) for a in attrs.fields(CalendarConnectionUpdate)}
)
"""Python name -> JSON name of every field of an update, in the order the API lists them.

The one map of these names: the converter writes bodies with it, the command line and the
sandbox name fields with it.
"""


def _renames(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}


def _json_ready(value: T) -> T:
    return value


def _update_overrides() -> dict[str, Any]:
    # Every set value of an update is already JSON (str, bool, a tuple json.dumps writes as
    # a list), so no per-field dispatch on the union with UNSET is needed.
    return {
        name: override(rename=json_name, unstruct_hook=_json_ready)
        for name, json_name in UPDATE_FIELD_NAMES.items()
    }


def _strict(kind: type[T]) -> Callable[[object, type], T]:
    # cattrs' default str/bool hooks coerce (str(5), bool("false")): wrong for a lenient
    # parser that must tell a wrong type apart from a value.
    def structure(value: object, _: type) -> T:
        if not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


def _structure_datetime(value: object, _: type) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _structure_str_tuple(value: object, _: type) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def _non_none(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if isinstance(hint, types.UnionType) and len(args) == 1 else hint


class _Field(NamedTuple):
    """How the lenient parser reads one JSON field of a connection."""

    name: str  # the attribute
    plain: type | None  # str or bool: a value of exactly this type is taken as it is
    hook: Callable[[Any, type], Any]  # the converter's strict hook for anything else


def _lenient_connection_hook(conv: cattrs.Converter) -> Callable[[Any, type], CalendarConnection]:
    hints = typing.get_type_hints(CalendarConnection)
    by_key: dict[str, _Field] = {}
    for a in attrs.fields(CalendarConnection):
        if a.name not in ("id", "extra"):
            hint = _non_none(hints[a.name])
            plain = hint if hint in (str, bool) else None
            by_key[camel(a.name)] = _Field(a.name, plain, conv.get_structure_hook(hint))

    def structure(data: Any, _: type) -> CalendarConnection:
        if type(data) is not dict and not isinstance(data, Mapping):
            return CalendarConnection(id="")
        extra: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for key, raw in data.items():  # one pass over what the server sent
            field = by_key.get(key)
            if field is None:
                extra[key] = raw  # "id" too, sorted out below
            elif type(raw) is field.plain:
                values[field.name] = raw
            elif raw is not None:
                try:
                    values[field.name] = field.hook(raw, object)
                except (TypeError, ValueError):
                    extra[key] = raw
        conn_id = extra.pop("id", None)
        if not isinstance(conn_id, str):
            if conn_id is not None:
                extra["id"] = conn_id  # kept, as any value of the wrong type is
            conn_id = ""
        return CalendarConnection(id=conn_id, extra=extra, **values)

    return structure


def _make_update_hook() -> Callable[[Any, type], CalendarConnectionUpdate]:
    by_json = {json_name: name for name, json_name in UPDATE_FIELD_NAMES.items()}

    def structure(data: Any, _: type) -> CalendarConnectionUpdate:
        if not isinstance(data, Mapping):
            kind = type(data).__name__
            raise ArgumentTypeError("update", f"an update must be a JSON object, got {kind}")
        unknown = sorted(set(data) - set(by_json), key=str)
        if unknown:
            raise ArgumentValueError("update", _unknown_fields(unknown))
        try:
            return CalendarConnectionUpdate(**{by_json[k]: v for k, v in data.items()})
        except ArgumentError as exc:
            raise _as_written(exc) from None

    return structure


def _as_written(exc: ArgumentError) -> ArgumentError:
    """The error of a field, naming it by the key the caller wrote (its JSON name).

    The Python-only hint (``it defaults to UNSET``) is dropped: a key is left out instead.
    """
    key = UPDATE_FIELD_NAMES.get(exc.argument, exc.argument)
    return type(exc)(key, exc.template)


def _unknown_fields(unknown: list[Any]) -> str:
    """Name the unknown fields; a Python name of a known field gets its JSON name suggested."""
    named = []
    for key in unknown:
        suggestion = UPDATE_FIELD_NAMES.get(key) if isinstance(key, str) else None
        named.append(f"{key} (did you mean {suggestion}?)" if suggestion else str(key))
    return f"unknown update field(s): {', '.join(named)}"


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=False)
    conv.register_structure_hook(str, _strict(str))
    conv.register_structure_hook(bool, _strict(bool))
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _structure_str_tuple)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat().replace("+00:00", "Z"))
    conv.register_unstructure_hook(
        CalendarConnectionUpdate,
        make_dict_unstructure_fn(
            CalendarConnectionUpdate,
            conv,
            _cattrs_omit_if_default=True,
            **_update_overrides(),
        ),
    )
    conv.register_structure_hook(CalendarConnectionUpdate, _make_update_hook())
    conv.register_structure_hook(CalendarConnection, _lenient_connection_hook(conv))
    connection_renames = _renames(CalendarConnection) | {"extra": override(omit=True)}
    conv.register_unstructure_hook(
        CalendarConnection,
        make_dict_unstructure_fn(
            CalendarConnection, conv, _cattrs_omit_if_default=True, **connection_renames
        ),
    )
    return conv


converter: Final = _make_converter()
"""The SDK's converter: ``converter.unstructure(update)`` is the JSON body of a PATCH."""


_BODY_CACHE_SIZE: Final = 256
_bodies: dict[int, tuple[CalendarConnectionUpdate, bytes]] = {}


def encode_update(update: CalendarConnectionUpdate) -> bytes:
    """The JSON body of a PATCH.

    Cached: a bulk run usually sends one update object to many connections. The cache is
    keyed by the object's identity (it holds the object, so the identity is not reused),
    then by value: hashing an update's fields cost 2 us a call (issue 11's profile of a
    call without sockets, 15 us in all), and an update is frozen, so its body never changes.
    """
    entry = _bodies.get(id(update))
    if entry is not None and entry[0] is update:
        return entry[1]
    body = _encode_by_value(update)
    if len(_bodies) >= _BODY_CACHE_SIZE:
        _bodies.clear()
    _bodies[id(update)] = (update, body)
    return body


@functools.lru_cache(maxsize=_BODY_CACHE_SIZE)
def _encode_by_value(update: CalendarConnectionUpdate) -> bytes:
    return json.dumps(converter.unstructure(update), separators=(",", ":")).encode()


def update_from_dict(data: Mapping[str, Any]) -> CalendarConnectionUpdate:
    """Build an update from its camelCase JSON form, e.g. a line of a bulk input file.

    An error names a field by the key written (``selectedCalendars``), in its message and
    as its ``argument``; a key the API does not know is named as written too.

    Raises:
        TypeError: ``data`` is not a mapping, or a field has the wrong type.
        ValueError: ``data`` has a field the API does not know, or an empty calendar id.
    """
    return converter.structure(data, CalendarConnectionUpdate)


def to_dict(obj: CalendarConnection | CalendarConnectionUpdate) -> dict[str, Any]:
    """Give the camelCase JSON form of a model (``extra`` fields of a connection included)."""
    data: dict[str, Any] = converter.unstructure(obj)
    if isinstance(obj, CalendarConnection):
        data.update((k, v) for k, v in obj.extra.items() if k not in data)
    if isinstance(data.get("selectedCalendars"), tuple):
        data["selectedCalendars"] = list(data["selectedCalendars"])
    return data
