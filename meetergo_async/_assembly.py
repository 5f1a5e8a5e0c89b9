"""Making a client's parts from its settings and wiring them together.

A client is its settings and these parts: the ``Endpoints`` that build its calls, the
transport that sends them (aiohttp unless one was given), the limiter that paces them (with
the emitter that reports to ``on_event`` wrapped around it), the ``Caller`` that runs each
call, and the ``Lifecycle`` that opens and closes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import attrs

from . import _answers
from ._call import Caller
from ._config import ClientSettings
from ._emitter import UNOBSERVED, instrument
from ._endpoints import Endpoints
from ._events import OnEvent, OnRetry
from ._lifecycle import Lifecycle
from ._transport import AiohttpTransport, Transport
from .pacing._factory import make_limiter

__all__ = ["Hooks", "Parts", "assemble"]


@attrs.frozen
class Hooks:
    """What a client was given to call back and to tell time with."""

    on_retry: OnRetry | None
    on_event: OnEvent | None
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]


@attrs.frozen
class Parts:
    """A client's parts, wired."""

    endpoints: Endpoints
    transport: Transport
    caller: Caller
    lifecycle: Lifecycle


def assemble(
    settings: ClientSettings,
    *,
    session: aiohttp.ClientSession | None,
    transport: Transport | None,
    hooks: Hooks,
) -> Parts:
    """Make the parts of a client of ``settings`` (arguments checked already)."""
    endpoints = Endpoints(settings)
    if transport is None:
        transport = _aiohttp_transport(session, settings, endpoints)
    limiter = make_limiter(
        settings.rate_limit,
        clock=hooks.clock,
        sleep=hooks.sleep,
        max_pause=settings.retry.max_retry_after,
        api_key=settings.api_key,
        attempt_timeout=settings.timeout,
    )
    emitter, paced, retry_sleep = instrument(
        hooks.on_event, limiter, hooks.sleep, clock=hooks.clock
    )
    caller = Caller(
        transport,
        paced,
        max_concurrency=settings.max_concurrency,
        secrets=_answers.secret_parts(settings.api_key),
        clock=hooks.clock,
        sleep=hooks.sleep,
        on_retry=hooks.on_retry,
        observer=emitter or UNOBSERVED,
        retry_sleep=retry_sleep,
    )
    return Parts(endpoints, transport, caller, Lifecycle(transport, emitter, limiter))


def _aiohttp_transport(
    session: aiohttp.ClientSession | None, settings: ClientSettings, endpoints: Endpoints
) -> AiohttpTransport:
    return AiohttpTransport(
        session,
        default_headers=endpoints.session_headers,
        host_url=settings.base_url,
        max_connections=settings.max_concurrency,
        max_response_bytes=settings.max_response_bytes,
        proxy=settings.proxy,
        trust_env=settings.trust_env,
    )
