"""A client's lifecycle: unopened, open in one event loop, closed.

A client belongs to the event loop it was opened in: its session, connections and limiter
live there. Used from another loop (a second ``asyncio.run``, a thread with a loop of its
own) it raises a ``RuntimeError`` that says so, before aiohttp is touched. It may be closed
from any loop. A client that is collected while still open warns once, naming itself, and
its session is closed quietly, so aiohttp's own warnings do not repeat it without the name.
"""

from __future__ import annotations

import asyncio
import enum
import warnings
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final

from ._transport import AiohttpTransport, Transport
from .pacing import Pacer
from .pacing._factory import close_limiter

if TYPE_CHECKING:
    from ._emitter import Emitter

__all__ = ["Lifecycle", "State"]

_WRONG_LOOP: Final = (
    "this MeetergoClient was opened in another event loop and can only be used there; "
    "make one client per event loop (inside the coroutine that asyncio.run runs, or per "
    "thread), or hand the work to the client's loop with "
    "asyncio.run_coroutine_threadsafe"
)
_CLOSED: Final = "this MeetergoClient is closed; make a new one"


class State(enum.Enum):
    """Where a client is in its life."""

    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class Lifecycle:
    """The state of one client, the event loop it was opened in, and what closing it closes.

    Args:
        transport: the client's transport, closed with the client (its own aiohttp
            transport opens its session on the client's first use).
        emitter: the client's event emitter, whose running hooks closing waits for.
        limiter: the client's limiter, closed with the client (a shared budget's Redis
            connections made from a URL).
    """

    __slots__ = ("_emitter", "_limiter", "_transport", "loop", "state")

    def __init__(self, transport: Transport, emitter: Emitter | None, limiter: Pacer) -> None:
        self._transport = transport
        self._emitter = emitter
        self._limiter = limiter
        self.state = State.UNOPENED
        self.loop: asyncio.AbstractEventLoop | None = None

    def enter(self) -> None:
        """Check that the client may be used here, and open it on its first use.

        Raises:
            RuntimeError: the client is closed, or open in another event loop.
        """
        if self.state is State.OPEN:
            if asyncio.get_running_loop() is not self.loop:
                raise RuntimeError(_WRONG_LOOP)
            return
        if self.state is State.CLOSED:
            raise RuntimeError(_CLOSED)
        self.loop = asyncio.get_running_loop()
        self.state = State.OPEN
        if isinstance(self._transport, AiohttpTransport):
            self._transport.open()

    def check_loop(self) -> None:
        """Raise now, outside any coroutine, if an event loop runs here and is not the client's.

        Raises:
            RuntimeError: as ``enter``; nothing when no loop runs in this thread.
        """
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return  # the first call checks again, inside the loop
        if self.state is State.CLOSED:
            raise RuntimeError(_CLOSED)
        if self.state is State.OPEN and running is not self.loop:
            raise RuntimeError(_WRONG_LOOP)

    async def aclose(self) -> None:
        """Close the client, from any event loop; idempotent.

        Hooks still running are waited for, then the limiter and the transport are closed.
        From another loop than the client's, a limiter's connections are closed by that loop
        while it runs; a closed loop has taken them with it.
        """
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        try:
            if self._emitter is not None:
                await self._emitter.aclose()
            await self._in_own_loop(close_limiter(self._limiter))
        finally:
            await self._transport.aclose()

    async def _in_own_loop(self, work: Coroutine[Any, Any, None]) -> None:
        loop = self.loop
        if loop is None or loop is asyncio.get_running_loop():
            await work
        elif loop.is_running():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))
        else:
            work.close()

    def collected(self, client: object) -> None:
        """``client`` is being collected: if it is still open, warn once and let go quietly."""
        if self.state is not State.OPEN:
            return
        assert self.loop is not None  # set when it opened
        try:
            warnings.warn(
                f"unclosed {client!r}: close a MeetergoClient with 'async with "
                "MeetergoClient(...) as client:' or 'await client.aclose()'",
                ResourceWarning,
                source=client,
                stacklevel=2,
            )
        finally:  # also when warnings are errors
            if isinstance(self._transport, AiohttpTransport):
                self._transport.abandon()
