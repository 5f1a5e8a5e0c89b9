"""The fake server's request pipeline: one ``FakeApp.handle`` call per request.

``FakeMeetergo`` owns the lifecycle and the options; this module owns what happens to a
request, in the order documented on ``FakeMeetergo``. Everything up to the first ``await``
(record, scripted answer, fault draw) runs in arrival order, which makes a seeded run
repeatable for a given order of requests.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web

from meetergo_async.testing._limits import limit_headers
from meetergo_async.testing._options import Faults, RateOptions, Timing
from meetergo_async.testing._protocol import (
    CONNECTION_NOT_FOUND,
    DROPPED,
    FORBIDDEN,
    JSON_HEADERS,
    USER_HEADER,
    Authenticator,
    RecordedRequest,
    Refusal,
    Route,
    Script,
    encode_json,
    error_body,
    match_route,
    parse_body,
    redact_headers,
)
from meetergo_async.testing._store import ConnectionStore, validate_patch

# A request's fault, drawn when it arrives: a positive value is the status to fail with.
NO_FAULT: Final = 0
DROP_BEFORE: Final = -1
DROP_AFTER: Final = -2

_NO_HEADERS: Final[Mapping[str, str]] = {}


def _json(status: int, value: object, headers: Mapping[str, str]) -> web.Response:
    return web.Response(body=encode_json(value), status=status, headers={**JSON_HEADERS, **headers})


def _error(
    status: int, message: str | list[str] | None = None, headers: Mapping[str, str] = _NO_HEADERS
) -> web.Response:
    body = error_body(status, message)
    return web.Response(body=body, status=status, headers={**JSON_HEADERS, **headers})


class FakeApp:
    """The state one ``FakeMeetergo`` serves from, and the handler that serves it."""

    def __init__(
        self,
        store: ConnectionStore,
        auth: Authenticator,
        rate: RateOptions,
        faults: Faults,
        timing: Timing,
        *,
        record: bool,
    ) -> None:
        self.store = store
        self.auth = auth
        self.rate = rate
        self.faults = faults
        self.timing = timing
        self.record = record
        self.scripts: list[Script] = []
        self.requests: list[RecordedRequest] = []
        self.status_counts: Counter[int] = Counter()
        self.update_counts: Counter[str] = Counter()
        self.inflight: set[asyncio.Future[Any]] = set()

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Answer one request (aiohttp's low-level handler)."""
        raw_path = request.raw_path.partition("?")[0]
        path = unquote(raw_path)
        route = match_route(request.method, raw_path)
        script = self._take_script(request.method, path) if self.scripts else None
        fault = self._draw_fault() if script is None and self.faults.after else NO_FAULT
        jitter = self.timing.count_jitter
        delay = self.timing.rng.uniform(0.0, jitter) if jitter else 0.0  # drawn as it arrives
        record = self._new_record(request, path, route) if self.record else None
        # Known to close(), which waits for handlers its shutdown timeout had to cancel.
        task = asyncio.current_task()
        assert task is not None  # aiohttp runs every handler in a task of its own
        self.inflight.add(task)
        try:
            response = await self._respond(request, route, script, (fault, delay), record)
        finally:
            self.inflight.discard(task)
        return self._finish(request, record, response)

    def _take_script(self, method: str, path: str) -> Script | None:
        for index, script in enumerate(self.scripts):
            if script.matches(method, path):
                return self.scripts.pop(index)
        return None

    def _draw_fault(self) -> int:
        faults = self.faults
        roll = faults.rng.random()
        if roll < faults.fail:
            statuses = faults.statuses
            return statuses[0] if len(statuses) == 1 else faults.rng.choice(statuses)
        if roll < faults.before:
            return DROP_BEFORE
        return DROP_AFTER if roll < faults.after else NO_FAULT

    def _new_record(
        self, request: web.BaseRequest, path: str, route: Route | None
    ) -> RecordedRequest:
        record = RecordedRequest(
            method=request.method,
            path=path,
            raw_path=request.raw_path,
            query=dict(request.query) if "?" in request.raw_path else {},
            headers=redact_headers(request.headers.items()),
            connection_id=None if route is None else route.connection_id,
        )
        self.requests.append(record)
        return record

    async def _respond(
        self,
        request: web.BaseRequest,
        route: Route | None,
        script: Script | None,
        drawn: tuple[int, float],
        record: RecordedRequest | None,
    ) -> web.Response | None:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "request entity too large")
        parsed, json_error = parse_body(body)
        if record is not None:
            record.body = body
            record.json = parsed if body and json_error is None else None
        fault, delay = drawn
        if self.timing.latency:
            await asyncio.sleep(self.timing.latency)
        if script is not None:
            if script.drop:
                return None
            return web.Response(body=script.body, status=script.status, headers=script.headers)
        if fault > 0:
            return _error(fault)
        if route is None:
            return _error(404, f"Cannot {request.method} {request.raw_path}")
        if delay:
            await asyncio.sleep(delay)  # the server gets round to counting it later
        return self._authorized(request, route, parsed, json_error, fault)

    def _finish(
        self,
        request: web.BaseRequest,
        record: RecordedRequest | None,
        response: web.Response | None,
    ) -> web.StreamResponse:
        if response is None:
            transport = request.transport
            if transport is not None:
                transport.close()
            status = DROPPED
            # aiohttp needs a response; writing it fails on the closed transport, which
            # aiohttp treats as a client that went away: no log, no warning.
            response = web.Response(status=500)
        else:
            status = response.status
        self.status_counts[status] += 1
        if record is not None:
            record.status = status
        return response

    def _authorized(
        self,
        request: web.BaseRequest,
        route: Route,
        parsed: object,
        json_error: str | None,
        fault: int,
    ) -> web.Response | None:
        headers = request.headers
        principal = self.auth.check(headers.get("Authorization"), headers.get(USER_HEADER))
        if isinstance(principal, Refusal):
            return _error(principal.status, principal.message)
        allowed, extra = self._count(principal.token)
        if not allowed:
            return _error(self.rate.status, None, extra)
        user = request.query.get("userId") if "?" in request.raw_path else None
        if user is not None and not self.auth.knows_user(user):
            return _error(403, FORBIDDEN, extra)
        if route.connection_id is None:
            return _json(200, self.store.listing(), extra)
        return self._update(route.connection_id, parsed, json_error, fault, extra)

    def _count(self, token: str) -> tuple[bool, Mapping[str, str]]:
        rate = self.rate
        if rate.limiter is None:
            return True, _NO_HEADERS
        verdict = rate.limiter.hit(token)
        if not (rate.rate_headers or rate.retry_after):
            return verdict.allowed, _NO_HEADERS
        headers = limit_headers(
            verdict,
            rate_headers=rate.rate_headers,
            retry_after=rate.retry_after,
            suffix=rate.suffix,
            nest=rate.nest,
        )
        return verdict.allowed, headers

    def _update(
        self,
        cid: str,
        parsed: object,
        json_error: str | None,
        fault: int,
        headers: Mapping[str, str],
    ) -> web.Response | None:
        if json_error is not None:
            return _error(400, json_error, headers)
        errors = validate_patch(parsed)
        if errors or not isinstance(parsed, dict):
            return _error(400, errors, headers)
        connection = self.store.items.get(cid)
        if connection is None:
            return _error(404, CONNECTION_NOT_FOUND, headers)
        if fault == DROP_BEFORE:
            return None
        self.store.apply(connection, parsed)
        self.update_counts[cid] += 1
        if fault == DROP_AFTER:
            return None
        return _json(200, connection, headers)
