"""The one converter: camelCase requests without unset fields, lenient responses (read by
``_results.parse_connection``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from meetergo_async import (
    UNSET,
    ArgumentTypeError,
    ArgumentValueError,
    CalendarConnection,
    CalendarConnectionUpdate,
)
from meetergo_async._results import parse_connection
from meetergo_async._serde import camel, converter, encode_update, to_dict, update_from_dict

DOCUMENTED = {
    "id": "conn-uuid",
    "provider": "google",
    "email": "a@example.com",
    "isPrimary": True,
    "isConnected": True,
    "selectedCalendars": ["primary", "work-calendar"],
    "createdAt": "2023-11-07T05:31:56Z",
    "updatedAt": "2023-11-07T05:31:56Z",
}
FULL = DOCUMENTED | {
    "primaryCalendar": "primary",
    "validateAvailability": False,
    "cancelIfDeclinedOrDeleted": True,
    "disableAttendeeNotification": False,
    "syncBuffersToCalendar": True,
}
TS = datetime(2023, 11, 7, 5, 31, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("id", "id"),
        ("primary_calendar", "primaryCalendar"),
        ("cancel_if_declined_or_deleted", "cancelIfDeclinedOrDeleted"),
        ("sync_buffers_to_calendar", "syncBuffersToCalendar"),
    ],
)
def test_camel(name: str, expected: str) -> None:
    assert camel(name) == expected


# --- requests ----------------------------------------------------------------------------


def test_unstructure_an_empty_update_is_an_empty_object() -> None:
    assert converter.unstructure(CalendarConnectionUpdate()) == {}


def test_unstructure_every_field_in_camel_case() -> None:
    update = CalendarConnectionUpdate(
        primary_calendar="primary",
        selected_calendars=["primary", "work"],
        validate_availability=True,
        cancel_if_declined_or_deleted=False,
        disable_attendee_notification=True,
        sync_buffers_to_calendar=False,
    )

    body = converter.unstructure(update)

    assert json.loads(json.dumps(body)) == {
        "primaryCalendar": "primary",
        "selectedCalendars": ["primary", "work"],
        "validateAvailability": True,
        "cancelIfDeclinedOrDeleted": False,
        "disableAttendeeNotification": True,
        "syncBuffersToCalendar": False,
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"validate_availability": False}, {"validateAvailability": False}),
        ({"sync_buffers_to_calendar": True}, {"syncBuffersToCalendar": True}),
        ({"primary_calendar": "cal-1"}, {"primaryCalendar": "cal-1"}),
        ({"selected_calendars": []}, {"selectedCalendars": []}),
        (
            {"selected_calendars": ("a",), "disable_attendee_notification": False},
            {"selectedCalendars": ["a"], "disableAttendeeNotification": False},
        ),
    ],
)
def test_unstructure_sends_only_the_set_fields(
    kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    update = CalendarConnectionUpdate(**kwargs)

    body = converter.unstructure(update)

    assert json.loads(json.dumps(body)) == expected
    assert "UNSET" not in json.dumps(body)
    assert to_dict(update) == expected


def test_empty_selected_calendars_serializes_as_an_empty_json_list() -> None:
    update = CalendarConnectionUpdate(selected_calendars=[])

    assert json.dumps(converter.unstructure(update)) == '{"selectedCalendars": []}'
    assert to_dict(update) == {"selectedCalendars": []}
    assert isinstance(to_dict(update)["selectedCalendars"], list)


def test_encode_update_is_the_compact_json_of_the_set_fields() -> None:
    update = CalendarConnectionUpdate(selected_calendars=["a", "b"], validate_availability=False)

    body = encode_update(update)

    assert body == b'{"selectedCalendars":["a","b"],"validateAvailability":false}'
    assert json.loads(body) == to_dict(update)


def test_encode_update_encodes_equal_updates_once() -> None:
    first = CalendarConnectionUpdate(primary_calendar="cache-check", sync_buffers_to_calendar=True)
    again = CalendarConnectionUpdate(primary_calendar="cache-check", sync_buffers_to_calendar=True)
    other = CalendarConnectionUpdate(primary_calendar="cache-check", sync_buffers_to_calendar=False)

    assert again is not first
    assert encode_update(again) is encode_update(first)
    assert encode_update(other) != encode_update(first)
    assert json.loads(encode_update(other))["syncBuffersToCalendar"] is False


# --- update_from_dict --------------------------------------------------------------------


def test_update_from_dict_reads_camel_case() -> None:
    update = update_from_dict(
        {
            "primaryCalendar": "primary",
            "selectedCalendars": ["a", "b"],
            "validateAvailability": True,
            "cancelIfDeclinedOrDeleted": False,
            "disableAttendeeNotification": True,
            "syncBuffersToCalendar": False,
        }
    )

    assert update == CalendarConnectionUpdate(
        primary_calendar="primary",
        selected_calendars=("a", "b"),
        validate_availability=True,
        cancel_if_declined_or_deleted=False,
        disable_attendee_notification=True,
        sync_buffers_to_calendar=False,
    )


def test_update_from_dict_leaves_missing_fields_unset() -> None:
    update = update_from_dict({"validateAvailability": False})

    assert update.validate_availability is False
    assert update.primary_calendar is UNSET
    assert update.selected_calendars is UNSET
    assert update.sync_buffers_to_calendar is UNSET


def test_update_from_dict_of_an_empty_object_is_an_empty_update() -> None:
    assert update_from_dict({}).is_empty()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"validateAvailabilty": True}, "validateAvailabilty"),
        ({"validate_availability": True}, "validate_availability"),
        ({"primaryCalendar": "p", "colour": "red"}, "colour"),
        ({"id": "c1"}, "id"),
    ],
)
def test_update_from_dict_names_unknown_keys(data: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        update_from_dict(data)


def test_update_from_dict_unknown_keys_of_mixed_types_are_a_value_error() -> None:
    # Non-str keys are unknown fields too: the error must still be the documented ValueError.
    with pytest.raises(ValueError, match="colour"):
        update_from_dict({1: True, "colour": "red"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    "data",
    [
        {"validateAvailability": "true"},
        {"validateAvailability": 1},
        {"syncBuffersToCalendar": None},
        {"selectedCalendars": "primary"},
        {"selectedCalendars": ["a", 2]},
        {"primaryCalendar": 7},
        {"primaryCalendar": "p", "selectedCalendars": ("a", None)},
    ],
)
def test_update_from_dict_rejects_wrong_types_naming_the_key_written(data: dict[str, Any]) -> None:
    *_, key = data  # the field at fault is the last one
    with pytest.raises(ArgumentTypeError) as info:
        update_from_dict(data)

    assert info.value.argument == key
    assert str(info.value).startswith(f"{key} ")
    assert "UNSET" not in str(info.value)  # a Python-only hint: a key is left out instead


def test_update_from_dict_names_a_snake_case_key_as_written() -> None:
    with pytest.raises(ArgumentValueError) as info:
        update_from_dict({"selected_calendars": "primary"})

    assert str(info.value) == (
        "unknown update field(s): selected_calendars (did you mean selectedCalendars?)"
    )


@pytest.mark.parametrize("data", [[("validateAvailability", True)], "x", None, 5])
def test_update_from_dict_rejects_non_objects(data: Any) -> None:
    with pytest.raises(TypeError):
        update_from_dict(data)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"primaryCalendar": ""}, "primaryCalendar"),
        ({"selectedCalendars": [" "]}, "selectedCalendars"),
    ],
)
def test_update_from_dict_rejects_empty_calendar_ids(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ArgumentValueError) as info:
        update_from_dict(data)

    assert info.value.argument == key
    assert str(info.value) == f"{key} must not hold an empty calendar id"


# --- parse_connection --------------------------------------------------------------------


def test_parse_documented_connection() -> None:
    conn = parse_connection(DOCUMENTED, "fallback")

    assert conn == CalendarConnection(
        id="conn-uuid",
        provider="google",
        email="a@example.com",
        is_primary=True,
        is_connected=True,
        selected_calendars=("primary", "work-calendar"),
        created_at=TS,
        updated_at=TS,
    )
    assert conn.created_at is not None
    assert conn.created_at.tzinfo is not None
    assert conn.created_at.utcoffset() == timedelta(0)
    assert conn.extra == {}


def test_parse_connection_with_the_patch_fields() -> None:
    conn = parse_connection(FULL, "fallback")

    assert conn.primary_calendar == "primary"
    assert conn.validate_availability is False
    assert conn.cancel_if_declined_or_deleted is True
    assert conn.disable_attendee_notification is False
    assert conn.sync_buffers_to_calendar is True
    assert conn.extra == {}


def test_parse_connection_keeps_offsets() -> None:
    conn = parse_connection({"id": "c", "updatedAt": "2024-03-01T10:00:00.123+02:00"}, "f")

    assert conn.updated_at == datetime(
        2024, 3, 1, 10, 0, 0, 123000, tzinfo=timezone(timedelta(hours=2))
    )
    assert conn.updated_at is not None
    assert conn.updated_at.utcoffset() == timedelta(hours=2)


def test_parse_connection_naive_datetime_is_utc() -> None:
    conn = parse_connection({"id": "c", "createdAt": "2023-11-07T05:31:56"}, "f")

    assert conn.created_at == TS
    assert conn.created_at is not None
    assert conn.created_at.tzinfo is not None


def test_parse_connection_keeps_unknown_fields_in_extra() -> None:
    conn = parse_connection(DOCUMENTED | {"calendarName": "Work", "nested": {"a": [1]}}, "f")

    assert conn.id == "conn-uuid"
    assert conn.extra == {"calendarName": "Work", "nested": {"a": [1]}}


def test_parse_connection_does_not_guess_snake_case_keys() -> None:
    conn = parse_connection({"id": "c", "is_primary": True}, "f")

    assert conn.is_primary is None
    assert conn.extra == {"is_primary": True}


@pytest.mark.parametrize(
    ("key", "name", "raw"),
    [
        ("provider", "provider", 5),
        ("email", "email", ["a@example.com"]),
        ("isPrimary", "is_primary", "yes"),
        ("isConnected", "is_connected", 1),
        ("primaryCalendar", "primary_calendar", False),
        ("selectedCalendars", "selected_calendars", "primary"),
        ("selectedCalendars", "selected_calendars", ["primary", 2]),
        ("selectedCalendars", "selected_calendars", {"primary": True}),
        ("validateAvailability", "validate_availability", "true"),
        ("cancelIfDeclinedOrDeleted", "cancel_if_declined_or_deleted", 0),
        ("disableAttendeeNotification", "disable_attendee_notification", {}),
        ("syncBuffersToCalendar", "sync_buffers_to_calendar", 1.0),
        ("createdAt", "created_at", "not a date"),
        ("createdAt", "created_at", 1699335116),
        ("updatedAt", "updated_at", "2023-13-45T99:99:99Z"),
    ],
)
def test_parse_connection_wrong_type_becomes_none_with_raw_in_extra(
    key: str, name: str, raw: object
) -> None:
    conn = parse_connection(DOCUMENTED | {key: raw}, "f")

    assert getattr(conn, name) is None
    assert conn.extra == {key: raw}
    assert conn.id == "conn-uuid"
    assert conn.provider == ("google" if key != "provider" else None)


def test_parse_connection_null_fields_are_none_and_not_extra() -> None:
    conn = parse_connection({"id": "c", "email": None, "isPrimary": None}, "f")

    assert conn.email is None
    assert conn.is_primary is None
    assert conn.extra == {}


@pytest.mark.parametrize("body", [None, [], [DOCUMENTED], "conn-uuid", 5, True, {}])
def test_parse_connection_without_an_object_with_an_id_uses_the_fallback(body: object) -> None:
    conn = parse_connection(body, "requested-id")

    assert conn.id == "requested-id"
    assert conn.provider is None


@pytest.mark.parametrize("bad_id", [5, None, "", ["conn"], {"id": "x"}])
def test_parse_connection_with_an_unusable_id_uses_the_fallback(bad_id: object) -> None:
    conn = parse_connection({"id": bad_id, "provider": "outlook"}, "requested-id")

    assert conn.id == "requested-id"
    assert conn.provider == "outlook"
    if bad_id not in (None, ""):
        assert conn.extra == {"id": bad_id}


def test_parse_connection_keeps_an_open_provider_string() -> None:
    assert parse_connection({"id": "c", "provider": "smart-we"}, "f").provider == "smart-we"


def test_converter_structure_of_a_connection_never_raises_on_odd_input() -> None:
    weird: list[object] = [{1: 2}, {"id": "c", "createdAt": "9" * 50}, {"id": "c", "email": b"x"}]

    for data in weird:
        assert isinstance(parse_connection(data, "f"), CalendarConnection)


# --- to_dict -----------------------------------------------------------------------------


def test_to_dict_of_a_parsed_connection_gives_the_json_back() -> None:
    assert to_dict(parse_connection(FULL, "f")) == FULL


def test_to_dict_includes_extra_and_bad_raw_values() -> None:
    data = DOCUMENTED | {"calendarName": "Work", "isPrimary": "yes"}

    assert to_dict(parse_connection(data, "f")) == data


def test_to_dict_omits_absent_fields_and_keeps_false() -> None:
    conn = CalendarConnection(id="c1", is_connected=False, selected_calendars=())

    assert to_dict(conn) == {"id": "c1", "isConnected": False, "selectedCalendars": []}


def test_to_dict_writes_datetimes_as_iso_8601() -> None:
    offset = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    conn = CalendarConnection(id="c1", created_at=TS, updated_at=offset)

    data = to_dict(conn)

    assert data["createdAt"] == "2023-11-07T05:31:56Z"
    assert datetime.fromisoformat(data["updatedAt"]) == offset
    assert json.loads(json.dumps(data)) == data


def test_to_dict_known_fields_win_over_extra() -> None:
    conn = CalendarConnection(id="c1", provider="google", extra={"provider": "x", "k": 1})

    assert to_dict(conn) == {"id": "c1", "provider": "google", "k": 1}
