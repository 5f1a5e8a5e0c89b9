"""Serving a ``FakeApp`` on a port with aiohttp's low-level ``web.Server``: start and close.

The low-level server has no router, middleware or access log, which keeps a request's server
CPU small; the two routes are matched by hand from the raw path (see ``match_route``).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from meetergo_async.testing._app import FakeApp


class Listener:
    """Binds ``host:port`` and serves one ``FakeApp`` until closed; ``FakeMeetergo`` wraps it.

    ``bound_port`` is the port once started, kept after ``close`` so the URL stays readable.
    """

    __slots__ = ("_app", "_host", "_port", "_runner", "_shutdown_timeout", "bound_port")

    def __init__(self, app: FakeApp, host: str, port: int, shutdown_timeout: float) -> None:
        self._app = app
        self._host = host
        self._port = port
        # aiohttp reads a shutdown timeout of 0 as "wait forever"; we mean "cancel at once".
        self._shutdown_timeout = max(float(shutdown_timeout), 0.001)
        self._runner: web.ServerRunner | None = None
        self.bound_port: int | None = None

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._runner is not None

    @property
    def url(self) -> str:
        """The base URL without a trailing slash; ``RuntimeError`` if never started."""
        if self.bound_port is None:
            raise RuntimeError("FakeMeetergo is not started: use 'async with' or start()")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.bound_port}"

    async def start(self) -> None:
        """Bind the port and start serving; ``RuntimeError`` if already running.

        Started again after ``close``, it binds the port it had: a restart keeps the URL.
        """
        if self._runner is not None:
            raise RuntimeError("FakeMeetergo is already running")
        server = web.Server(self._app.handle, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        port = self._port if self.bound_port is None else self.bound_port
        try:
            await web.TCPSite(runner, self._host, port, reuse_address=True).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.bound_port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop serving, letting in-flight requests finish within the shutdown timeout."""
        runner = self._runner
        self._runner = None
        if runner is None:
            return
        await runner.cleanup()
        if self._app.inflight:
            # Handlers cancelled by the shutdown timeout end on a later turn of the loop.
            await asyncio.wait(set(self._app.inflight))
