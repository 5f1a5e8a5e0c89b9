"""Attempts that got no answer, in our words: table-driven, no server (``_failures``)."""

from __future__ import annotations

import errno
import socket
import ssl

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from meetergo_async import APIConnectionError, APITimeoutError, APITLSError
from meetergo_async._transport._failures import no_answer

HOST, PORT = "api.meetergo.com", 443
KEY = ConnectionKey(HOST, PORT, True, True, None, None, None, None)


def _ssl_error(cls: type[ssl.SSLError], reason: str) -> ssl.SSLError:
    error = cls(1, f"[SSL: {reason}] {reason.lower()} (_ssl.c:1006)")
    error.reason = reason
    return error


def _cert_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_message = message
    return error


def _connector(os_error: OSError) -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(KEY, os_error)  # type: ignore[arg-type]


CONNECTION_FAILURES = [
    pytest.param(
        _connector(ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")),
        "could not connect to api.meetergo.com:443 (connection refused)",
        id="refused",
    ),
    pytest.param(
        aiohttp.ClientConnectorDNSError(KEY, socket.gaierror(-2, "Name or service not known")),  # type: ignore[arg-type]
        "could not connect to api.meetergo.com:443 (host name not found)",
        id="dns",
    ),
    pytest.param(
        _connector(OSError(errno.ENETUNREACH, "Network is unreachable")),
        "could not connect to api.meetergo.com:443 (network unreachable)",
        id="unreachable",
    ),
    pytest.param(
        _connector(OSError(errno.EACCES, "whatever the OS said")),
        "could not connect to api.meetergo.com:443 (permission denied)",
        id="other-errno",
    ),
    pytest.param(
        _connector(OSError("no errno at all")),
        "could not connect to api.meetergo.com:443 (no errno at all)",
        id="no-errno",
    ),
    pytest.param(
        aiohttp.ClientConnectorSSLError(KEY, ssl.SSLEOFError(8, "EOF occurred")),  # type: ignore[arg-type]
        "could not connect to api.meetergo.com:443 (the connection closed during the TLS "
        "handshake)",
        id="eof-in-handshake-heals",
    ),
    pytest.param(
        aiohttp.ServerDisconnectedError(),
        "api.meetergo.com:443 closed the connection before the answer was complete",
        id="disconnected",
    ),
    pytest.param(
        aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
        "the connection to api.meetergo.com:443 failed (connection reset)",
        id="reset",
    ),
    pytest.param(
        aiohttp.ClientPayloadError("Response payload is not completed"),
        "the answer from api.meetergo.com:443 broke off or could not be decoded",
        id="payload",
    ),
    pytest.param(
        aiohttp.ClientResponseError(None, (), status=400, message="Invalid status line"),  # type: ignore[arg-type]
        "api.meetergo.com:443 sent an answer that is not valid HTTP",
        id="not-http",
    ),
    pytest.param(
        aiohttp.ClientConnectionError("something new"),
        "the request to api.meetergo.com:443 failed (ClientConnectionError: something new)",
        id="unknown",
    ),
    pytest.param(
        aiohttp.ClientError(),
        "the request to api.meetergo.com:443 failed (ClientError)",
        id="unknown-without-text",
    ),
]


@pytest.mark.parametrize(("error", "message"), CONNECTION_FAILURES)
def test_a_lost_connection_is_a_connection_error_in_our_words(
    error: aiohttp.ClientError, message: str
) -> None:
    failure = no_answer(error, HOST, PORT, 30.0)

    assert type(failure) is APIConnectionError
    assert failure.message == message
    assert "Cannot connect" not in str(failure)
    assert "ssl:" not in str(failure)


@pytest.mark.parametrize(
    "error", [TimeoutError(), aiohttp.ServerTimeoutError("Timeout on reading data")], ids=type
)
def test_a_timeout_names_the_host_and_the_limit(error: TimeoutError) -> None:
    failure = no_answer(error, HOST, PORT, 2.5)

    assert type(failure) is APITimeoutError
    assert failure.message == "no complete answer from api.meetergo.com:443 within 2.5s"
    assert no_answer(error, HOST, PORT, None).message.endswith(" in time")


TLS_FAILURES = [
    pytest.param(
        aiohttp.ClientConnectorSSLError(KEY, _ssl_error(ssl.SSLError, "WRONG_VERSION_NUMBER")),  # type: ignore[arg-type]
        "TLS handshake with api.meetergo.com:443 failed (wrong version number): check the "
        "scheme, the port (does it serve https?) and the certificate",
        id="https-to-plain-port",
    ),
    pytest.param(
        aiohttp.ClientConnectorCertificateError(KEY, _cert_error("self-signed certificate")),  # type: ignore[arg-type]
        "TLS certificate of api.meetergo.com:443 not accepted (self-signed certificate): check "
        "the certificate, and the host, scheme and port in base_url",
        id="self-signed",
    ),
    pytest.param(
        aiohttp.ServerFingerprintMismatch(b"a", b"b", HOST, PORT),
        "TLS certificate of api.meetergo.com:443 not accepted (fingerprint mismatch): check "
        "the certificate, and the host, scheme and port in base_url",
        id="fingerprint",
    ),
    pytest.param(
        aiohttp.ClientOSError(1, "read failed"),
        "TLS handshake with api.meetergo.com:443 failed (tlsv1 alert protocol version): "
        "check the scheme, the port (does it serve https?) and the certificate",
        id="ssl-cause",
    ),
]


@pytest.mark.parametrize(("error", "message"), TLS_FAILURES)
def test_a_tls_failure_is_its_own_error_and_says_what_to_check(
    error: aiohttp.ClientError, message: str
) -> None:
    if error.__class__ is aiohttp.ClientOSError:  # an SSL error that surfaced as its cause
        error.__cause__ = _ssl_error(ssl.SSLError, "TLSV1_ALERT_PROTOCOL_VERSION")

    failure = no_answer(error, HOST, PORT, 30.0)

    assert type(failure) is APITLSError
    assert isinstance(failure, APIConnectionError)
    assert failure.message == message


def test_a_host_without_a_port_is_named_alone() -> None:
    failure = no_answer(aiohttp.ServerDisconnectedError(), "example.test", None, 1.0)

    assert failure.message.startswith("example.test closed the connection")
