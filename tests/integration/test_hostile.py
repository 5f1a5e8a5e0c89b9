"""Hostile and broken answers over a real socket: never a crash, a hang or a raw aiohttp error.

Each case runs against a server on 127.0.0.1 that the test starts: ``FakeMeetergo`` with a
scripted answer where aiohttp can still express the misbehaviour, a raw ``aiohttp.web``
handler for large or chunked bodies, and a raw TCP server for byte-level faults.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from meetergo_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    CalendarConnection,
    CalendarConnectionUpdate,
    ConflictError,
    MeetergoClient,
    MeetergoError,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    ServerError,
)
from meetergo_async.testing import DEFAULT_API_KEY, DEFAULT_USER_ID, FakeMeetergo
from tests.helpers import FakeTime
from tests.integration._servers import (
    CONNECTIONS,
    acquired_connections,
    connection_path,
    http_server,
    read_request,
    refused_port,
    tcp_server,
    wait_for_eof,
)

CID = "conn-0000"
PATH = connection_path(CID)
UPDATE = CalendarConnectionUpdate(validate_availability=True)
ONCE = RetryPolicy(max_attempts=1)
CAP = 1024
BIG = 1024 * 1024
LOGGER = "meetergo_async"


def make_client(base_url: str, fake_time: FakeTime, **options: Any) -> MeetergoClient:
    settings: dict[str, Any] = {
        "api_key": DEFAULT_API_KEY,
        "user_id": DEFAULT_USER_ID,
        "base_url": base_url,
        "rate_limit": None,
        "clock": fake_time.clock,
        "sleep": fake_time.sleep,
    } | options
    return MeetergoClient(**settings)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.partition(".")[0] == LOGGER and r.levelno == logging.WARNING
    ]


def assert_readable(error: MeetergoError) -> None:
    """The message is short, non-blank text that prints and encodes cleanly, on one line."""
    assert isinstance(error.message, str)
    assert error.message.strip()
    assert len(error.message) <= 500
    assert len(str(error)) <= 200
    for text in (error.message, str(error), repr(error)):
        text.encode("utf-8")  # no lone surrogates from a bad decode
        assert text.isprintable(), text  # no NUL, CR, LF


@pytest.fixture
async def fake() -> AsyncIterator[FakeMeetergo]:
    async with FakeMeetergo(generate=3, rate_limit=None) as server:
        yield server


# -- 2xx with a body that is not the connection ----------------------------------------


HOSTILE_SUCCESS_BODIES = [
    pytest.param({}, False, id="empty"),
    pytest.param({"json": [{"id": "conn-9999"}]}, True, id="json-array"),
    pytest.param({"json": "Connection updated successfully"}, True, id="json-string"),
    pytest.param({"json": 42}, True, id="json-number"),
    pytest.param(
        {
            "body": "<html><body><h1>Welcome to nginx!</h1></body></html>",
            "headers": {"Content-Type": "text/html"},
        },
        True,
        id="html",
    ),
    pytest.param(
        {"body": b'{"id": "\xff\xfe\xfa", "provider": "google"}'}, True, id="invalid-utf8"
    ),
    pytest.param({"body": b'{"id": "conn-0000", "provider": "goo'}, True, id="truncated-json"),
    pytest.param({"body": b"[" * 100_000 + b"]" * 100_000}, True, id="deeply-nested"),
]


@pytest.mark.parametrize(("answer", "warns"), HOSTILE_SUCCESS_BODIES)
async def test_a_2xx_with_a_hostile_body_gives_the_requested_connection(
    fake: FakeMeetergo,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    answer: dict[str, Any],
    warns: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.enqueue("PATCH", PATH, 200, **answer)
    async with make_client(fake.url, fake_time) as client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result == CalendarConnection(id=CID)
    assert len(fake.requests) == 1  # a 2xx is final, whatever its body
    if warns:
        assert warnings_of(caplog), "a malformed 2xx body must be logged as a warning"
    else:
        assert warnings_of(caplog) == []  # an empty body is a documented possibility


@pytest.mark.parametrize("status", [201, 202, 204])
async def test_another_2xx_without_a_body_gives_the_requested_connection(
    fake: FakeMeetergo, fake_time: FakeTime, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.enqueue("PATCH", PATH, status)
    async with make_client(fake.url, fake_time) as client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result == CalendarConnection(id=CID)
    assert len(fake.requests) == 1
    assert warnings_of(caplog) == []


HOSTILE_LIST_BODIES = [
    pytest.param({"json": [{"id": "conn-1"}]}, [], id="json-array"),
    pytest.param({"body": "<html>maintenance</html>"}, [], id="html"),
    pytest.param({"json": {"connections": "none"}}, [], id="connections-not-a-list"),
    pytest.param({"body": b'{"connections": [{"id": "a"'}, [], id="truncated-json"),
    pytest.param(
        {"json": {"connections": [1, None, {"id": 5}, {"id": "ok"}, "x"]}}, ["ok"], id="mixed"
    ),
]


@pytest.mark.parametrize(("answer", "ids"), HOSTILE_LIST_BODIES)
async def test_a_hostile_list_body_gives_the_usable_entries_and_a_warning(
    fake: FakeMeetergo,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    answer: dict[str, Any],
    ids: list[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.enqueue("GET", CONNECTIONS, 200, **answer)
    async with make_client(fake.url, fake_time) as client:
        listed = await client.list_calendar_connections()
    assert [c.id for c in listed] == ids
    assert warnings_of(caplog)


# -- error statuses with broken bodies -------------------------------------------------

NGINX_502 = (
    "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    + "<center><h1>502 Bad Gateway</h1></center>\n" * 30
    + "<hr><center>nginx/1.25.3</center>\n</body>\n</html>\n"
)


async def test_a_502_html_page_is_a_server_error_read_by_the_pages_title(
    fake: FakeMeetergo, fake_time: FakeTime
) -> None:
    fake.enqueue("PATCH", PATH, 502, body=NGINX_502, headers={"Content-Type": "text/html"})
    async with make_client(fake.url, fake_time, retry=ONCE) as client:
        with pytest.raises(ServerError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    error = caught.value
    assert error.status == 502
    assert error.attempts == 1
    assert len(fake.requests) == 1
    assert error.message == "502 Bad Gateway"
    assert str(error) == f"meetergo API 502 Bad Gateway: 502 Bad Gateway (PATCH {PATH})"
    assert error.body == NGINX_502  # the whole page is kept
    assert_readable(error)


async def test_a_502_html_page_is_retried_then_raised_with_the_attempts(
    fake: FakeMeetergo, fake_time: FakeTime
) -> None:
    for _ in range(3):
        fake.enqueue("PATCH", PATH, 502, body=NGINX_502, headers={"Content-Type": "text/html"})
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.1)
    async with make_client(fake.url, fake_time, retry=policy) as client:
        with pytest.raises(ServerError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    assert caught.value.attempts == 3
    assert len(fake.requests) == 3
    assert len(fake_time.sleeps) == 2


BROKEN_ERROR_BODIES = [
    pytest.param(
        404, b'{"statusCode":404,"message":"Connection not f', NotFoundError, id="truncated-json"
    ),
    pytest.param(403, b"\xff\xfeForbidden \xc3\x28 resource", PermissionDeniedError, id="bad-utf8"),
    pytest.param(400, b'["primaryCalendar must be a string"]', BadRequestError, id="json-array"),
    pytest.param(409, b'"conflict"', ConflictError, id="json-string"),
    pytest.param(406, b"", PlanLimitError, id="empty"),
    pytest.param(500, b'{"statusCode":500,"mess', ServerError, id="truncated-5xx"),
    pytest.param(429, b"\xc3\x28", RateLimitError, id="bad-utf8-429"),
    pytest.param(418, b"<html>I'm a teapot</html>", APIStatusError, id="unknown-status-html"),
]


@pytest.mark.parametrize(("status", "body", "kind"), BROKEN_ERROR_BODIES)
async def test_an_error_status_with_a_broken_body_is_the_typed_error_with_a_readable_message(
    fake: FakeMeetergo,
    fake_time: FakeTime,
    status: int,
    body: bytes,
    kind: type[APIStatusError],
) -> None:
    fake.enqueue("PATCH", PATH, status, body=body)
    async with make_client(fake.url, fake_time, retry=ONCE) as client:
        with pytest.raises(kind) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    error = caught.value
    assert type(error) is kind
    assert error.status == status
    assert_readable(error)
    if body.startswith(b"["):
        assert error.body == json.loads(body)


# -- body size ---------------------------------------------------------------------------


class StagedBody:
    """A raw server that announces a 1 MB body but sends only its first 16 KiB at once.

    Then it waits for the client to go away; only a client that stays (and so would read
    the whole body) gets the rest. ``sent`` counts the body bytes written before that.
    """

    FIRST = 16 * 1024

    def __init__(self, status: int, reason: str, *, chunked: bool) -> None:
        self.status, self.reason, self.chunked = status, reason, chunked
        self.sent = 0
        self.client_left: bool | None = None
        self.decided = asyncio.Event()  # set once the server knows whether the client left

    def _frame(self, piece: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        framing = "Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {BIG}"
        head = f"HTTP/1.1 {self.status} {self.reason}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}{framing}\r\n\r\n".encode())
        piece = b"x" * 1024
        for _ in range(self.FIRST // len(piece)):
            writer.write(self._frame(piece))
            self.sent += len(piece)
        await writer.drain()
        self.client_left = await wait_for_eof(reader, timeout=2.0)
        self.decided.set()
        if self.client_left:
            return
        while self.sent < BIG:
            writer.write(self._frame(piece))
            self.sent += len(piece)
            await writer.drain()
        if self.chunked:
            writer.write(b"0\r\n\r\n")
        await writer.drain()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    ("status", "reason"), [(200, "OK"), (400, "Bad Request"), (503, "Service Unavailable")]
)
async def test_a_body_over_the_cap_is_never_read_to_its_end(
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    chunked: bool,
    status: int,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = StagedBody(status, reason, chunked=chunked)
    loop = asyncio.get_running_loop()
    async with tcp_server(server.handle) as url:
        client = make_client(url, fake_time, retry=ONCE, max_response_bytes=CAP)
        async with client:
            started = loop.time()
            try:
                result: object = await client.update_calendar_connection(CID, UPDATE)
            except MeetergoError as error:
                result = error
            elapsed = loop.time() - started
            async with asyncio.timeout(3.0):
                await server.decided.wait()
    assert elapsed < 1.0, "the client waited for the body past its cap"
    assert server.client_left, "the client kept the connection open for the rest of the body"
    assert server.sent < BIG
    if status == 200:
        assert result == CalendarConnection(id=CID)
    else:
        assert isinstance(result, APIStatusError)
        assert result.status == status
        assert result.message == reason
        assert_readable(result)
    assert any(str(CAP) in message for message in warnings_of(caplog))


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("encoding", sorted(COMPRESSORS))
@pytest.mark.parametrize("status", [200, 400])
async def test_a_compressed_body_is_capped_by_its_decoded_size(
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    chunked: bool,
    encoding: str,
    status: int,
) -> None:
    # A ~1 KB body on the wire that inflates to ~900 KB: the cap bounds what the client
    # holds in memory, so the wire size (Content-Length) must not decide alone.
    caplog.set_level(logging.DEBUG)
    document = {"id": CID, "message": "inflated", "pad": "x" * 900_000}
    wire = COMPRESSORS[encoding](json.dumps(document).encode())
    assert len(wire) <= CAP

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await request.read()
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        if not chunked:
            return web.Response(body=wire, status=status, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(wire)
        await response.write_eof()
        return response

    async with (
        http_server(handler) as url,
        make_client(url, fake_time, retry=ONCE, max_response_bytes=CAP) as client,
    ):
        try:
            result: object = await client.update_calendar_connection(CID, UPDATE)
        except MeetergoError as error:
            result = error
    if status == 200:
        assert result == CalendarConnection(id=CID), "a body over the cap was read"
    else:
        assert isinstance(result, BadRequestError)
        assert result.body is None, "a body over the cap was read"
        assert result.message == "Bad Request"
    assert any(str(CAP) in message for message in warnings_of(caplog))


def exact_json(size: int) -> bytes:
    """A JSON connection object of exactly ``size`` bytes."""
    empty = json.dumps({"id": CID, "provider": "google", "pad": ""}).encode()
    body = json.dumps({"id": CID, "provider": "google", "pad": "x" * (size - len(empty))})
    assert len(body.encode()) == size
    return body.encode()


async def serve_bytes(
    request: web.BaseRequest, body: bytes, *, chunked: bool
) -> web.StreamResponse:
    await request.read()
    if not chunked:
        return web.Response(body=body, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(body), 8192):
        await response.write(body[start : start + 8192])
    await response.write_eof()
    return response


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_large_allowed_body_over_64_kib_parses(
    fake_time: FakeTime, caplog: pytest.LogCaptureFixture, chunked: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    notes = "n" * 300_000
    document = {"id": CID, "provider": "google", "selectedCalendars": ["primary"], "notes": notes}
    body = json.dumps(document).encode()
    assert len(body) > 64 * 1024

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return await serve_bytes(request, body, chunked=chunked)

    async with http_server(handler) as url, make_client(url, fake_time) as client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result.id == CID
    assert result.provider == "google"
    assert result.selected_calendars == ("primary",)
    assert result.extra == {"notes": notes}
    assert warnings_of(caplog) == []


async def test_a_large_list_over_64_kib_parses_every_connection(fake_time: FakeTime) -> None:
    fake = FakeMeetergo(generate=1500, rate_limit=None)
    async with fake, make_client(fake.url, fake_time) as client:
        listed = await client.list_calendar_connections()
    assert len(listed) == 1500
    assert {c.id for c in listed} == set(fake.connections)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("size", "complete"), [(CAP, True), (CAP + 1, False)])
async def test_the_cap_is_inclusive(
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
    chunked: bool,
    size: int,
    complete: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = exact_json(size)

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return await serve_bytes(request, body, chunked=chunked)

    async with (
        http_server(handler) as url,
        make_client(url, fake_time, max_response_bytes=CAP) as client,
    ):
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result.id == CID
    assert (result.provider == "google") is complete
    assert bool(warnings_of(caplog)) is not complete


# -- redirects -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_not_followed_and_the_credential_stays_home(
    fake: FakeMeetergo, fake_time: FakeTime, status: int
) -> None:
    async with FakeMeetergo(generate=3, rate_limit=None) as elsewhere:
        location = elsewhere.url + PATH
        fake.enqueue("PATCH", PATH, status, headers={"Location": location})
        async with make_client(fake.url, fake_time) as client:
            with pytest.raises(APIStatusError) as caught:
                await client.update_calendar_connection(CID, UPDATE)
        assert elsewhere.requests == []
    error = caught.value
    assert type(error) is APIStatusError
    assert error.status == status
    assert error.attempts == 1
    assert error.headers.get("Location") == location
    assert len(fake.requests) == 1
    assert_readable(error)


# -- stalls and cuts ---------------------------------------------------------------------

HEAD_100 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"


class Stalling:
    """A raw server that sends ``prefix`` and then nothing until the client leaves."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await read_request(reader)
        writer.write(self.prefix)
        await writer.drain()
        await wait_for_eof(reader, timeout=5.0)


STALLS = [
    pytest.param(HEAD_100, 0.3, id="after-headers"),
    pytest.param(HEAD_100 + b'{"id": "co', 0.15, id="mid-body"),
    pytest.param(b"", 0.15, id="before-headers"),
]


@pytest.mark.parametrize(("prefix", "timeout"), STALLS)
async def test_a_stalled_answer_is_a_timeout_within_the_clients_timeout(
    fake_time: FakeTime, prefix: bytes, timeout: float
) -> None:
    server = Stalling(prefix)
    loop = asyncio.get_running_loop()
    async with (
        tcp_server(server.handle) as url,
        make_client(url, fake_time, timeout=timeout, retry=ONCE) as client,
    ):
        started = loop.time()
        with pytest.raises(APITimeoutError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
        elapsed = loop.time() - started
    assert timeout * 0.9 <= elapsed < timeout + 0.7
    assert caught.value.attempts == 1
    assert server.connections == 1
    assert_readable(caught.value)


async def test_a_stalled_answer_is_retried_and_the_timeout_carries_the_attempts(
    fake_time: FakeTime,
) -> None:
    server = Stalling(HEAD_100)
    policy = RetryPolicy(max_attempts=2, initial_backoff=0.1)
    async with (
        tcp_server(server.handle) as url,
        make_client(url, fake_time, timeout=0.15, retry=policy) as client,
    ):
        with pytest.raises(APITimeoutError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    assert caught.value.attempts == 2
    assert server.connections == 2


GOOD_ANSWER = json.dumps({"id": CID, "provider": "google"}).encode()
CUTS = [
    pytest.param(HEAD_100 + b'{"id": "co', id="content-length"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b'\r\na\r\n{"id": "co\r\n',
        id="chunked",
    ),
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Ty", id="mid-headers"),
    pytest.param(b"", id="no-answer"),
    pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", id="not-http"),
    pytest.param(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 20_000 + b"\r\n\r\n", id="huge-header"),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot gzip!!",
        id="corrupt-gzip",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
        id="length-and-chunked",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
        id="two-lengths",
    ),
]


class Cutting:
    """A raw server that cuts the first ``cuts`` connections after ``prefix``, then answers."""

    def __init__(self, prefix: bytes, cuts: int) -> None:
        self.prefix, self.cuts = prefix, cuts
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await read_request(reader)
        if self.connections <= self.cuts:
            writer.write(self.prefix)
            await writer.drain()
            return  # tcp_server closes the connection
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        writer.write(f"{head}Content-Length: {len(GOOD_ANSWER)}\r\n\r\n".encode() + GOOD_ANSWER)
        await writer.drain()


@pytest.mark.parametrize("prefix", CUTS)
async def test_a_connection_cut_mid_answer_is_a_connection_error_with_its_cause(
    fake_time: FakeTime, prefix: bytes
) -> None:
    server = Cutting(prefix, cuts=1)
    async with tcp_server(server.handle) as url, make_client(url, fake_time, retry=ONCE) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    error = caught.value
    assert not isinstance(error, APITimeoutError)
    assert isinstance(error.__cause__, aiohttp.ClientError)
    assert error.attempts == 1
    assert_readable(error)


@pytest.mark.parametrize("prefix", CUTS)
async def test_a_patch_cut_mid_answer_is_sent_again(fake_time: FakeTime, prefix: bytes) -> None:
    server = Cutting(prefix, cuts=2)
    async with tcp_server(server.handle) as url, make_client(url, fake_time) as client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result == CalendarConnection(id=CID, provider="google")
    assert server.connections == 3
    assert len(fake_time.sleeps) == 2


class FixedAnswer:
    """A raw server that answers every request with the same bytes and closes."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        self.requests += 1
        writer.write(self.answer)
        await writer.drain()


@pytest.mark.parametrize("status", [600, 799, 999])
async def test_a_status_beyond_5xx_is_a_plain_status_error_not_a_server_error(
    fake_time: FakeTime, status: int
) -> None:
    body = b'{"message": "beyond HTTP"}'
    head = f"HTTP/1.1 {status} Odd\r\nContent-Type: application/json\r\nConnection: close\r\n"
    server = FixedAnswer(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    async with tcp_server(server.handle) as url, make_client(url, fake_time) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.update_calendar_connection(CID, UPDATE)
    error = caught.value
    assert error.status == status
    assert error.message == "beyond HTTP"
    assert not isinstance(error, ServerError), "ServerError is documented as 5xx"
    assert server.requests == 1


class Smuggling:
    """A raw keep-alive server whose first answer carries a second, forged answer after it.

    Its ``Content-Length`` covers only ``{}``; the bytes after it look like a complete
    response. A client that keeps the connection would take them as its next answer.
    """

    FORGED = json.dumps({"id": CID, "provider": "forged"}).encode()
    REAL = json.dumps({"id": CID, "provider": "real"}).encode()

    def __init__(self) -> None:
        self.requests = 0

    @staticmethod
    def answer(body: bytes) -> bytes:
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            self.requests += 1
            first = self.requests == 1
            writer.write(self.answer(b"{}") + self.answer(self.FORGED) if first else b"")
            writer.write(b"" if first else self.answer(self.REAL))
            await writer.drain()


async def test_bytes_after_a_complete_answer_are_not_taken_as_the_next_answer(
    fake_time: FakeTime,
) -> None:
    server = Smuggling()
    async with tcp_server(server.handle) as url, make_client(url, fake_time) as client:
        first = await client.update_calendar_connection(CID, UPDATE)
        second = await client.update_calendar_connection(CID, UPDATE)
    assert first == CalendarConnection(id=CID)
    assert second.provider == "real"
    assert server.requests == 2


async def test_a_refused_connection_is_a_connection_error(fake_time: FakeTime) -> None:
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        async with make_client(url, fake_time, retry=ONCE) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.update_calendar_connection(CID, UPDATE)
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)
        assert caught.value.attempts == 1
        refused = f"could not connect to 127.0.0.1:{port} (connection refused)"
        assert str(caught.value) == f"{refused} (PATCH {PATH})"
        assert_readable(caught.value)

        policy = RetryPolicy(max_attempts=3, initial_backoff=0.5)
        async with make_client(url, fake_time, retry=policy) as client:
            with pytest.raises(APIConnectionError) as caught:
                await client.list_calendar_connections()
        error = caught.value
        assert error.attempts == 3
        # Time spent is the call's own, on its clock: here the retry waits and nothing else.
        assert error.elapsed == pytest.approx(sum(fake_time.sleeps))
        said = f"{refused}; 3 attempts over {error.elapsed:.1f}s (GET {CONNECTIONS})"
        assert str(error) == said
        assert "Cannot connect" not in str(error)
        assert "ssl:" not in str(error)


# -- Retry-After that is not a number of seconds ---------------------------------------


@pytest.mark.parametrize("header", ["Retry-After", "Retry-After-short", "retry-after-ms"])
@pytest.mark.parametrize(
    "value", ["-5", "1e309", "nan", "tomorrow", "inf", "Infinity", "-0.5", "0x10", "", " "]
)
async def test_a_garbage_retry_after_is_treated_as_absent(
    fake: FakeMeetergo, fake_time: FakeTime, header: str, value: str
) -> None:
    fake.enqueue("PATCH", PATH, 429, headers={header: value})
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.5, max_retry_after=60.0)
    async with make_client(fake.url, fake_time, retry=policy, on_retry=events.append) as client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result.id == CID
    assert len(fake.requests) == 2
    assert [e.attempt for e in events] == [1]
    error = events[0].error
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
    assert fake_time.sleeps, "the retry must wait its backoff"
    assert all(0.0 <= s <= 0.5 for s in fake_time.sleeps), fake_time.sleeps


# -- the failed response is released before the wait -------------------------------------

FAILURES = [
    pytest.param({"status": 503}, id="503-json"),
    pytest.param({"status": 503, "body": b"x" * (256 * 1024)}, id="503-over-the-cap"),
    pytest.param({"status": 429, "headers": {"Retry-After": "1"}}, id="429"),
    pytest.param({"status": 200, "drop": True}, id="dropped"),
]


@pytest.mark.parametrize("failure", FAILURES)
async def test_the_failed_response_is_released_before_the_retry_wait(
    fake: FakeMeetergo, fake_time: FakeTime, failure: dict[str, Any]
) -> None:
    options = dict(failure)
    status = options.pop("status")
    fake.enqueue("PATCH", PATH, status, **options)
    fake.enqueue("PATCH", PATH, status, **options)
    held: list[int] = []

    async def checking_sleep(seconds: float) -> None:
        held.append(acquired_connections(client))
        await fake_time.sleep(seconds)

    client = make_client(fake.url, fake_time, sleep=checking_sleep, max_response_bytes=CAP)
    async with client:
        result = await client.update_calendar_connection(CID, UPDATE)
    assert result.id == CID
    assert len(fake.requests) == 3
    assert held, "the retry did not wait"
    assert held == [0] * len(held), "a connection was still held during the wait"
