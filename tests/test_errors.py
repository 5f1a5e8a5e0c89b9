"""The exception tree, its defaults and how errors render."""

from __future__ import annotations

import pytest

import meetergo_async
from meetergo_async import errors

STATUS_CLASSES = [
    errors.BadRequestError,
    errors.AuthenticationError,
    errors.PermissionDeniedError,
    errors.NotFoundError,
    errors.PlanLimitError,
    errors.ConflictError,
    errors.RateLimitError,
    errors.ServerError,
]
ALL_CLASSES = [
    errors.MeetergoError,
    errors.APIConnectionError,
    errors.APITimeoutError,
    errors.APITLSError,
    errors.APIStatusError,
    *STATUS_CLASSES,
]
SECRET = "ak_live:2f1d6c1e-1111-4a4a-9c9c-000000000001:s3cr3t-test-key"


def _make(cls: type[errors.MeetergoError], message: str = "boom") -> errors.MeetergoError:
    if issubclass(cls, errors.APIStatusError):
        return cls(message, status=400, reason="Reason", method="PATCH", path="/p")
    return cls(message, method="PATCH", path="/p")


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_every_error_is_a_meetergo_error_and_an_exception(
    cls: type[errors.MeetergoError],
) -> None:
    assert issubclass(cls, errors.MeetergoError)
    assert issubclass(cls, Exception)
    with pytest.raises(errors.MeetergoError):
        raise _make(cls)


def test_timeout_and_tls_errors_are_connection_errors() -> None:
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    assert issubclass(errors.APITLSError, errors.APIConnectionError)
    assert not issubclass(errors.APITLSError, errors.APITimeoutError)
    assert not issubclass(errors.APIConnectionError, errors.APIStatusError)
    assert not issubclass(errors.APIStatusError, errors.APIConnectionError)


@pytest.mark.parametrize("cls", STATUS_CLASSES)
def test_status_classes_are_api_status_errors(cls: type[errors.APIStatusError]) -> None:
    assert issubclass(cls, errors.APIStatusError)
    assert not issubclass(cls, errors.APIConnectionError)


def test_status_classes_are_distinct_leaves() -> None:
    for cls in STATUS_CLASSES:
        others = [other for other in STATUS_CLASSES if other is not cls]
        assert not any(issubclass(cls, other) for other in others)


def test_public_surface_exports_every_error() -> None:
    for name in errors.__all__:
        assert getattr(meetergo_async, name) is getattr(errors, name)
        assert name in meetergo_async.__all__


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_attempts_defaults_to_one(cls: type[errors.MeetergoError]) -> None:
    assert _make(cls).attempts == 1


def test_base_error_without_a_request() -> None:
    error = errors.MeetergoError("something broke")

    assert error.message == "something broke"
    assert error.method == ""
    assert error.path == ""
    assert str(error) == "something broke"
    assert repr(error) == "MeetergoError('something broke', attempts=1)"


def test_connection_error_str_and_repr_name_the_request() -> None:
    error = errors.APIConnectionError("connection reset", method="GET", path="/v4/x")

    assert str(error) == "connection reset (GET /v4/x)"
    assert repr(error) == "APIConnectionError('connection reset (GET /v4/x)', attempts=1)"
    assert error.elapsed is None


@pytest.mark.parametrize(
    ("attempts", "elapsed", "said"),
    [
        (1, 0.4, ""),
        (3, None, "; 3 attempts"),
        (5, 3.24, "; 5 attempts over 3.2s"),
        (5, 119.96, "; 5 attempts over 120s"),
    ],
)
def test_connection_error_str_says_the_attempts_and_the_time_spent(
    attempts: int, elapsed: float | None, said: str
) -> None:
    error = errors.APIConnectionError(
        "could not connect to api.meetergo.com:443 (connection refused)",
        method="PATCH",
        path="/v4/x",
    )
    error.attempts, error.elapsed = attempts, elapsed

    assert str(error) == (
        f"could not connect to api.meetergo.com:443 (connection refused){said} (PATCH /v4/x)"
    )
    assert repr(error) == f"APIConnectionError({str(error)!r}, attempts={attempts})"


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_str_is_at_most_200_characters_and_keeps_the_request(
    cls: type[errors.MeetergoError],
) -> None:
    error = _make(cls, "word " * 100)
    error.attempts, error.elapsed = 12, 61.5

    assert len(str(error)) == 200
    connection = issubclass(cls, errors.APIConnectionError)
    assert str(error).endswith(
        "…; 12 attempts over 61.5s (PATCH /p)" if connection else "… (PATCH /p)"
    )
    assert error.message == "word " * 100  # the message itself is kept whole


def test_status_error_attributes_and_str() -> None:
    error = errors.NotFoundError(
        "Connection not found",
        status=404,
        reason="Not Found",
        body={"message": "Connection not found"},
        headers={"X-Request-Id": "r-1"},
        request_id="r-1",
        method="PATCH",
        path="/v4/calendar-connections/connections/conn-1",
    )

    assert error.status == 404
    assert error.reason == "Not Found"
    assert error.body == {"message": "Connection not found"}
    assert error.headers == {"X-Request-Id": "r-1"}
    assert error.retry_after is None
    assert str(error) == (
        "meetergo API 404 Not Found: Connection not found "
        "(PATCH /v4/calendar-connections/connections/conn-1) [request id r-1]"
    )
    assert repr(error).startswith("NotFoundError('meetergo API 404 Not Found: ")


def test_status_error_headers_are_a_copy() -> None:
    headers = {"A": "1"}
    error = errors.APIStatusError("m", status=418, headers=headers)
    headers["A"] = "2"

    assert error.headers == {"A": "1"}
    assert errors.APIStatusError("m", status=418).headers == {}


def test_rate_limit_error_carries_retry_after() -> None:
    error = errors.RateLimitError("Too Many Requests", status=429, retry_after=2.5)

    assert error.retry_after == 2.5


@pytest.mark.parametrize(
    ("body", "code", "feature"),
    [
        ({"code": "PLAN_LIMIT_REACHED", "feature": "calendars"}, "PLAN_LIMIT_REACHED", "calendars"),
        ({"code": 7, "feature": ["x"]}, None, None),
        ({}, None, None),
        ("PLAN_LIMIT_REACHED", None, None),
        (None, None, None),
    ],
)
def test_plan_limit_code_and_feature(body: object, code: str | None, feature: str | None) -> None:
    error = errors.PlanLimitError("limit", status=406, body=body)

    assert error.code == code
    assert error.feature == feature


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_str_and_repr_never_render_headers_or_body(cls: type[errors.MeetergoError]) -> None:
    # Even if a proxy echoed the credential into the response, rendering the error must not
    # repeat it: only the message, status, reason, request and request id are shown.
    if issubclass(cls, errors.APIStatusError):
        error: errors.MeetergoError = cls(
            "denied",
            status=401,
            reason="Unauthorized",
            body={"echo": f"Bearer {SECRET}"},
            headers={"Authorization": f"Bearer {SECRET}", "X-Echo": SECRET},
            method="PATCH",
            path="/p",
        )
    else:
        error = cls("denied", method="PATCH", path="/p")

    for rendered in (str(error), repr(error), *map(str, error.args)):
        assert SECRET not in rendered
        assert "s3cr3t" not in rendered
