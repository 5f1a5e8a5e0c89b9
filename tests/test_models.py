"""The request and response models: validation at construction, UNSET defaults, results."""

from __future__ import annotations

import attrs
import pytest

from meetergo_async import (
    UNSET,
    CalendarConnection,
    CalendarConnectionUpdate,
    NotFoundError,
    UpdateRequest,
    UpdateResult,
)
from meetergo_async.models import check_update

FIELDS = [a.name for a in attrs.fields(CalendarConnectionUpdate)]
FLAGS = [
    "validate_availability",
    "cancel_if_declined_or_deleted",
    "disable_attendee_notification",
    "sync_buffers_to_calendar",
]


# --- CalendarConnectionUpdate ------------------------------------------------------------


def test_update_fields_are_the_documented_ones() -> None:
    names = [a.name for a in attrs.fields(CalendarConnectionUpdate)]

    assert names == ["primary_calendar", "selected_calendars", *FLAGS]


def test_update_defaults_are_unset() -> None:
    update = CalendarConnectionUpdate()

    for name in FIELDS:
        assert getattr(update, name) is UNSET
    assert update.is_empty()


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", [True, False])
def test_update_flags_accept_bools(flag: str, value: bool) -> None:
    update = CalendarConnectionUpdate(**{flag: value})

    assert getattr(update, flag) is value
    assert not update.is_empty()
    for other in FIELDS:
        if other != flag:
            assert getattr(update, other) is UNSET


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("value", [1, 0, "true", "false", 1.0, [True], "UNSET"])
def test_update_flags_reject_non_bools(flag: str, value: object) -> None:
    with pytest.raises(TypeError, match=flag):
        CalendarConnectionUpdate(**{flag: value})


@pytest.mark.parametrize("name", FIELDS)
def test_update_rejects_none_and_says_to_leave_the_field_out(name: str) -> None:
    with pytest.raises(TypeError, match=name) as info:
        CalendarConnectionUpdate(**{name: None})

    assert "leave the field out" in str(info.value)


def test_primary_calendar_accepts_a_calendar_id() -> None:
    assert CalendarConnectionUpdate(primary_calendar="primary").primary_calendar == "primary"


@pytest.mark.parametrize(("value", "error"), [("", ValueError), ("   ", ValueError)])
def test_primary_calendar_rejects_empty_ids(value: str, error: type[Exception]) -> None:
    with pytest.raises(error, match="primary_calendar"):
        CalendarConnectionUpdate(primary_calendar=value)


@pytest.mark.parametrize("value", [5, True, b"primary", ["primary"]])
def test_primary_calendar_rejects_non_str(value: object) -> None:
    with pytest.raises(TypeError, match="primary_calendar"):
        CalendarConnectionUpdate(primary_calendar=value)


@pytest.mark.parametrize("value", [["primary", "work"], ("primary", "work")], ids=["list", "tuple"])
def test_selected_calendars_is_stored_as_a_tuple(value: list[str] | tuple[str, ...]) -> None:
    update = CalendarConnectionUpdate(selected_calendars=value)

    assert update.selected_calendars == ("primary", "work")
    assert isinstance(update.selected_calendars, tuple)


def test_selected_calendars_copies_the_callers_list() -> None:
    calendars = ["primary"]
    update = CalendarConnectionUpdate(selected_calendars=calendars)
    calendars.append("other")

    assert update.selected_calendars == ("primary",)


def test_selected_calendars_empty_list_is_a_value_not_unset() -> None:
    update = CalendarConnectionUpdate(selected_calendars=[])

    assert update.selected_calendars == ()
    assert update.selected_calendars is not UNSET
    assert not update.is_empty()


@pytest.mark.parametrize("value", ["primary", "", b"ab", {"primary"}, 5, iter(["primary"])])
def test_selected_calendars_rejects_non_sequences_and_bare_strings(value: object) -> None:
    with pytest.raises(TypeError, match="selected_calendars"):
        CalendarConnectionUpdate(selected_calendars=value)


@pytest.mark.parametrize("value", [["primary", 5], [None], [["nested"]], [True]])
def test_selected_calendars_rejects_non_str_items(value: list[object]) -> None:
    with pytest.raises(TypeError, match="selected_calendars"):
        CalendarConnectionUpdate(selected_calendars=value)


@pytest.mark.parametrize("value", [[""], ["primary", "  "]])
def test_selected_calendars_rejects_empty_ids(value: list[str]) -> None:
    with pytest.raises(ValueError, match="selected_calendars"):
        CalendarConnectionUpdate(selected_calendars=value)


def test_update_is_keyword_only_and_frozen() -> None:
    with pytest.raises(TypeError):
        CalendarConnectionUpdate("primary")  # type: ignore[misc]
    update = CalendarConnectionUpdate(validate_availability=True)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        update.validate_availability = False  # type: ignore[misc]


def test_evolve_revalidates() -> None:
    update = CalendarConnectionUpdate(validate_availability=True)

    with pytest.raises(TypeError, match="validate_availability"):
        attrs.evolve(update, validate_availability="no")


def test_updates_compare_by_value() -> None:
    a = CalendarConnectionUpdate(selected_calendars=["x"], sync_buffers_to_calendar=False)
    b = CalendarConnectionUpdate(selected_calendars=("x",), sync_buffers_to_calendar=False)

    assert a == b
    assert a != CalendarConnectionUpdate(selected_calendars=["x"])


def test_check_update() -> None:
    update = CalendarConnectionUpdate(primary_calendar="primary")

    assert check_update(update) is update
    with pytest.raises(ValueError, match="no field set"):
        check_update(CalendarConnectionUpdate())
    with pytest.raises(TypeError, match="update"):
        check_update({"primaryCalendar": "primary"})


# --- CalendarConnection ------------------------------------------------------------------


def test_connection_defaults() -> None:
    conn = CalendarConnection(id="c1")

    assert conn.id == "c1"
    for a in attrs.fields(CalendarConnection):
        if a.name not in ("id", "extra"):
            assert getattr(conn, a.name) is None, a.name
    assert conn.extra == {}


def test_connection_extra_is_not_shared_between_instances() -> None:
    assert CalendarConnection(id="a").extra is not CalendarConnection(id="b").extra


def test_connection_is_hashable_despite_extra() -> None:
    conn = CalendarConnection(id="c1", extra={"k": [1]})

    assert hash(conn) == hash(CalendarConnection(id="c1", extra={"other": 2}))
    assert conn != CalendarConnection(id="c1", extra={"other": 2})


# --- UpdateRequest -----------------------------------------------------------------------

UPDATE = CalendarConnectionUpdate(validate_availability=True)


def test_update_request_holds_its_values() -> None:
    request = UpdateRequest("c1", UPDATE, "owner-1", "user-2")

    assert request.connection_id == "c1"
    assert request.update is UPDATE
    assert request.owner_user_id == "owner-1"
    assert request.as_user == "user-2"
    assert UpdateRequest("c1", UPDATE).owner_user_id is None
    assert UpdateRequest("c1", UPDATE).as_user is None


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"connection_id": ""}, ValueError, "connection_id"),
        ({"connection_id": "  "}, ValueError, "connection_id"),
        ({"connection_id": "a\nb"}, ValueError, "connection_id"),
        ({"connection_id": 5}, TypeError, "connection_id"),
        ({"connection_id": None}, TypeError, "connection_id"),
        ({"update": CalendarConnectionUpdate()}, ValueError, "update"),
        ({"update": {"validateAvailability": True}}, TypeError, "update"),
        ({"owner_user_id": ""}, ValueError, "owner_user_id"),
        ({"owner_user_id": "a\r\nb"}, ValueError, "owner_user_id"),
        ({"owner_user_id": 1}, TypeError, "owner_user_id"),
        ({"as_user": " "}, ValueError, "as_user"),
        ({"as_user": "u\x00"}, ValueError, "as_user"),
        ({"as_user": b"u"}, TypeError, "as_user"),
    ],
)
def test_update_request_validates(
    kwargs: dict[str, object], error: type[Exception], name: str
) -> None:
    values: dict[str, object] = {"connection_id": "c1", "update": UPDATE} | kwargs

    with pytest.raises(error, match=name):
        UpdateRequest(**values)  # type: ignore[arg-type]


# --- UpdateResult ------------------------------------------------------------------------


def test_update_result_ok() -> None:
    success = UpdateResult(0, "c1", connection=CalendarConnection(id="c1"), attempts=1)
    failure = UpdateResult(1, "c2", error=NotFoundError("missing", status=404), attempts=1)
    invalid = UpdateResult(2, None, error=ValueError("bad"))

    assert success.ok
    assert not failure.ok
    assert not invalid.ok
    assert invalid.attempts == 0
    assert invalid.connection is None
