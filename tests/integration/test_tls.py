"""TLS failures over real sockets: not retried, and the message says what to check.

Two servers on 127.0.0.1, each counting the connections it accepts: one speaks plain HTTP
(reached with ``https://``, the classic wrong-scheme mistake), one speaks TLS with a
self-signed certificate made for the test by the ``openssl`` command.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from meetergo_async import APITLSError, CalendarConnectionUpdate, MeetergoClient, RetryPolicy
from meetergo_async.testing import DEFAULT_API_KEY, DEFAULT_USER_ID
from tests.helpers import FakeTime
from tests.integration._servers import read_request, tcp_server

UPDATE = CalendarConnectionUpdate(validate_availability=True)
PATH = "/v4/calendar-connections/connections/conn-0000"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command makes the test certificate (Debian package openssl)"
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(  # noqa: S603 - a fixed command line
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class Counting:
    """A raw server that counts connections; with ``tls`` it does a server handshake first.

    Without TLS it answers whatever arrives with a plain-HTTP 400, as a web server's plain
    port answers a TLS client hello.
    """

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.connections = 0
        self.handshake_errors: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.tls is None:
            await reader.read(1024)
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        try:
            await writer.start_tls(self.tls)
        except (ssl.SSLError, ConnectionError) as error:
            self.handshake_errors.append(type(error).__name__)
            return
        await read_request(reader)  # a client got this far only if it took the certificate


def https_client(url: str, fake_time: FakeTime) -> MeetergoClient:
    """A client of ``url`` over https, with the default retry policy."""
    return MeetergoClient(
        DEFAULT_API_KEY,
        user_id=DEFAULT_USER_ID,
        base_url=url.replace("http:", "https:"),
        rate_limit=None,
        retry=RetryPolicy(),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )


async def fail_once(client: MeetergoClient) -> APITLSError:
    """Send one update; return the TLS error it must end with."""
    with pytest.raises(APITLSError) as caught:
        await client.update_calendar_connection("conn-0000", UPDATE)
    return caught.value


async def test_https_to_a_plain_http_port_fails_at_once_and_names_what_to_check(
    fake_time: FakeTime,
) -> None:
    server = Counting(tls=None)
    async with tcp_server(server.handle) as url, https_client(url, fake_time) as client:
        error = await fail_once(client)
    port = URL(url).port

    assert error.attempts == 1
    assert server.connections == 1, "a TLS failure was retried"
    assert fake_time.sleeps == []
    assert isinstance(error.__cause__, aiohttp.ClientSSLError)
    assert str(error) == (
        f"TLS handshake with 127.0.0.1:{port} failed (wrong version number): check the "
        f"scheme, the port (does it serve https?) and the certificate (PATCH {PATH})"
    )
    assert len(str(error)) <= 200


async def test_a_self_signed_certificate_fails_at_once_as_a_certificate_error(
    fake_time: FakeTime, self_signed: ssl.SSLContext
) -> None:
    server = Counting(tls=self_signed)
    async with tcp_server(server.handle) as url, https_client(url, fake_time) as client:
        error = await fail_once(client)
    port = URL(url).port

    assert error.attempts == 1
    assert server.connections == 1, "a certificate failure was retried"
    assert len(server.handshake_errors) == 1  # the client refused the certificate
    assert fake_time.sleeps == []
    assert isinstance(error.__cause__, aiohttp.ClientConnectorCertificateError)
    assert str(error).startswith(
        f"TLS certificate of 127.0.0.1:{port} not accepted (self-signed certificate): check "
        "the certificate"
    )
    assert len(str(error)) <= 200


async def test_tls_failures_do_not_make_the_client_wait_for_an_outage(
    fake_time: FakeTime,
) -> None:
    # A wrong scheme fails every call the same way; that is not the service being down,
    # so call after call fails at once instead of waiting for probes.
    server = Counting(tls=None)
    async with tcp_server(server.handle) as url, https_client(url, fake_time) as client:
        errors = [await fail_once(client) for _ in range(6)]

    assert [error.attempts for error in errors] == [1] * 6
    assert server.connections == 6
    assert fake_time.sleeps == []
    assert all(str(error).startswith("TLS handshake with 127.0.0.1:") for error in errors)
