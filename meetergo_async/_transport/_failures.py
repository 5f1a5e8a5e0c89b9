"""What an attempt that got no answer means: aiohttp's exceptions in our words.

``no_answer`` turns the exception an attempt raised into the ``APIConnectionError`` the
caller sees: it names the host and port, says what happened in plain words, and tells a
TLS failure that no retry can heal (``APITLSError``) from a lost connection, which another
attempt may well get past. Pure: nothing here does I/O, so it is tested table-driven.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
from typing import Final

import aiohttp

from ..errors import APIConnectionError, APITimeoutError, APITLSError

__all__ = ["no_answer"]

# SSL errors that only say the connection went away (a restart mid-handshake, say):
# another attempt may succeed, so they are ordinary connection errors.
_TRANSIENT_SSL: Final = (
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
    ssl.SSLSyscallError,
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
)
_REASONS: Final = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed while sending",
    errno.ETIMEDOUT: "timed out",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
}


def no_answer(
    error: aiohttp.ClientError | TimeoutError,
    host: str | None,
    port: int | None,
    timeout: float | None,
) -> APIConnectionError:
    """The error of an attempt to ``host:port`` that raised ``error`` instead of answering.

    ``timeout`` is the attempt's limit in seconds, named when it fired. The caller raises
    the result ``from error``.
    """
    where = f"{host}:{port}" if port is not None else str(host)
    if isinstance(error, TimeoutError):  # aiohttp's own timeouts are TimeoutErrors too
        within = f"within {timeout:g}s" if timeout is not None else "in time"
        return APITimeoutError(f"no complete answer from {where} {within}")
    tls = _tls_failure(error)
    if tls is not None:
        return APITLSError(_tls_message(tls, where))
    # A connector error is raised before any byte of the request is written.
    connected = not isinstance(error, aiohttp.ClientConnectorError)
    return APIConnectionError(_connection_message(error, where), connected=connected)


def _tls_failure(error: BaseException) -> BaseException | None:
    """The TLS failure behind ``error`` that another attempt cannot heal, or ``None``."""
    if isinstance(error, aiohttp.ServerFingerprintMismatch):
        return error
    # aiohttp's SSL errors are ssl.SSLErrors themselves: what they wrap comes first.
    wrapped = getattr(error, "certificate_error", None) or getattr(error, "os_error", None)
    for candidate in (wrapped, error.__cause__, error):
        if isinstance(candidate, ssl.SSLError):
            return None if isinstance(candidate, _TRANSIENT_SSL) else candidate
    return error if isinstance(error, aiohttp.ClientSSLError) else None


def _tls_message(failure: BaseException, where: str) -> str:
    if isinstance(failure, ssl.SSLCertVerificationError | aiohttp.ServerFingerprintMismatch):
        detail = getattr(failure, "verify_message", None) or "fingerprint mismatch"
        return (
            f"TLS certificate of {where} not accepted ({detail}): check the certificate, "
            "and the host, scheme and port in base_url"
        )
    detail = str(getattr(failure, "reason", None) or type(failure).__name__)
    return (
        f"TLS handshake with {where} failed ({detail.lower().replace('_', ' ')}): check "
        "the scheme, the port (does it serve https?) and the certificate"
    )


def _connection_message(error: aiohttp.ClientError, where: str) -> str:
    if isinstance(error, aiohttp.ClientProxyConnectionError):  # its host: the proxy's, no password
        proxy = f"{error.host}:{error.port}"
        return f"could not connect to the proxy {proxy} ({_os_reason(error.os_error)})"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"could not connect to {where} ({_os_reason(error.os_error)})"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return f"{where} closed the connection before the answer was complete"
    if isinstance(error, aiohttp.ClientPayloadError):
        return f"the answer from {where} broke off or could not be decoded"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"{where} sent an answer that is not valid HTTP"
    if isinstance(error, OSError):  # ClientOSError: a reset, a broken pipe, ...
        return f"the connection to {where} failed ({_os_reason(error)})"
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"the request to {where} failed ({detail})"


def _os_reason(error: OSError) -> str:
    """What went wrong with a socket, in a few words."""
    if isinstance(error, socket.gaierror):
        return "host name not found"
    if isinstance(error, ssl.SSLError):
        return "the connection closed during the TLS handshake"
    if isinstance(error.errno, int) and error.errno > 0:
        return _REASONS.get(error.errno) or os.strerror(error.errno).lower()
    return error.strerror or str(error) or type(error).__name__
