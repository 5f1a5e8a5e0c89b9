"""Readable error messages: a body summarized to one line, ``str(error)`` within 200 chars.

Pure functions of ``_answers`` and ``errors``, table-driven, with no server.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meetergo_async import _answers, errors

PATH = "/v4/calendar-connections/connections/conn-1"
LIMIT = 200

NGINX_502 = (
    "<!DOCTYPE html>\r\n<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    + "<center><h1>502 Bad Gateway</h1></center>\r\n" * 30
    + "<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
)
BRANDED = """<!doctype html>
<html lang="en"><head>
  <meta charset="utf-8">
  <style>body { font-family: "Brand Sans"; color: #333 } .logo { width: 120px }</style>
  <script>window.dataLayer = [{"page": "error"}];</script>
</head>
<body>
  <div class="logo"><svg><title>Acme logo</title></svg></div>
  <h1>We&rsquo;ll be right back</h1>
  <p>Our service is   undergoing
     maintenance &amp; will return at 14:00 UTC.</p>
  <script>track("5xx")</script>
</body></html>"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(NGINX_502, "502 Bad Gateway", id="nginx-title"),
        pytest.param(
            BRANDED,
            "Acme logo We\u2019ll be right back Our service is undergoing maintenance & will "
            "return at 14:00 UTC.",
            id="branded-no-title-no-css",
        ),
        pytest.param("<html><body>Upstream\r\n\r\n timed out</body></html>", "Upstream timed out"),
        pytest.param("<html><title> Down </title></html>", "Down", id="title-trimmed"),
        pytest.param("<html><title></title><p>first text</p></html>", "first text"),
        pytest.param("<head><title>Maintenance", "Maintenance", id="unclosed"),
        pytest.param(
            "<head><style>p {}</style><body>text after an open head",
            "text after an open head",
            id="body-ends-head",
        ),
        pytest.param("<html><body>Down<![bogus]> again</body></html>", "Down", id="parser-refuses"),
        pytest.param("<html></html>", "", id="no-text"),
        pytest.param("\ufeff  <p>after a BOM</p>", "after a BOM"),
        pytest.param("plain\r\ntext\twith\x00controls", "plain text with controls"),
        pytest.param(
            '{"code": "PLAN_LIMIT_REACHED",\n "feature": "seats"}',
            '{"code": "PLAN_LIMIT_REACHED", "feature": "seats"}',
            id="json",
        ),
        pytest.param("a < b", "a < b", id="not-markup"),
        pytest.param("", ""),
    ],
)
def test_summarize(text: str, expected: str) -> None:
    assert _answers.summarize(text) == expected


def _error(
    status: int,
    body: bytes,
    *,
    reason: str = "Reason",
    headers: dict[str, str] | None = None,
    path: str = PATH,
    secrets: tuple[str, ...] = (),
) -> errors.APIStatusError:
    return _answers.error_for_status(
        status, reason, headers or {}, body, method="PATCH", path=path, secrets=secrets
    )


def test_a_gateway_page_reads_as_its_title_and_keeps_its_body() -> None:
    error = _error(502, NGINX_502.encode(), reason="Bad Gateway")

    assert str(error) == f"meetergo API 502 Bad Gateway: 502 Bad Gateway (PATCH {PATH})"
    assert error.body == NGINX_502


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (406, b'{"code": "PLAN_LIMIT_REACHED", "feature": "seats"}', "Not Acceptable"),
        (403, b'{"code": "PLAN_LIMIT_REACHED", "feature": "seats"}', "Forbidden"),
        (400, b'{"statusCode": 400, "error": "Bad Request"}', "Bad Request"),
    ],
)
def test_a_json_body_without_message_shows_its_text(status: int, body: bytes, reason: str) -> None:
    error = _error(status, body, reason=reason)

    assert error.message == body.decode()
    assert str(error) == f"meetergo API {status} {reason}: {body.decode()} (PATCH {PATH})"
    assert isinstance(error.body, dict)


@pytest.mark.parametrize(
    "body",
    [
        b"x" * 5000,
        b'{"message": "' + b"long validation message " * 40 + b'"}',
        b'{"code": "PLAN_LIMIT_REACHED", "detail": "' + b"d" * 400 + b'"}',
        ("<html><body>" + "<p>Something went wrong on our side.</p>\r\n" * 50).encode(),
    ],
    ids=["text", "json-message", "json-no-message", "html"],
)
@pytest.mark.parametrize("request_id", [None, "req-" + "7" * 36])
def test_str_of_a_status_error_is_cut_to_200_characters_keeping_its_frame(
    body: bytes, request_id: str | None
) -> None:
    headers = {"X-Request-Id": request_id} if request_id else {}
    error = _error(504, body, reason="Gateway Timeout", headers=headers)
    text = str(error)

    assert len(text) == LIMIT
    assert text.startswith("meetergo API 504 Gateway Timeout: ")
    tail = f" (PATCH {PATH})" + (f" [request id {request_id}]" if request_id else "")
    assert text.endswith("…" + tail)
    assert "\r" not in text
    assert "\n" not in text
    assert len(error.message) > len(text) - len(tail)  # the message itself is not cut to fit


def test_a_short_error_is_not_cut() -> None:
    error = _error(404, b'{"message": "Connection not found"}', reason="Not Found")

    assert str(error) == f"meetergo API 404 Not Found: Connection not found (PATCH {PATH})"


def test_a_path_too_long_to_fit_is_cut_too() -> None:
    error = _error(404, b'{"message": "nope"}', path="/v4/x/" + "a" * 300)

    assert len(str(error)) == LIMIT
    assert str(error).endswith("…")


SECRET = "ak_live:uuid-1:s3cr3t-value"


@pytest.mark.parametrize(
    "page",
    [
        f"<html><title>invalid token {SECRET}</title></html>",
        "<html><body>invalid token ak_live&#58;uuid-1&#58;s3cr3t&#45;value</body></html>",
        "<html><title>invalid token s3cr3t&#x2d;value</title></html>",
    ],
)
def test_an_echoed_credential_is_redacted_from_a_page_summary(page: str) -> None:
    error = _error(401, page.encode(), secrets=_answers.secret_parts(SECRET))

    # A page may spell the key with character references: redacted after decoding them.
    assert "s3cr3t" not in f"{error!s}{error!r}{error.message}"
    assert "***" in error.message
    assert SECRET not in str(error.body)


@given(st.text(max_size=400), st.sampled_from(["", "<html>", "<p>", "{"]))
def test_any_body_gives_one_readable_line_within_the_limit(text: str, prefix: str) -> None:
    error = _error(500, (prefix + text).encode("utf-8", "surrogatepass"), reason="Internal")
    rendered = str(error)

    assert len(rendered) <= LIMIT
    assert error.message.strip()
    assert all(ch.isprintable() for ch in rendered)
    assert rendered.startswith("meetergo API 500 Internal: ")
