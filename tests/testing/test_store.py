"""The sandbox's own knowledge of meetergo's wire format, checked against the SDK's."""

from __future__ import annotations

import pytest

from meetergo_async import UPDATE_FIELD_NAMES, CalendarConnectionUpdate, to_dict
from meetergo_async.testing._store import PATCH_FIELDS, validate_patch


def test_the_sandbox_and_the_sdk_spell_the_fields_alike() -> None:
    # Each spells them on its own: the SDK through its converter, the sandbox from
    # meetergo's API reference. Were one to misspell a field, this fails.
    assert list(UPDATE_FIELD_NAMES.values()) == list(PATCH_FIELDS)


def test_every_field_the_sdk_sends_is_one_the_sandbox_accepts() -> None:
    update = CalendarConnectionUpdate(
        primary_calendar="primary",
        selected_calendars=["primary", "work"],
        validate_availability=True,
        cancel_if_declined_or_deleted=False,
        disable_attendee_notification=True,
        sync_buffers_to_calendar=False,
    )
    body = to_dict(update)
    assert set(body) == set(PATCH_FIELDS)
    assert validate_patch(body) == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"primary_calendar": "x"}, ["property primary_calendar should not exist"]),
        ({"validateAvailabilty": True}, ["property validateAvailabilty should not exist"]),
        ({"selectedCalendars": "primary"}, ["selectedCalendars must be an array"]),
    ],
)
def test_a_misspelt_or_mistyped_field_is_refused_as_meetergo_refuses_it(
    body: dict[str, object], errors: list[str]
) -> None:
    assert validate_patch(body) == errors
