"""The ``sandbox`` command: a FakeMeetergo in the foreground until Ctrl-C.

It prints the URL and the sandbox's own throwaway credentials, ready to ``export``, so the
SDK, this command line or any other HTTP client can be tried against it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
from typing import TYPE_CHECKING, Any

from ._common import EXIT_FAILED, EXIT_OK, CommandError, Ui
from ._options import fraction, non_negative_float, non_negative_int, positive_int

if TYPE_CHECKING:
    from meetergo_async.testing import FakeMeetergo

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 - a lookup


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a fake meetergo API locally until Ctrl-C",
        description=__doc__.split("\n\n")[1].replace("\n", " "),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=non_negative_int, default=8080, help="port (default 8080; 0 picks one)"
    )
    parser.add_argument(
        "--rate-per-minute",
        type=non_negative_float,
        default=100.0,
        metavar="N",
        help="requests a minute per credential (default 100, meetergo's; 0 for no limit)",
    )
    parser.add_argument(
        "--burst", type=positive_int, default=200, metavar="N", help="burst size (default 200)"
    )
    parser.add_argument(
        "--connections", type=non_negative_int, default=10, metavar="N", help="connections to serve"
    )
    _add_fault_options(parser.add_argument_group("faults (drawn from a fixed seed)"))
    parser.set_defaults(handler=run)


def _add_fault_options(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--fail-rate", type=fraction, default=0.0, metavar="F", help="fraction answered 5xx"
    )
    group.add_argument(
        "--drop-rate",
        type=fraction,
        default=0.0,
        metavar="F",
        help="fraction of updates whose connection is cut (half before, half after applying)",
    )
    group.add_argument(
        "--latency-ms", type=non_negative_float, default=0.0, metavar="N", help="delay per request"
    )


def _make_fake(args: argparse.Namespace) -> FakeMeetergo:
    # Imported here, only by this command and demo: the sandbox pulls in aiohttp's server.
    from meetergo_async.testing import FakeMeetergo, TokenBucket

    rate = args.rate_per_minute
    limit = TokenBucket.per_minute(rate, burst=args.burst) if rate else None
    try:
        return FakeMeetergo(
            host=args.host,
            port=args.port,
            generate=args.connections,
            rate_limit=limit,
            fail_rate=args.fail_rate,
            drop_before_rate=args.drop_rate / 2,
            drop_after_rate=args.drop_rate / 2,
            latency=args.latency_ms / 1000,
            record_requests=False,
        )
    except (TypeError, ValueError) as exc:
        raise CommandError(str(exc)) from None


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run the ``sandbox`` command: serve until cancelled (Ctrl-C), then exit 0."""
    fake = _make_fake(args)
    try:
        await fake.start()
    except OSError as exc:
        where = f"{args.host}:{args.port}"
        raise CommandError(
            f"cannot listen on {where}: {exc.strerror or exc}", EXIT_FAILED
        ) from None
    _stop_on_sigterm()  # before the banner: whoever reads it may signal at once
    _print_banner(ui, fake, args)
    try:
        await fake.serve_forever()
    except asyncio.CancelledError:
        # Ctrl-C makes asyncio.run cancel this task: for this command that is the normal end.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    finally:
        await fake.close()
    counts = ", ".join(
        f"{n} x {status or 'cut'}" for status, n in sorted(fake.status_counts.items())
    )
    ui.err(f"sandbox stopped after {fake.status_counts.total()} requests ({counts or 'none'})")
    return EXIT_OK


def _url(fake: FakeMeetergo, host: str) -> str:
    shown = _WILDCARDS.get(host, host)
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{fake.port}"


def _print_banner(ui: Ui, fake: FakeMeetergo, args: argparse.Namespace) -> None:
    rate = args.rate_per_minute
    limit = f"{rate:g} requests a minute, burst {args.burst}" if rate else "no rate limit"
    ui.out(
        f"FakeMeetergo sandbox on {_url(fake, args.host)}: {args.connections} connections, {limit}"
    )
    ui.out("Use it from another shell (the sandbox's own throwaway credentials):")
    exports = {
        "MEETERGO_BASE_URL": _url(fake, args.host),
        "MEETERGO_API_KEY": fake.api_key,
        "MEETERGO_USER_ID": fake.user_id,
    }
    for name, value in exports.items():
        ui.out(f"  export {name}={shlex.quote(value)}", redact=False)
    ui.out("  meetergo-async list")
    ui.out("Press Ctrl-C to stop.")


def _stop_on_sigterm() -> None:
    """Let ``kill`` (SIGTERM, as service managers send) end the sandbox like Ctrl-C does."""
    task = asyncio.current_task()
    if task is None:
        return
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Not available on every platform or outside the main thread: Ctrl-C still works.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
