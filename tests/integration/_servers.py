"""Small servers on 127.0.0.1 for the integration tests, and checks they share.

``http_server`` runs an ``aiohttp.web`` handler for responses aiohttp can still express;
``tcp_server`` runs a raw ``asyncio.start_server`` callback for byte-level misbehaviour
(stalls, cuts, lying lengths). Both close every connection they served when they stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from aiohttp import web

from meetergo_async import MeetergoClient
from meetergo_async._transport import AiohttpTransport

CONNECTIONS = "/v4/calendar-connections/connections"
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
TcpHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

# Coroutines of aiohttp's own server that may outlive a request the client gave up on.
_SERVER_CORO_NAMES = frozenset(
    {"RequestHandler.start", "RequestHandler._handle_request", "RequestHandler.finish_response"}
)


def connection_path(connection_id: str) -> str:
    """The decoded PATCH path of ``connection_id`` (as ``FakeMeetergo.enqueue`` wants it)."""
    return f"{CONNECTIONS}/{connection_id}"


@contextlib.asynccontextmanager
async def http_server(handler: Handler) -> AsyncIterator[str]:
    """Serve ``handler`` (aiohttp's low-level ``web.Server``) on 127.0.0.1; yield its URL."""
    runner = web.ServerRunner(web.Server(handler, access_log=None), shutdown_timeout=0.05)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def tcp_server(handle: TcpHandler) -> AsyncIterator[str]:
    """Serve a raw TCP callback on 127.0.0.1; yield ``http://127.0.0.1:<port>``.

    The callback's connection is closed after it returns; callbacks still running when
    the server stops are cancelled and awaited, so no task outlives the test.
    """
    tasks: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; that is what several tests provoke
        except asyncio.CancelledError:
            # Only the server's own shutdown cancels a handler. Ending normally keeps
            # Python 3.11's start_server callback from logging the cancellation as an error.
            pass
        finally:
            tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        if tasks:  # handlers about to see their client's close get a moment to end
            await asyncio.wait(set(tasks), timeout=0.1)
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """Read one HTTP/1.1 request: its request line, lower-cased headers and body."""
    head = await reader.readuntil(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = {}
    for field in fields:
        name, sep, value = field.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return line, headers, body


async def wait_for_eof(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Tell whether the client closed its end (EOF or reset) within ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound (so nobody else gets it), not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def acquired_connections(client: MeetergoClient) -> int:
    """How many connections the client's connector has handed out and not got back.

    Reads aiohttp's private ``BaseConnector._acquired``: acceptable in a test, and the
    only direct way to see that a response was released.
    """
    transport = client._transport
    assert isinstance(transport, AiohttpTransport)
    session = transport.session
    assert session is not None
    assert session.connector is not None
    return len(session.connector._acquired)


def _is_server_task(task: asyncio.Task[object]) -> bool:
    coro = task.get_coro()
    return getattr(coro, "__qualname__", "") in _SERVER_CORO_NAMES


async def leftover_tasks(
    before: set[asyncio.Task[object]], *, grace: float = 0.5
) -> set[asyncio.Task[object]]:
    """Tasks started since ``before`` that are still pending, aiohttp's server tasks aside.

    Tasks that are already ending (a raw server's handler seeing the client's close) get up
    to ``grace`` seconds; the answer comes as soon as none is left.
    """
    current = asyncio.current_task()
    loop = asyncio.get_running_loop()
    give_up = loop.time() + grace
    while True:
        for _ in range(5):
            await asyncio.sleep(0)
        left = {
            task
            for task in asyncio.all_tasks()
            if task not in before and task is not current and not _is_server_task(task)
        }
        if not left or loop.time() >= give_up:
            return left
        await asyncio.sleep(0.005)


def collect_unclosed_warnings() -> list[str]:
    """Run the garbage collector; return every "Unclosed ..." warning it made."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if "nclosed" in str(w.message)]
