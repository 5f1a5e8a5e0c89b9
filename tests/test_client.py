"""MeetergoClient against aioresponses: construction, requests, lifecycle, errors, secrets."""

from __future__ import annotations

import gc
import json
import logging
import re
import warnings
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from multidict import CIMultiDict
from yarl import URL

import meetergo_async
from meetergo_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CalendarConnection,
    CalendarConnectionUpdate,
    ConflictError,
    MeetergoClient,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime

PREFIX = "/v4/calendar-connections/connections"
CONN_URL = f"{BASE_URL}{PREFIX}/conn-1"
LIST_URL = f"{BASE_URL}{PREFIX}"
USER_HEADER = "x-meetergo-api-user-id"
USER_AGENT = f"meetergo-async/{meetergo_async.__version__}"
SECRET_PART = API_KEY.rsplit(":", 1)[1]
PAT = "rgo-" + "a" * 32
UPDATE = CalendarConnectionUpdate(validate_availability=True)
ONCE = RetryPolicy(max_attempts=1)
ENV_NAMES = ("MEETERGO_API_KEY", "MEETERGO_USER_ID", "MEETERGO_BASE_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def make_client(fake_time: FakeTime | None = None, **kwargs: Any) -> MeetergoClient:
    time = fake_time or FakeTime()
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "user_id": USER_ID,
        "base_url": BASE_URL,
        "rate_limit": None,
        "retry": ONCE,
        "clock": time.clock,
        "sleep": time.sleep,
    } | kwargs
    return MeetergoClient(**options)


def calls(mock_api: Any) -> list[tuple[str, URL, Any]]:
    """Every request aioresponses saw: (method, url, call)."""
    return [(m, url, call) for (m, url), made in mock_api.requests.items() for call in made]


def request_count(mock_api: Any) -> int:
    return len(calls(mock_api))


def headers_of(call: Any) -> CIMultiDict[str]:
    return CIMultiDict(call.kwargs["headers"])


def only_call(mock_api: Any) -> tuple[str, URL, Any]:
    made = calls(mock_api)
    assert len(made) == 1
    return made[0]


def status_error(status: int) -> type[APIStatusError]:
    return {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        406: PlanLimitError,
        409: ConflictError,
        429: RateLimitError,
    }.get(status, ServerError if status >= 500 else APIStatusError)


# --- constructor and environment ---------------------------------------------------------


async def test_api_key_user_id_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, mock_api: Any
) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", API_KEY)
    monkeypatch.setenv("MEETERGO_USER_ID", "env-user")
    monkeypatch.setenv("MEETERGO_BASE_URL", "https://env.test.invalid")
    mock_api.patch(f"https://env.test.invalid{PREFIX}/conn-1", payload={"id": "conn-1"})

    async with MeetergoClient(rate_limit=None, retry=ONCE) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, call = only_call(mock_api)
    assert url.host == "env.test.invalid"
    assert headers_of(call)["Authorization"] == f"Bearer {API_KEY}"
    assert headers_of(call)[USER_HEADER] == "env-user"


async def test_explicit_arguments_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, mock_api: Any
) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", "ak_live:env:env-secret")
    monkeypatch.setenv("MEETERGO_USER_ID", "env-user")
    monkeypatch.setenv("MEETERGO_BASE_URL", "https://env.test.invalid")
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, call = only_call(mock_api)
    assert url.host == URL(BASE_URL).host
    assert headers_of(call)["Authorization"] == f"Bearer {API_KEY}"
    assert headers_of(call)[USER_HEADER] == USER_ID


async def test_default_base_url_is_meetergos_production_host(mock_api: Any) -> None:
    assert meetergo_async.DEFAULT_BASE_URL == "https://api.meetergo.com"
    mock_api.patch(f"https://api.meetergo.com{PREFIX}/conn-1", payload={"id": "conn-1"})

    async with make_client(base_url=None) as client:
        assert "https://api.meetergo.com" in repr(client)
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, _ = only_call(mock_api)
    assert str(url) == f"https://api.meetergo.com{PREFIX}/conn-1"


@pytest.mark.parametrize("base_url", [f"{BASE_URL}/", f"{BASE_URL}//"])
async def test_trailing_slashes_of_the_base_url_are_dropped(base_url: str, mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client(base_url=base_url) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, _ = only_call(mock_api)
    assert url.raw_path == f"{PREFIX}/conn-1"


async def test_base_url_may_carry_a_path_prefix(mock_api: Any) -> None:
    mock_api.patch(f"{BASE_URL}/sandbox{PREFIX}/conn-1", payload={"id": "conn-1"})

    async with make_client(base_url=f"{BASE_URL}/sandbox/") as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, _ = only_call(mock_api)
    assert url.raw_path == f"/sandbox{PREFIX}/conn-1"


def test_no_api_key_anywhere_is_a_value_error_naming_the_env_var() -> None:
    with pytest.raises(ValueError, match="MEETERGO_API_KEY"):
        MeetergoClient(user_id=USER_ID)


def test_platform_key_takes_the_user_id_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEETERGO_USER_ID", USER_ID)

    assert USER_ID in repr(MeetergoClient(API_KEY))


def test_personal_access_token_with_a_user_id_is_refused() -> None:
    with pytest.raises(ValueError, match="personal access token"):
        MeetergoClient(PAT, user_id=USER_ID)


def test_personal_access_token_with_a_user_id_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEETERGO_USER_ID", USER_ID)

    with pytest.raises(ValueError, match="MEETERGO_USER_ID"):
        MeetergoClient(PAT)


async def test_personal_access_token_sends_no_user_header(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client(api_key=PAT, user_id=None) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, _, call = only_call(mock_api)
    assert headers_of(call)["Authorization"] == f"Bearer {PAT}"
    assert USER_HEADER not in headers_of(call)


@pytest.mark.parametrize("user_id", [None, "user-9"])
@pytest.mark.parametrize("token", ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "oauth-access-1"])
async def test_other_bearer_tokens_work_with_or_without_a_user_id(
    token: str, user_id: str | None, mock_api: Any
) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client(api_key=token, user_id=user_id) as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, _, call = only_call(mock_api)
    assert headers_of(call)["Authorization"] == f"Bearer {token}"
    assert headers_of(call).get(USER_HEADER) == user_id


# --- what is sent ------------------------------------------------------------------------


async def test_patch_sends_the_credential_user_agent_user_and_json_body(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    method, url, call = only_call(mock_api)
    headers = headers_of(call)
    assert method == "PATCH"
    assert str(url) == CONN_URL
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers[USER_HEADER] == USER_ID
    assert headers["User-Agent"] == USER_AGENT
    assert headers["Content-Type"] == "application/json"
    assert call.kwargs["allow_redirects"] is False


async def test_get_sends_no_content_type(mock_api: Any) -> None:
    mock_api.get(LIST_URL, payload={"connections": [], "total": 0})

    async with make_client() as client:
        await client.list_calendar_connections()

    method, _, call = only_call(mock_api)
    headers = headers_of(call)
    assert method == "GET"
    assert "Content-Type" not in headers
    assert call.kwargs.get("data") is None
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers[USER_HEADER] == USER_ID
    assert headers["User-Agent"] == USER_AGENT


@pytest.mark.parametrize(
    ("update", "body"),
    [
        (CalendarConnectionUpdate(validate_availability=False), {"validateAvailability": False}),
        (CalendarConnectionUpdate(selected_calendars=[]), {"selectedCalendars": []}),
        (
            CalendarConnectionUpdate(
                primary_calendar="primary",
                selected_calendars=["primary", "work"],
                cancel_if_declined_or_deleted=True,
                disable_attendee_notification=False,
                sync_buffers_to_calendar=True,
            ),
            {
                "primaryCalendar": "primary",
                "selectedCalendars": ["primary", "work"],
                "cancelIfDeclinedOrDeleted": True,
                "disableAttendeeNotification": False,
                "syncBuffersToCalendar": True,
            },
        ),
    ],
)
async def test_patch_body_holds_exactly_the_set_fields(
    update: CalendarConnectionUpdate, body: dict[str, Any], mock_api: Any
) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", update)

    _, _, call = only_call(mock_api)
    assert json.loads(call.kwargs["data"]) == body


async def test_owner_user_id_is_the_encoded_user_id_query_parameter(mock_api: Any) -> None:
    owner = "owner 1&admin=true/x?#"
    mock_api.patch(re.compile(re.escape(CONN_URL) + r"\?.*"), payload={"id": "conn-1"})
    mock_api.get(re.compile(re.escape(LIST_URL) + r"\?.*"), payload={"connections": []})

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", UPDATE, owner_user_id=owner)
        await client.list_calendar_connections(owner_user_id=owner)

    made = calls(mock_api)
    assert [m for m, _, _ in made] == ["PATCH", "GET"]
    for _, url, _ in made:
        assert list(url.query.items()) == [("userId", owner)]
    assert made[0][1].path == f"{PREFIX}/conn-1"


async def test_no_query_string_without_owner_user_id(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", UPDATE)

    _, url, _ = only_call(mock_api)
    assert url.query_string == ""


async def test_as_user_replaces_the_user_header_for_one_call_only(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"}, repeat=True)
    mock_api.get(LIST_URL, payload={"connections": []}, repeat=True)

    async with make_client() as client:
        await client.update_calendar_connection("conn-1", UPDATE, as_user="other-user")
        await client.update_calendar_connection("conn-1", UPDATE)
        await client.list_calendar_connections(as_user="third-user")
        await client.list_calendar_connections()

    patches = mock_api.requests[("PATCH", URL(CONN_URL))]
    gets = mock_api.requests[("GET", URL(LIST_URL))]
    assert [headers_of(c)[USER_HEADER] for c in patches] == ["other-user", USER_ID]
    assert [headers_of(c)[USER_HEADER] for c in gets] == ["third-user", USER_ID]
    assert all(len(headers_of(c).getall(USER_HEADER)) == 1 for c in [*patches, *gets])


async def test_as_user_works_for_a_token_without_a_default_user(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"}, repeat=True)

    async with make_client(api_key="oauth-token", user_id=None) as client:
        await client.update_calendar_connection("conn-1", UPDATE, as_user="u-5")
        await client.update_calendar_connection("conn-1", UPDATE)

    made = mock_api.requests[("PATCH", URL(CONN_URL))]
    assert headers_of(made[0])[USER_HEADER] == "u-5"
    assert USER_HEADER not in headers_of(made[1])


async def test_as_user_with_a_personal_access_token_is_refused_before_sending(
    mock_api: Any,
) -> None:
    async with make_client(api_key=PAT, user_id=None) as client:
        with pytest.raises(ValueError, match="as_user"):
            await client.update_calendar_connection("conn-1", UPDATE, as_user="other")
        with pytest.raises(ValueError, match="as_user"):
            await client.list_calendar_connections(as_user="other")

    assert mock_api.requests == {}


@pytest.mark.parametrize(
    "connection_id", ["a/b", "../x", "..", ".", "a?b#c", "ä ö", "%2F", "x/../../admin"]
)
async def test_tricky_ids_reach_the_server_as_one_segment(
    connection_id: str, mock_api: Any
) -> None:
    mock_api.patch(re.compile(re.escape(LIST_URL) + "/.*"), payload={"id": connection_id})

    async with make_client() as client:
        conn = await client.update_calendar_connection(connection_id, UPDATE)

    _, url, _ = only_call(mock_api)
    assert url.host == URL(BASE_URL).host
    assert url.raw_path.startswith(PREFIX + "/")
    segment = url.raw_path[len(PREFIX) + 1 :]
    assert not set(segment) & set("/?#")
    assert segment not in (".", "..")
    assert unquote(segment) == connection_id
    assert url.query_string == ""
    assert conn.id == connection_id


async def test_per_call_timeout_reaches_the_request(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"}, repeat=True)

    async with make_client(timeout=12) as client:
        await client.update_calendar_connection("conn-1", UPDATE)
        await client.update_calendar_connection("conn-1", UPDATE, timeout=2.5)

    made = mock_api.requests[("PATCH", URL(CONN_URL))]
    assert [c.kwargs["timeout"].total for c in made] == [12.0, 2.5]


# --- responses ---------------------------------------------------------------------------


async def test_update_returns_the_parsed_connection(mock_api: Any) -> None:
    mock_api.patch(
        CONN_URL,
        payload={
            "id": "conn-1",
            "provider": "google",
            "validateAvailability": True,
            "selectedCalendars": ["primary"],
            "createdAt": "2023-11-07T05:31:56Z",
            "newField": 1,
        },
    )

    async with make_client() as client:
        conn = await client.update_calendar_connection("conn-1", UPDATE)

    assert conn.id == "conn-1"
    assert conn.provider == "google"
    assert conn.validate_availability is True
    assert conn.selected_calendars == ("primary",)
    assert conn.created_at is not None
    assert conn.created_at.year == 2023
    assert conn.extra == {"newField": 1}


async def test_list_parses_connections_and_skips_entries_without_a_string_id(
    mock_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mock_api.get(
        LIST_URL,
        payload={
            "connections": [
                {"id": "c1", "provider": "google", "isPrimary": True},
                {"provider": "outlook"},
                {"id": 7, "provider": "icloud"},
                "c3",
                None,
                {"id": "c2", "provider": "caldav", "email": "b@example.com"},
            ],
            "total": 6,
        },
    )

    with caplog.at_level(logging.WARNING, logger="meetergo_async"):
        async with make_client() as client:
            connections = await client.list_calendar_connections()

    assert [(c.id, c.provider) for c in connections] == [("c1", "google"), ("c2", "caldav")]
    assert connections[0].is_primary is True
    assert connections[1].email == "b@example.com"
    assert any(r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize("payload", [{"connections": []}, {"total": 0}, {}])
async def test_list_without_connections_is_empty(payload: dict[str, Any], mock_api: Any) -> None:
    mock_api.get(LIST_URL, payload=payload)

    async with make_client() as client:
        assert await client.list_calendar_connections() == []


@pytest.mark.parametrize(
    ("body", "content_type", "malformed"),
    [
        (b"", "application/json", False),
        (b"{}", "application/json", False),
        (b"null", "application/json", False),
        (b"[]", "application/json", True),
        (b'"str"', "application/json", True),
        (b"42", "application/json", True),
        (b"<html><body>OK</body></html>", "text/html", True),
        (b'{"id": "\xff\xfe"}', "application/json", True),
        (b'{"id": "conn-', "application/json", True),
    ],
)
async def test_lenient_2xx_bodies_give_the_requested_id(
    body: bytes,
    content_type: str,
    malformed: bool,
    mock_api: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_api.patch(CONN_URL, body=body, content_type=content_type)

    with caplog.at_level(logging.WARNING, logger="meetergo_async"):
        async with make_client() as client:
            conn = await client.update_calendar_connection("conn-1", UPDATE)

    assert conn == CalendarConnection(id="conn-1")
    warned = [
        r
        for r in caplog.records
        if r.name.partition(".")[0] == "meetergo_async" and r.levelno == logging.WARNING
    ]
    if malformed:
        assert warned
    assert request_count(mock_api) == 1


@pytest.mark.parametrize("status", [200, 201, 204])
async def test_any_2xx_is_a_success(status: int, mock_api: Any) -> None:
    mock_api.patch(CONN_URL, status=status, body=b"")

    async with make_client() as client:
        conn = await client.update_calendar_connection("conn-1", UPDATE)

    assert conn.id == "conn-1"


async def test_2xx_with_a_deeply_nested_body_gives_the_requested_id(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, body=b"[" * 100_000)

    async with make_client() as client:
        conn = await client.update_calendar_connection("conn-1", UPDATE)

    assert conn == CalendarConnection(id="conn-1")


# --- lifecycle ---------------------------------------------------------------------------


async def test_async_with_opens_and_closes(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    client = make_client()
    assert not client.closed
    async with client as entered:
        assert entered is client
        assert "state=open" in repr(client)
        await client.update_calendar_connection("conn-1", UPDATE)

    assert client.closed
    assert "state=closed" in repr(client)


async def test_aclose_twice_is_fine() -> None:
    client = make_client()
    async with client:
        pass

    await client.aclose()
    await client.aclose()
    assert client.closed


async def test_closing_a_never_used_client_is_fine() -> None:
    client = make_client()

    await client.aclose()

    assert client.closed


async def test_calls_after_close_raise_runtime_error(mock_api: Any) -> None:
    client = make_client()
    async with client:
        pass

    with pytest.raises(RuntimeError, match="closed"):
        await client.update_calendar_connection("conn-1", UPDATE)
    with pytest.raises(RuntimeError, match="closed"):
        await client.list_calendar_connections()
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass
    assert mock_api.requests == {}


async def test_a_borrowed_session_stays_open_and_unchanged(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})
    mock_api.get(f"{BASE_URL}/other", payload={})
    session = aiohttp.ClientSession(headers={"X-Custom": "mine"})
    try:
        before = dict(session.headers)
        async with make_client(session=session) as client:
            await client.update_calendar_connection("conn-1", UPDATE)
        await client.aclose()

        assert not session.closed
        assert dict(session.headers) == before
        _, _, call = calls(mock_api)[0]
        assert headers_of(call)["Authorization"] == f"Bearer {API_KEY}"
        async with session.get(f"{BASE_URL}/other") as response:
            assert response.status == 200
    finally:
        await session.close()


def _unclosed_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "nclosed" in str(w.message)]


async def test_one_call_then_close_leaves_no_unclosed_session(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = make_client()
        conn = await client.update_calendar_connection("conn-1", UPDATE)
        await client.aclose()
        del client
        gc.collect()

    assert conn.id == "conn-1"
    assert _unclosed_warnings(caught) == []


async def test_failed_call_inside_async_with_leaves_no_unclosed_session(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, status=404, payload={"message": "Connection not found"})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(NotFoundError):
            async with make_client() as client:
                await client.update_calendar_connection("conn-1", UPDATE)
        del client
        gc.collect()

    assert _unclosed_warnings(caught) == []


# --- status mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 406, 409, 429, 500, 502, 503, 504, 418, 422]
)
async def test_each_status_raises_its_typed_error(status: int, mock_api: Any) -> None:
    mock_api.patch(
        CONN_URL,
        status=status,
        payload={"statusCode": status, "message": f"failed with {status}"},
        headers={"X-Request-Id": "req-1"},
        reason="Reason",
    )

    async with make_client() as client:
        with pytest.raises(APIStatusError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    error = info.value
    assert type(error) is status_error(status)
    assert error.status == status
    assert error.message == f"failed with {status}"
    assert error.request_id == "req-1"
    assert error.method == "PATCH"
    assert error.path == f"{PREFIX}/conn-1"
    assert error.attempts == 1
    assert str(error) == (
        f"meetergo API {status} Reason: failed with {status} (PATCH {PREFIX}/conn-1)"
        " [request id req-1]"
    )


async def test_not_found_str_matches_the_documented_format(mock_api: Any) -> None:
    mock_api.patch(
        CONN_URL, status=404, reason="Not Found", payload={"message": "Connection not found"}
    )

    async with make_client() as client:
        with pytest.raises(NotFoundError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert str(info.value) == (
        "meetergo API 404 Not Found: Connection not found "
        "(PATCH /v4/calendar-connections/connections/conn-1)"
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 406, 409])
async def test_client_errors_are_sent_once_even_with_the_default_retry_policy(
    status: int, mock_api: Any, fake_time: FakeTime
) -> None:
    mock_api.patch(CONN_URL, status=status, payload={"message": "no"}, repeat=True)

    async with make_client(fake_time, retry=RetryPolicy()) as client:
        with pytest.raises(status_error(status)) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert request_count(mock_api) == 1
    assert info.value.attempts == 1
    assert fake_time.sleeps == []


async def test_server_errors_are_retried_with_the_default_policy(
    mock_api: Any, fake_time: FakeTime
) -> None:
    mock_api.patch(CONN_URL, status=503, payload={"message": "busy"}, repeat=True)

    started = fake_time.now
    async with make_client(fake_time, retry=RetryPolicy()) as client:
        with pytest.raises(ServerError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    # A call alone keeps to its policy: its eight attempts, then the last 503; its waits
    # are its backoff's (a full jitter within 0.5 * 2**n, at most 20 s).
    policy = RetryPolicy()
    assert info.value.status == 503
    assert info.value.attempts == policy.max_attempts == request_count(mock_api)
    assert len(fake_time.sleeps) == policy.max_attempts - 1
    for n, wait in enumerate(fake_time.sleeps):
        assert 0 <= wait <= min(policy.max_backoff, policy.initial_backoff * 2**n)
    assert fake_time.now - started == pytest.approx(sum(fake_time.sleeps))


async def test_rate_limit_error_carries_retry_after(mock_api: Any) -> None:
    mock_api.patch(
        CONN_URL,
        status=429,
        payload={"statusCode": 429, "message": "Too Many Requests"},
        headers={"Retry-After": "7"},
    )

    async with make_client() as client:
        with pytest.raises(RateLimitError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)
        assert client.stats.rate_limited == 1

    assert info.value.retry_after == 7.0


async def test_plan_limit_error_carries_code_and_feature(mock_api: Any) -> None:
    mock_api.patch(
        CONN_URL,
        status=406,
        payload={"message": "limit", "code": "PLAN_LIMIT_REACHED", "feature": "calendars"},
    )

    async with make_client() as client:
        with pytest.raises(PlanLimitError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert info.value.code == "PLAN_LIMIT_REACHED"
    assert info.value.feature == "calendars"


async def test_error_with_a_non_json_body_uses_the_text(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, status=502, body=b"<html>bad gateway</html>", content_type="text/html")

    async with make_client() as client:
        with pytest.raises(ServerError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert info.value.message == "bad gateway"  # the page's text, not its markup
    assert info.value.body == "<html>bad gateway</html>"


async def test_redirect_is_not_followed(mock_api: Any) -> None:
    target = f"{BASE_URL}/elsewhere"
    mock_api.patch(CONN_URL, status=302, headers={"Location": target}, body=b"")
    mock_api.get(target, payload={"id": "hijacked"})
    mock_api.patch(target, payload={"id": "hijacked"})

    async with make_client(retry=RetryPolicy()) as client:
        with pytest.raises(APIStatusError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert type(info.value) is APIStatusError
    assert info.value.status == 302
    assert [str(url) for _, url, _ in calls(mock_api)] == [CONN_URL]


# --- transport errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "exception",
    [
        aiohttp.ClientConnectionError("connection refused"),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        aiohttp.ClientPayloadError("truncated"),
        aiohttp.ClientError(),
    ],
    ids=type,
)
async def test_aiohttp_errors_become_api_connection_errors(
    exception: aiohttp.ClientError, mock_api: Any
) -> None:
    mock_api.patch(CONN_URL, exception=exception)

    async with make_client() as client:
        with pytest.raises(APIConnectionError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert type(info.value) is APIConnectionError
    assert info.value.__cause__ is exception
    assert info.value.method == "PATCH"
    assert info.value.path == f"{PREFIX}/conn-1"
    assert info.value.attempts == 1


@pytest.mark.parametrize(
    "exception", [TimeoutError(), aiohttp.ServerTimeoutError("read timeout")], ids=type
)
async def test_timeouts_become_api_timeout_errors(exception: Exception, mock_api: Any) -> None:
    mock_api.patch(CONN_URL, exception=exception)

    async with make_client() as client:
        with pytest.raises(APITimeoutError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    assert isinstance(info.value, APIConnectionError)
    assert info.value.__cause__ is exception


async def test_unmatched_url_is_a_connection_error_not_a_network_call(mock_api: Any) -> None:
    async with make_client() as client:
        with pytest.raises(APIConnectionError) as info:
            await client.list_calendar_connections()

    assert isinstance(info.value.__cause__, aiohttp.ClientConnectionError)


async def test_connection_errors_are_retried_then_succeed(
    mock_api: Any, fake_time: FakeTime
) -> None:
    mock_api.patch(CONN_URL, exception=aiohttp.ServerDisconnectedError())
    mock_api.patch(CONN_URL, payload={"id": "conn-1", "provider": "google"})

    async with make_client(fake_time, retry=RetryPolicy()) as client:
        conn = await client.update_calendar_connection("conn-1", UPDATE)
        stats = client.stats

    assert conn.provider == "google"
    assert request_count(mock_api) == 2
    assert stats.requests == 2
    assert stats.retries == 1
    assert len(fake_time.sleeps) == 1


# --- stats -------------------------------------------------------------------------------


async def test_stats_count_requests(mock_api: Any) -> None:
    mock_api.patch(CONN_URL, payload={"id": "conn-1"}, repeat=True)
    mock_api.get(LIST_URL, payload={"connections": []})

    async with make_client() as client:
        assert client.stats.requests == 0
        await client.update_calendar_connection("conn-1", UPDATE)
        await client.update_calendar_connection("conn-1", UPDATE)
        await client.list_calendar_connections()
        stats = client.stats

    assert stats.requests == 3
    assert stats.retries == 0
    assert stats.rate_limited == 0
    assert stats.rate is None


async def test_stats_do_not_count_refused_arguments(mock_api: Any) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="connection_id"):
            await client.update_calendar_connection(" ", UPDATE)
        assert client.stats.requests == 0


# --- secrets -----------------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def _assert_no_secret(texts: list[str]) -> None:
    for text in texts:
        assert API_KEY not in text
        assert SECRET_PART not in text


async def test_the_api_key_never_appears_in_logs_reprs_or_errors(
    mock_api: Any, fake_time: FakeTime, debug_logs: pytest.LogCaptureFixture
) -> None:
    mock_api.patch(CONN_URL, status=401, payload={"message": "API key has expired"})
    retry_url = f"{BASE_URL}{PREFIX}/conn-2"
    mock_api.patch(retry_url, status=503, payload={"message": "busy"})
    mock_api.patch(retry_url, exception=aiohttp.ClientConnectionError("reset"))
    mock_api.patch(retry_url, status=429, payload={"message": "slow"}, headers={"Retry-After": "1"})
    mock_api.patch(retry_url, payload={"id": "conn-2"})
    errors: list[BaseException] = []

    client = make_client(fake_time, retry=RetryPolicy())
    async with client:
        with pytest.raises(AuthenticationError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)
        errors.append(info.value)
        conn = await client.update_calendar_connection("conn-2", UPDATE)

    assert conn.id == "conn-2"
    assert request_count(mock_api) == 5
    assert any("retrying" in r.getMessage() for r in debug_logs.records)
    texts = [
        debug_logs.text,
        *(r.getMessage() for r in debug_logs.records),
        repr(client),
        str(client),
        *(str(e) for e in errors),
        *(repr(e) for e in errors),
    ]
    _assert_no_secret(texts)


async def test_the_api_key_is_not_in_connection_errors(
    mock_api: Any, debug_logs: pytest.LogCaptureFixture
) -> None:
    mock_api.patch(CONN_URL, exception=aiohttp.ClientConnectionError("refused"))

    async with make_client() as client:
        with pytest.raises(APIConnectionError) as info:
            await client.update_calendar_connection("conn-1", UPDATE)

    _assert_no_secret([str(info.value), repr(info.value), debug_logs.text, repr(client)])


async def test_empty_environment_variables_count_as_unset(monkeypatch) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", "")
    with pytest.raises(ValueError, match="no API key"):
        MeetergoClient()
    # A PAT refuses a user id; an empty MEETERGO_USER_ID is no user id, not an error.
    monkeypatch.setenv("MEETERGO_API_KEY", "rgo-" + "b" * 32)
    monkeypatch.setenv("MEETERGO_USER_ID", "")
    monkeypatch.setenv("MEETERGO_BASE_URL", "")
    async with MeetergoClient() as client:
        assert "api.meetergo.com" in repr(client)
    with pytest.raises(ValueError, match="user_id must not be empty"):
        MeetergoClient("rgo-" + "b" * 32, user_id="")


def test_a_blank_environment_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", "rgo-" + "x" * 32)
    # A personal access token refuses a user id: a blank one must not count as one.
    monkeypatch.setenv("MEETERGO_USER_ID", " \t")
    monkeypatch.setenv("MEETERGO_BASE_URL", "  ")
    client = MeetergoClient()
    assert "user_id" not in repr(client)
    assert "https://api.meetergo.com" in repr(client)
