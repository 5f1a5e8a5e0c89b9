"""Bad arguments raise TypeError/ValueError naming the argument, before anything is sent."""

from __future__ import annotations

import math
from typing import Any

import pytest

from meetergo_async import (
    ArgumentTypeError,
    ArgumentValueError,
    CalendarConnectionUpdate,
    MeetergoClient,
    RetryPolicy,
    TokenBucket,
    UpdateRequest,
)
from meetergo_async.testing import MockTransport, json_response
from tests.helpers import API_KEY, BASE_URL, USER_ID, FakeTime, base_kind

UPDATE = CalendarConnectionUpdate(validate_availability=True)
ENV_NAMES = ("MEETERGO_API_KEY", "MEETERGO_USER_ID", "MEETERGO_BASE_URL")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def make_client(**kwargs: Any) -> MeetergoClient:
    time = FakeTime()
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "user_id": USER_ID,
        "base_url": BASE_URL,
        "rate_limit": None,
        "retry": RetryPolicy(max_attempts=1),
        "clock": time.clock,
        "sleep": time.sleep,
    } | kwargs
    return MeetergoClient(**options)


# --- connection ids ----------------------------------------------------------------------

BAD_TEXT = [
    ("", ValueError),
    ("   ", ValueError),
    ("\t", ValueError),
    ("conn\r1", ValueError),
    ("conn\n1", ValueError),
    ("conn\r\nX-Injected: 1", ValueError),
    ("conn\x001", ValueError),
    ("conn\x7f", ValueError),
    ("conn\x1b[0m", ValueError),
    (5, TypeError),
    (b"conn-1", TypeError),
    (["conn-1"], TypeError),
]


@pytest.mark.parametrize(("connection_id", "error"), BAD_TEXT)
async def test_bad_connection_id_is_refused_before_sending(
    connection_id: Any, error: type[Exception], mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match="connection_id"):
            await client.update_calendar_connection(connection_id, UPDATE)

    assert mock_api.requests == {}


async def test_none_connection_id_is_a_type_error(mock_api: Any) -> None:
    async with make_client() as client:
        with pytest.raises(TypeError, match="connection_id"):
            await client.update_calendar_connection(None, UPDATE)  # type: ignore[arg-type]

    assert mock_api.requests == {}


async def test_connection_id_with_a_lone_surrogate_is_refused_naming_the_argument(
    mock_api: Any,
) -> None:
    # "\ud800" cannot be encoded (UTF-8) into a URL; it must be refused like any other
    # unusable id, with a message that names the argument.
    async with make_client() as client:
        with pytest.raises(ValueError, match="connection_id"):
            await client.update_calendar_connection("conn-\ud800", UPDATE)

    assert mock_api.requests == {}


# --- user ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(("user_id", "error"), BAD_TEXT)
def test_bad_user_id_is_refused_by_the_constructor(user_id: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="user_id"):
        MeetergoClient(API_KEY, user_id=user_id, base_url=BASE_URL)


def test_bad_user_id_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETERGO_USER_ID", "user\r\nX-Evil: 1")

    with pytest.raises(ValueError, match="user_id"):
        MeetergoClient(API_KEY, base_url=BASE_URL)


@pytest.mark.parametrize(("as_user", "error"), BAD_TEXT)
async def test_bad_as_user_is_refused_before_sending(
    as_user: Any, error: type[Exception], mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match="as_user"):
            await client.update_calendar_connection("conn-1", UPDATE, as_user=as_user)
        with pytest.raises(error, match="as_user"):
            await client.list_calendar_connections(as_user=as_user)

    assert mock_api.requests == {}


@pytest.mark.parametrize(("owner_user_id", "error"), BAD_TEXT)
async def test_bad_owner_user_id_is_refused_before_sending(
    owner_user_id: Any, error: type[Exception], mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match="owner_user_id"):
            await client.update_calendar_connection("conn-1", UPDATE, owner_user_id=owner_user_id)
        with pytest.raises(error, match="owner_user_id"):
            await client.list_calendar_connections(owner_user_id=owner_user_id)

    assert mock_api.requests == {}


# --- api keys ----------------------------------------------------------------------------

SECRET = "Zq9SECRETvalue"


@pytest.mark.parametrize(
    "api_key",
    [
        "",
        f"ak_live:uuid:{SECRET} x",
        f"{SECRET} ",
        f" {SECRET}",
        f"ak_live:uuid:{SECRET}\t",
        f"ak_live:uuid:{SECRET}\n",
        f"ak_live:uuid:{SECRET}\r\nX-Evil: 1",
        f"ak_live:uuid:{SECRET}\x00",
        f"ak_live:uuid:{SECRET}\x7f",
        f"ak_live:uuid:{SECRET}\x1b",
    ],
)
def test_malformed_api_key_is_a_value_error_that_does_not_repeat_the_key(api_key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        MeetergoClient(api_key, user_id=USER_ID, base_url=BASE_URL)

    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


@pytest.mark.parametrize("api_key", [5, b"ak_live:uuid:secret", ["key"]])
def test_non_str_api_key_is_a_type_error(api_key: Any) -> None:
    with pytest.raises(TypeError, match="api_key"):
        MeetergoClient(api_key, user_id=USER_ID, base_url=BASE_URL)


def test_malformed_api_key_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEETERGO_API_KEY", f"ak_live:uuid:{SECRET} ")

    with pytest.raises(ValueError, match="api_key") as info:
        MeetergoClient(user_id=USER_ID, base_url=BASE_URL)

    assert SECRET not in str(info.value)


# --- base urls ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "api.meetergo.com",
        "//api.meetergo.com",
        "https://",
        "https:///v4",
        "ftp://api.meetergo.com",
        "file:///etc/passwd",
        "https://user:pass@api.meetergo.com",
        "https://user@api.meetergo.com",
        "https://:pass@api.meetergo.com",
        "https://api.meetergo.com/?x=1",
        "https://api.meetergo.com?",
        "https://api.meetergo.com/#frag",
        "https://api.meetergo.com#",
        "https://api.meetergo.com:99999",
        "https://api.meetergo.com:port",
        "https://api.meetergo.com/a b",
        "https://api.meetergo.com/\r\nX: 1",
        "http://api.meetergo.com",
        "http://10.0.0.1:8080",
        "http://localhost.evil.test",
        "http://127.0.0.1.nip.io",
    ],
)
def test_bad_base_url_is_a_value_error(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        MeetergoClient(API_KEY, user_id=USER_ID, base_url=base_url)


@pytest.mark.parametrize(
    ("base_url", "instead"),
    [
        ("https://api.meetergo.com/v4", "give the host only, https://api.meetergo.com"),
        ("https://api.meetergo.com/v4/", "give the host only, https://api.meetergo.com"),
        ("https://api.meetergo.com/V4//", "give the host only, https://api.meetergo.com"),
        ("http://127.0.0.1:8080/proxy/v4", "give the part before /v4, http://127.0.0.1:8080/proxy"),
        (
            "https://api.meetergo.com/v4/calendar-connections/connections",
            "give the host only, https://api.meetergo.com",
        ),
    ],
)
def test_a_base_url_with_v4_in_its_path_is_refused_before_anything_is_sent(
    base_url: str, instead: str
) -> None:
    transport = MockTransport(lambda request: json_response({"id": "c1"}))

    with pytest.raises(ArgumentValueError) as info:
        MeetergoClient(API_KEY, user_id=USER_ID, base_url=base_url, transport=transport)

    assert info.value.argument == "base_url"
    assert str(info.value).startswith(f"base_url {base_url} ")
    assert "every request path starts with v4/ already" in str(info.value)
    assert str(info.value).endswith(instead)
    assert transport.requests == []


def test_a_base_url_with_v4_from_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEETERGO_BASE_URL", "https://api.meetergo.com/v4")

    with pytest.raises(ValueError, match="ends in /v4"):
        MeetergoClient(API_KEY, user_id=USER_ID)


@pytest.mark.parametrize("base_url", [5, b"https://api.meetergo.com"])
def test_non_str_base_url_is_a_type_error(base_url: Any) -> None:
    with pytest.raises(TypeError, match="base_url"):
        MeetergoClient(API_KEY, user_id=USER_ID, base_url=base_url)


def test_bad_base_url_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEETERGO_BASE_URL", "http://api.meetergo.com")

    with pytest.raises(ValueError, match="base_url"):
        MeetergoClient(API_KEY, user_id=USER_ID)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1:8080",
        "http://127.0.0.2:9000/prefix",
        "http://localhost",
        "http://LOCALHOST:3000",
        "http://[::1]:8000",
        "https://api.meetergo.com",
        "https://api.meetergo.com:8443/sandbox/",
        "https://proxy.example/meetergo/",
        "https://proxy.example/v40",
        "https://proxy.example/api-v4",
    ],
)
def test_https_anywhere_and_http_to_loopback_are_allowed(base_url: str) -> None:
    client = MeetergoClient(API_KEY, user_id=USER_ID, base_url=base_url)

    assert base_url.rstrip("/") in repr(client)


async def test_http_to_loopback_is_used_for_requests(mock_api: Any) -> None:
    mock_api.patch(
        "http://127.0.0.1:8080/v4/calendar-connections/connections/c1", payload={"id": "c1"}
    )

    async with make_client(base_url="http://127.0.0.1:8080") as client:
        conn = await client.update_calendar_connection("c1", UPDATE)

    assert conn.id == "c1"


@pytest.mark.parametrize("base_url", ["http://api.meetergo.com", "http://10.0.0.1:8080"])
def test_allow_insecure_http_permits_plain_http_anywhere(base_url: str) -> None:
    client = MeetergoClient(API_KEY, user_id=USER_ID, base_url=base_url, allow_insecure_http=True)

    assert base_url in repr(client)


def test_allow_insecure_http_still_refuses_credentials_in_the_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        MeetergoClient(
            API_KEY,
            user_id=USER_ID,
            base_url="http://u:p@10.0.0.1",
            allow_insecure_http=True,
        )


# --- updates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"selected_calendars": "primary"}, TypeError, "selected_calendars"),
        ({"selected_calendars": ["primary", 3]}, TypeError, "selected_calendars"),
        ({"selected_calendars": [""]}, ValueError, "selected_calendars"),
        ({"selected_calendars": None}, TypeError, "selected_calendars"),
        ({"primary_calendar": ""}, ValueError, "primary_calendar"),
        ({"primary_calendar": 3}, TypeError, "primary_calendar"),
        ({"validate_availability": "true"}, TypeError, "validate_availability"),
        ({"cancel_if_declined_or_deleted": 1}, TypeError, "cancel_if_declined_or_deleted"),
        ({"disable_attendee_notification": None}, TypeError, "disable_attendee_notification"),
        ({"sync_buffers_to_calendar": 0}, TypeError, "sync_buffers_to_calendar"),
    ],
)
async def test_bad_update_fields_are_refused_before_sending(
    kwargs: dict[str, Any], error: type[Exception], name: str, mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match=name):
            await client.update_calendar_connection("conn-1", CalendarConnectionUpdate(**kwargs))

    assert mock_api.requests == {}


async def test_an_update_with_no_field_set_is_refused_before_sending(mock_api: Any) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="no field set"):
            await client.update_calendar_connection("conn-1", CalendarConnectionUpdate())

    assert mock_api.requests == {}


@pytest.mark.parametrize("update", [{"validateAvailability": True}, None, "x"])
async def test_an_update_of_the_wrong_type_is_refused_before_sending(
    update: Any, mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(TypeError, match="update"):
            await client.update_calendar_connection("conn-1", update)

    assert mock_api.requests == {}


DICT_HINT = (
    "update must be a CalendarConnectionUpdate, got dict; build one with update_from_dict(...)"
)


async def test_a_dict_where_an_update_belongs_points_to_update_from_dict(mock_api: Any) -> None:
    update: Any = {"validate_availability": True}
    async with make_client() as client:
        with pytest.raises(ArgumentTypeError) as single:
            await client.update_calendar_connection("conn-1", update)
        [pair] = await client.update_calendar_connections([("conn-1", update)])
    with pytest.raises(ArgumentTypeError) as request:
        UpdateRequest("conn-1", update)

    errors = [single.value, pair.error, request.value]
    assert [str(error) for error in errors] == [DICT_HINT] * 3
    assert [getattr(error, "argument", None) for error in errors] == ["update"] * 3
    assert mock_api.requests == {}


@pytest.mark.parametrize("update", [None, "x", [("validateAvailability", True)]])
def test_an_update_of_another_type_gets_no_hint(update: Any) -> None:
    with pytest.raises(TypeError) as info:
        UpdateRequest("conn-1", update)

    assert "update_from_dict" not in str(info.value)


async def test_invalid_bulk_items_send_nothing(mock_api: Any) -> None:
    async with make_client() as client:
        results = await client.update_calendar_connections(
            [("", UPDATE), ("c1", CalendarConnectionUpdate()), "not-an-item"]
        )

    assert [base_kind(r.error) for r in results] == [ValueError, ValueError, TypeError]
    assert [getattr(r.error, "argument", None) for r in results] == [
        "connection_id",
        "update",
        "items",
    ]
    assert [r.attempts for r in results] == [0, 0, 0]
    assert mock_api.requests == {}


def test_update_request_validates_on_construction() -> None:
    with pytest.raises(ValueError, match="connection_id"):
        UpdateRequest("conn\n", UPDATE)


# --- timeouts ----------------------------------------------------------------------------

BAD_NUMBERS = [
    (0, ValueError),
    (0.0, ValueError),
    (-1, ValueError),
    (-0.5, ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    ("5", TypeError),
    (True, TypeError),
]


@pytest.mark.parametrize(("timeout", "error"), BAD_NUMBERS)
def test_bad_timeout_in_the_constructor(timeout: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout"):
        make_client(timeout=timeout)


@pytest.mark.parametrize(("timeout", "error"), BAD_NUMBERS)
async def test_bad_timeout_per_call_is_refused_before_sending(
    timeout: Any, error: type[Exception], mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match="timeout"):
            await client.update_calendar_connection("conn-1", UPDATE, timeout=timeout)
        with pytest.raises(error, match="timeout"):
            await client.list_calendar_connections(timeout=timeout)

    assert mock_api.requests == {}


# --- retry policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"max_attempts": 0}, ValueError, "max_attempts"),
        ({"max_attempts": -1}, ValueError, "max_attempts"),
        ({"max_attempts": 1.5}, TypeError, "max_attempts"),
        ({"max_attempts": True}, TypeError, "max_attempts"),
        ({"initial_backoff": -1}, ValueError, "initial_backoff"),
        ({"initial_backoff": math.nan}, ValueError, "initial_backoff"),
        ({"max_backoff": -0.5}, ValueError, "max_backoff"),
        ({"max_backoff": math.inf}, ValueError, "max_backoff"),
        ({"max_retry_after": -1}, ValueError, "max_retry_after"),
        ({"deadline": 0}, ValueError, "deadline"),
        ({"deadline": -5}, ValueError, "deadline"),
        ({"deadline": "60"}, TypeError, "deadline"),
    ],
)
def test_bad_retry_policy(kwargs: dict[str, Any], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        RetryPolicy(**kwargs)


def test_valid_retry_policy_edges() -> None:
    policy = RetryPolicy(max_attempts=1, initial_backoff=0, max_backoff=0, deadline=None)

    assert policy.max_attempts == 1
    assert policy.deadline is None


async def test_retry_of_the_wrong_type_is_refused(mock_api: Any) -> None:
    with pytest.raises(TypeError, match="retry"):
        make_client(retry=5)
    async with make_client() as client:
        with pytest.raises(TypeError, match="retry"):
            await client.update_calendar_connection("conn-1", UPDATE, retry=3)  # type: ignore[arg-type]

    assert mock_api.requests == {}


# --- rate limit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "name"),
    [
        (lambda: TokenBucket(rate=0), ValueError, "rate"),
        (lambda: TokenBucket(rate=-1), ValueError, "rate"),
        (lambda: TokenBucket(rate=math.nan), ValueError, "rate"),
        (lambda: TokenBucket(rate=math.inf), ValueError, "rate"),
        (lambda: TokenBucket(rate="1"), TypeError, "rate"),
        (lambda: TokenBucket(1, burst=0), ValueError, "burst"),
        (lambda: TokenBucket(1, burst=-3), ValueError, "burst"),
        (lambda: TokenBucket(1, burst=2.5), TypeError, "burst"),
        (lambda: TokenBucket.per_minute(0), ValueError, "requests"),
        (lambda: TokenBucket.per_minute(-100), ValueError, "requests"),
        (lambda: TokenBucket.per_minute(100, burst=0), ValueError, "burst"),
        (lambda: TokenBucket.per_second(0), ValueError, "rate"),
    ],
)
def test_bad_rate_limit(build: Any, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        build()


def test_rate_limit_per_minute_converts_to_seconds() -> None:
    limit = TokenBucket.per_minute(120, burst=7)

    assert limit.rate == pytest.approx(2.0)
    assert limit.burst == 7


def test_rate_limit_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(TypeError, match="rate_limit"):
        make_client(rate_limit=100)


# --- concurrency and sizes ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-2, ValueError), (1.5, TypeError)])
def test_bad_max_concurrency_in_the_constructor(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="max_concurrency"):
        make_client(max_concurrency=value)


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-1, ValueError), ("2", TypeError)])
async def test_bad_max_concurrency_per_bulk_call_is_refused_before_sending(
    value: Any, error: type[Exception], mock_api: Any
) -> None:
    async with make_client() as client:
        with pytest.raises(error, match="max_concurrency"):
            await client.update_calendar_connections([("c1", UPDATE)], max_concurrency=value)
        with pytest.raises(error, match="max_concurrency"):
            client.iter_update_calendar_connections([("c1", UPDATE)], max_concurrency=value)

    assert mock_api.requests == {}


def test_bad_max_response_bytes() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        make_client(max_response_bytes=0)
