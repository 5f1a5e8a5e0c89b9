"""Property-based tests: the wire format round-trips, paths stay one segment, parsers never fail."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

import attrs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from meetergo_async import UNSET, CalendarConnection, CalendarConnectionUpdate
from meetergo_async._http import connection_path, parse_retry_after
from meetergo_async._results import parse_connection
from meetergo_async._serde import camel, converter, to_dict, update_from_dict
from meetergo_async._validate import check_text

PREFIX = "/v4/calendar-connections/connections/"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

calendar_ids = st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != "")
flags = st.one_of(st.just(UNSET), st.booleans())
updates = st.builds(
    CalendarConnectionUpdate,
    primary_calendar=st.one_of(st.just(UNSET), calendar_ids),
    selected_calendars=st.one_of(
        st.just(UNSET),
        st.lists(calendar_ids, max_size=5),
        st.lists(calendar_ids, max_size=5).map(tuple),
    ),
    validate_availability=flags,
    cancel_if_declined_or_deleted=flags,
    disable_attendee_notification=flags,
    sync_buffers_to_calendar=flags,
)


@SETTINGS
@given(updates)
def test_update_round_trips_through_its_json_form(update: CalendarConnectionUpdate) -> None:
    data = converter.unstructure(update)

    set_fields = {
        camel(a.name)
        for a in attrs.fields(CalendarConnectionUpdate)
        if getattr(update, a.name) is not UNSET
    }
    assert set(data) == set_fields
    assert UNSET not in data.values()
    assert update_from_dict(data) == update
    assert update_from_dict(to_dict(update)) == update


def _passes_check_text(value: str) -> bool:
    try:
        check_text("connection_id", value)
    except (TypeError, ValueError):
        return False
    return True


tricky_ids = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.sampled_from("./?#%2Fa ä&=+;~"), min_size=1, max_size=12),
    st.sampled_from([".", "..", "...", "./", "../", "%2E", "%2e%2E", "a/../b"]),
)


@SETTINGS
@given(tricky_ids)
def test_connection_path_is_one_segment_that_decodes_to_the_id(connection_id: str) -> None:
    assume(_passes_check_text(connection_id))

    path = connection_path(connection_id)

    assert path.startswith(PREFIX)
    segment = path[len(PREFIX) :]
    assert segment
    assert not set(segment) & set("/?#")
    assert segment not in (".", "..")
    assert unquote(segment) == connection_id


header_names = st.one_of(
    st.sampled_from(
        [
            "Retry-After",
            "retry-after",
            "RETRY-AFTER",
            "retry-after-ms",
            "Retry-After-short",
            "retry-after-long",
            "X-RateLimit-Reset",
        ]
    ),
    st.text(max_size=20),
)
header_values = st.one_of(
    st.text(max_size=40),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: format_datetime(d, usegmt=True)),
    st.sampled_from(["nan", "inf", "-inf", "1e309", "-0", "", " ", "tomorrow"]),
)
header_lists = st.lists(st.tuples(header_names, header_values), max_size=6)
nows = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)


@SETTINGS
@given(header_lists, nows)
def test_parse_retry_after_never_raises_and_is_finite_and_non_negative(
    headers: list[tuple[str, str]], now: datetime | None
) -> None:
    for form in (headers, dict(headers)):
        wait = parse_retry_after(form, now=now)

        if wait is not None:
            assert isinstance(wait, float)
            assert math.isfinite(wait)
            assert wait >= 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
connection_keys = st.sampled_from(
    [
        "id",
        "provider",
        "email",
        "isPrimary",
        "isConnected",
        "primaryCalendar",
        "selectedCalendars",
        "validateAvailability",
        "cancelIfDeclinedOrDeleted",
        "disableAttendeeNotification",
        "syncBuffersToCalendar",
        "createdAt",
        "updatedAt",
        "other",
    ]
)
bodies: st.SearchStrategy[Any] = st.one_of(
    json_values, st.dictionaries(connection_keys, json_values, max_size=8)
)


@settings(SETTINGS, max_examples=100)
@given(bodies)
def test_parse_connection_never_raises_and_always_has_a_string_id(body: Any) -> None:
    conn = parse_connection(body, "fallback")

    assert isinstance(conn, CalendarConnection)
    assert isinstance(conn.id, str)
    assert conn.id
    if isinstance(body, dict) and isinstance(body.get("id"), str) and body["id"]:
        assert conn.id == body["id"]
    else:
        assert conn.id == "fallback"


def _acceptable_text(value: str) -> bool:
    """The rule ``check_text`` documents, written out plainly."""
    if not value.strip() or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@SETTINGS
@given(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),  # the fast path
        st.text(max_size=12),
        st.sampled_from([" ", "\t", "\u00a0", "\u2028", "a\u0085b", "\ud800", "ok", "é"]),
    )
)
def test_check_text_accepts_exactly_non_blank_text_without_control_characters(
    value: str,
) -> None:
    assert _passes_check_text(value) == _acceptable_text(value)
