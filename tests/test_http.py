"""Table-driven tests of the pure protocol functions in ``_http``: no server, no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

import meetergo_async
from meetergo_async import _answers, _http, errors

PREFIX = "/v4/calendar-connections/connections/"
NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
HTTP_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"  # the same instant as NOW


# --- connection_path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "connection_id",
    [
        "conn-1",
        "a/b",
        "../x",
        "..",
        ".",
        "...",
        "a?b#c",
        "ä ö",
        "%2F",
        "100%",
        "x/../../admin",
        "./",
        "a b+c&d=e",
    ],
)
def test_connection_path_is_the_prefix_and_one_segment_that_decodes_to_the_id(
    connection_id: str,
) -> None:
    path = _http.connection_path(connection_id)

    assert path.startswith(PREFIX)
    segment = path[len(PREFIX) :]
    assert segment
    assert not set(segment) & set("/?#")
    assert segment not in (".", "..")
    assert unquote(segment) == connection_id


@pytest.mark.parametrize("connection_id", [".", "..", "..."])
def test_connection_path_encodes_dot_segments(connection_id: str) -> None:
    segment = _http.connection_path(connection_id)[len(PREFIX) :]

    # A URL parser resolves "." and ".." as dot segments: they must not appear literally.
    assert "." not in segment
    assert unquote(segment) == connection_id


def test_connection_path_keeps_plain_ids_readable() -> None:
    assert _http.connection_path("3f2b-uuid_x.y~z") == PREFIX + "3f2b-uuid_x.y~z"


def test_connection_path_double_encodes_a_percent() -> None:
    # "%2F" is an id that happens to contain a percent sign; it must not become a "/".
    segment = _http.connection_path("%2F")[len(PREFIX) :]

    assert segment.upper() == "%252F"


# --- query_string ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ""),
        ({"userId": None}, ""),
        ({"userId": "user-1"}, "?userId=user-1"),
        ({"userId": "a b&c=d/e?f#g"}, "?userId=a%20b%26c%3Dd%2Fe%3Ff%23g"),
        ({"userId": "ü"}, "?userId=%C3%BC"),
        ({"a": "1", "b": None, "c": "3"}, "?a=1&c=3"),
        ({"a key": "v"}, "?a%20key=v"),
    ],
)
def test_query_string(params: dict[str, str | None], expected: str) -> None:
    assert _http.query_string(params) == expected


# --- headers -----------------------------------------------------------------------------


def test_base_headers_carry_the_bearer_token_and_the_user_agent() -> None:
    headers = _http.base_headers("tok-123")

    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["User-Agent"] == f"meetergo-async/{meetergo_async.__version__}"
    assert re.fullmatch(r"meetergo-async/\d+\.\d+\.\d+\S*", headers["User-Agent"])
    assert "Content-Type" not in headers
    assert _http.USER_ID_HEADER not in headers


@pytest.mark.parametrize(
    ("user_id", "has_body", "expect_user", "expect_type"),
    [
        (None, False, False, False),
        (None, True, False, True),
        ("user-1", False, True, False),
        ("user-1", True, True, True),
    ],
)
def test_request_headers(
    user_id: str | None, has_body: bool, expect_user: bool, expect_type: bool
) -> None:
    base = _http.base_headers("tok")
    before = dict(base)

    headers = _http.request_headers(base, user_id, has_body=has_body)

    assert headers["Authorization"] == "Bearer tok"
    assert headers["User-Agent"] == f"meetergo-async/{meetergo_async.__version__}"
    assert (headers.get("x-meetergo-api-user-id") == user_id) if expect_user else True
    assert ("x-meetergo-api-user-id" in headers) is expect_user
    assert ("Content-Type" in headers) is expect_type
    if expect_type:
        assert headers["Content-Type"] == "application/json"
    assert base == before  # the shared base headers are never modified


# --- parse_retry_after -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "0"}, 0.0),
        ({"RETRY-AFTER": " 7 "}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "0.25"}, 0.25),
        ({"Retry-After": HTTP_DATE}, 0.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:29:30 GMT"}, 90.0),
        ({"Retry-After": "Wed, 21 Oct 2015 07:00:00 GMT"}, 0.0),
        ({"Retry-After": "Tue, 20 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "Retry-After": "10"}, 1.5),
        ({"Retry-After": "10", "Retry-After-Ms": "250"}, 0.25),
        ({"retry-after-ms": "garbage", "Retry-After": "4"}, 4.0),
        ({"retry-after-ms": "-1", "Retry-After": "4"}, 4.0),
        ({"Retry-After-short": "3"}, 3.0),
        ({"retry-after-short": "2", "Retry-After": "1"}, 2.0),
        ({"Retry-After-short": "2", "Retry-After-long": "60"}, 60.0),
        ({"Retry-After-short": "garbage", "Retry-After": "4"}, 4.0),
        ({"X-Other": "5"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert _http.parse_retry_after(headers, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "-5",
        "-0.5",
        "1e309",
        "-1e309",
        "nan",
        "NaN",
        "inf",
        "Infinity",
        "-inf",
        "tomorrow",
        "5 seconds",
        "0x10",
        "Wed, 99 Foo 2015 07:28:00 GMT",
        "Wed, 21 Oct 2015 25:61:00 GMT",
    ],
)
def test_parse_retry_after_ignores_unusable_values(value: str) -> None:
    assert _http.parse_retry_after({"Retry-After": value}, now=NOW) is None
    assert _http.parse_retry_after({"retry-after-ms": value}, now=NOW) is None
    assert _http.parse_retry_after({"Retry-After-short": value}, now=NOW) is None


def test_parse_retry_after_accepts_a_sequence_of_pairs() -> None:
    pairs = [("Content-Type", "application/json"), ("Retry-After", "2"), ("retry-after", "9")]

    assert _http.parse_retry_after(pairs, now=NOW) == 9.0


def test_parse_retry_after_date_without_now_uses_the_current_time() -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    header = future.strftime("%a, %d %b %Y %H:%M:%S GMT")

    wait = _http.parse_retry_after({"Retry-After": header})

    assert wait is not None
    assert 3500 < wait <= 3600


def test_parse_retry_after_date_is_relative_to_now() -> None:
    later = NOW - timedelta(seconds=30)

    assert _http.parse_retry_after({"Retry-After": HTTP_DATE}, now=later) == 30.0
    assert _http.parse_retry_after({"Retry-After": HTTP_DATE}, now=NOW + timedelta(days=1)) == 0


# --- parse_rate_limit --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Remaining": "42", "X-RateLimit-Reset": "30"}, (42, 30.0)),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1.5"}, (0, 1.5)),
        (
            {"X-RateLimit-Limit-short": "3", "X-RateLimit-Remaining-short": "2"}
            | {"X-RateLimit-Reset-short": "1"},
            (2, 1.0),
        ),
        (
            {"X-RateLimit-Remaining": "50", "X-RateLimit-Reset": "30"}
            | {"X-RateLimit-Remaining-short": "2", "X-RateLimit-Reset-short": "1"},
            (2, 1.0),
        ),
        (
            {"X-RateLimit-Remaining-a": "5", "X-RateLimit-Reset-a": "1"}
            | {"X-RateLimit-Remaining-b": "5", "X-RateLimit-Reset-b": "60"},
            (5, 60.0),
        ),
        (
            {"X-RateLimit-Remaining": "garbage", "X-RateLimit-Reset": "30"}
            | {"X-RateLimit-Remaining-short": "7", "X-RateLimit-Reset-short": "2"},
            (7, 2.0),
        ),
        (
            {"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "nan"}
            | {"X-RateLimit-Remaining-short": "7", "X-RateLimit-Reset-short": "2"},
            (7, 2.0),
        ),
        ({"X-RateLimit-Remaining": "1"}, None),
        ({"X-RateLimit-Reset": "10"}, None),
        ({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset-short": "10"}, None),
        ({"X-RateLimit-Remaining": "1.5", "X-RateLimit-Reset": "10"}, None),
        ({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "-3"}, None),
        ({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "inf"}, None),
        ({"X-RateLimit-Limit": "100"}, None),
        ({}, None),
    ],
)
def test_parse_rate_limit(headers: dict[str, str], expected: tuple[int, float] | None) -> None:
    assert _http.parse_rate_limit(headers) == expected


def test_parse_rate_limit_accepts_a_sequence_of_pairs() -> None:
    pairs = [("X-RateLimit-Remaining", "3"), ("X-RateLimit-Reset", "12")]

    assert _http.parse_rate_limit(pairs) == (3, 12.0)


# --- decode_json -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"id": "c1"}', (True, {"id": "c1"})),
        (b"[]", (True, [])),
        (b'"text"', (True, "text")),
        (b"null", (True, None)),
        ('{"name": "ä"}'.encode(), (True, {"name": "ä"})),
        (b"", (False, None)),
        (b'{"id": "c', (False, None)),
        (b'{"id": "\xff\xfe"}', (False, None)),
        (b"\xc3\x28", (False, None)),
        (b"<html><body>Bad gateway</body></html>", (False, None)),
        (b"{'id': 'single quotes'}", (False, None)),
    ],
)
def test_decode_json(body: bytes, expected: tuple[bool, object]) -> None:
    assert _answers.decode_json(body) == expected


def test_decode_json_of_a_deeply_nested_truncated_body_is_not_json() -> None:
    # A hostile or broken body must give (False, None), never an exception such as
    # RecursionError (which is not a ValueError).
    assert _answers.decode_json(b"[" * 100_000) == (False, None)


# --- error_message -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text", "reason", "expected"),
    [
        ({"message": "Connection not found"}, "", "Not Found", "Connection not found"),
        ({"message": ["a must be bool", "b must be str"]}, "", "Bad Request", None),
        ({"message": [1, "x"]}, "", "Bad Request", "1; x"),
        ({"message": ""}, "raw text", "Bad Request", "raw text"),
        ({"message": "   "}, "", "Bad Request", "Bad Request"),
        ({"message": []}, "", "Bad Request", "Bad Request"),
        ({"message": []}, "fallback", "Bad Request", "fallback"),
        ({"message": None}, "", "Conflict", "Conflict"),
        ({"message": 42}, "", "Conflict", "Conflict"),
        ({"error": "Bad Request"}, "", "Bad Request", "Bad Request"),
        # Without a usable message, the body's own text, JSON or not, beats the reason.
        (
            {"error": "Bad Request"},
            '{"error": "Bad Request"}',
            "Bad Request",
            '{"error": "Bad Request"}',
        ),
        (
            {"message": None, "code": "X"},
            '{"message": null,\r\n "code": "X"}',
            "Conflict",
            '{"message": null, "code": "X"}',
        ),
        (None, "<html><body><h1>Bad\r\n gateway</h1></body></html>", "Bad Gateway", "Bad gateway"),
        ({"message": "two\r\nlines"}, "", "Bad Request", "two lines"),
        (None, "  upstream timed out \n", "Gateway Timeout", "upstream timed out"),
        (None, "", "Bad Gateway", "Bad Gateway"),
        (None, "   ", "Bad Gateway", "Bad Gateway"),
        (["message"], "", "Teapot", "Teapot"),
        (None, "", "", "no error message"),
    ],
)
def test_error_message(body: object, text: str, reason: str, expected: str | None) -> None:
    if expected is None:
        expected = "a must be bool; b must be str"
    assert _answers.error_message(body, text, reason) == expected


def test_error_message_cuts_long_text_to_500_characters() -> None:
    text = "x" * 499 + "yz" + "q" * 1000

    message = _answers.error_message(None, "\n" + text, "Bad Gateway")

    assert message == text[:500]
    assert len(message) == 500


# --- error_for_status --------------------------------------------------------------------


def _error(
    status: int,
    body: bytes = b"",
    *,
    reason: str = "Reason",
    headers: dict[str, str] | None = None,
    method: str = "PATCH",
    path: str = PREFIX + "conn-1",
) -> errors.APIStatusError:
    return _answers.error_for_status(
        status, reason, headers or {}, body, method=method, path=path, now=NOW
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (406, errors.PlanLimitError),
        (409, errors.ConflictError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (501, errors.ServerError),
        (502, errors.ServerError),
        (503, errors.ServerError),
        (504, errors.ServerError),
        (418, errors.APIStatusError),
        (302, errors.APIStatusError),
        (422, errors.APIStatusError),
    ],
)
def test_error_for_status_maps_each_status_to_its_class(
    status: int, cls: type[errors.APIStatusError]
) -> None:
    error = _error(status, b'{"message": "m"}')

    assert type(error) is cls
    assert error.status == status
    assert error.message == "m"
    assert error.method == "PATCH"
    assert error.path == PREFIX + "conn-1"
    assert isinstance(error, errors.MeetergoError)


def test_error_for_status_str_format() -> None:
    error = _error(
        404, b'{"statusCode": 404, "message": "Connection not found"}', reason="Not Found"
    )

    assert str(error) == (
        "meetergo API 404 Not Found: Connection not found "
        "(PATCH /v4/calendar-connections/connections/conn-1)"
    )
    assert error.request_id is None


def test_error_for_status_keeps_the_request_id() -> None:
    error = _error(
        500,
        b'{"message": "boom"}',
        reason="Internal Server Error",
        headers={"X-Request-Id": "req-77"},
    )

    assert error.request_id == "req-77"
    assert str(error) == (
        "meetergo API 500 Internal Server Error: boom "
        "(PATCH /v4/calendar-connections/connections/conn-1) [request id req-77]"
    )


def test_error_for_status_without_reason_has_no_dangling_space() -> None:
    error = _error(400, b'{"message": "bad"}', reason="", method="GET", path="/p")

    assert str(error) == "meetergo API 400: bad (GET /p)"


def test_error_for_status_body_shapes() -> None:
    as_json = _error(400, b'{"message": ["x", "y"], "errors": [{"field": "f"}]}')
    as_text = _error(502, b"<html>Bad gateway</html>", reason="Bad Gateway")
    empty = _error(503, b"", reason="Service Unavailable")
    bad_utf8 = _error(500, b"oops \xff", reason="Internal Server Error")

    assert as_json.body == {"message": ["x", "y"], "errors": [{"field": "f"}]}
    assert as_json.message == "x; y"
    assert as_text.body == "<html>Bad gateway</html>"
    assert as_text.message == "Bad gateway"
    assert empty.body is None
    assert empty.message == "Service Unavailable"
    assert bad_utf8.message == "oops \ufffd"


def test_error_for_status_plan_limit_reads_code_and_feature() -> None:
    body = (
        b'{"statusCode": 406, "message": "Plan limit", "code": "PLAN_LIMIT_REACHED", '
        b'"feature": "calendarConnections"}'
    )

    error = _error(406, body, reason="Not Acceptable")

    assert isinstance(error, errors.PlanLimitError)
    assert error.code == "PLAN_LIMIT_REACHED"
    assert error.feature == "calendarConnections"


@pytest.mark.parametrize("body", [b"", b'{"message": "m"}', b'{"code": 1, "feature": null}', b"x"])
def test_error_for_status_plan_limit_without_code(body: bytes) -> None:
    error = _error(406, body)

    assert isinstance(error, errors.PlanLimitError)
    assert error.code is None
    assert error.feature is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:05 GMT"}, 5.0),
        ({"Retry-After-short": "3"}, 3.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_error_for_status_rate_limit_reads_retry_after(
    headers: dict[str, str], expected: float | None
) -> None:
    body = b'{"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"}'

    error = _error(429, body, reason="Too Many Requests", headers=headers)

    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == expected
    assert error.message == "Too Many Requests"


def test_error_for_status_keeps_the_response_headers() -> None:
    error = _error(409, b"{}", headers={"X-Thing": "1"})

    assert error.headers == {"X-Thing": "1"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ak_live:uuid-1:s3cr3t-value", ("ak_live:uuid-1:s3cr3t-value", "s3cr3t-value")),
        ("ak_live:uuid-1:short", ("ak_live:uuid-1:short",)),
        ("rgo-" + "x" * 32, ("rgo-" + "x" * 32,)),
    ],
)
def test_secret_parts_include_an_api_keys_secret(key: str, expected: tuple[str, ...]) -> None:
    assert _answers.secret_parts(key) == expected


def test_an_echoed_credential_is_redacted_from_the_error() -> None:
    secrets = _answers.secret_parts("ak_live:uuid-1:s3cr3t-value")
    error = _answers.error_for_status(
        401,
        "Unauthorized",
        {"WWW-Authenticate": 'Bearer error="invalid_token" s3cr3t-value'},
        b'{"message": "invalid token: Bearer ak_live:uuid-1:s3cr3t-value"}',
        method="GET",
        path="/x",
        secrets=secrets,
    )
    assert "s3cr3t" not in f"{error!s}{error!r}{error.body}{error.headers}"
    assert error.message == "invalid token: Bearer ***"
