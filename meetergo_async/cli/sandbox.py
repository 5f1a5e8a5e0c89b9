"""The ``sandbox`` command: a FakeMeetergo in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
from typing import TYPE_CHECKING, Any, Final

from ._common import EXIT_FAILED, EXIT_OK, CommandError, Ui
from ._interrupts import SIGNALS
from ._options import fraction, non_negative_float, non_negative_int

if TYPE_CHECKING:
    from meetergo_async.testing import FakeMeetergo

_DESCRIPTION: Final = (
    "Serve a fake meetergo API (FakeMeetergo) locally until Ctrl-C or SIGTERM. The URL and "
    "the sandbox's own throwaway credentials are printed ready to export, so the SDK, this "
    "command line or any other HTTP client can be tried against it. Requests are counted as "
    "meetergo's throttler counts them: a sliding log of --rate-per-minute requests in any 60 "
    "s, and one request over it blocks the credential for --block-seconds."
)
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 - a lookup


def register(subparsers: Any) -> None:
    """Add the ``sandbox`` command."""
    parser = subparsers.add_parser(
        "sandbox",
        help="serve a fake meetergo API locally until Ctrl-C",
        description=_DESCRIPTION,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=non_negative_int, default=8080, help="port (default 8080; 0 picks one)"
    )
    parser.add_argument(
        "--rate-per-minute",
        type=non_negative_int,
        default=100,
        metavar="N",
        help="requests in any 60 s per credential (default 100, meetergo's; 0 for no limit)",
    )
    parser.add_argument(
        "--block-seconds",
        type=non_negative_float,
        metavar="S",
        help="how long one request over the limit blocks the credential (default 60, the "
        "window, as meetergo does; 0 refuses only the requests over the limit)",
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
    from meetergo_async.testing import FakeMeetergo, NestThrottler

    rate = args.rate_per_minute
    limit = NestThrottler(rate, 60.0, block=args.block_seconds) if rate else None
    if args.fail_rate + args.drop_rate > 1:
        raise CommandError("--fail-rate and --drop-rate must not add up to more than 1")
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
    _stop_on_signals()  # before the banner: whoever reads it may signal at once
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
    block = args.block_seconds
    limit = "no rate limit"
    if rate:
        blocks = f"an overshoot blocks for {60 if block is None else block:g} s"
        limit = f"{rate} requests in any 60 s ({blocks})"
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


def _stop_on_signals() -> None:
    """End the sandbox on Ctrl-C (SIGINT) or ``kill`` (SIGTERM, as service managers send).

    Both are handled here, even when SIGINT was ignored on start (as for a job a shell
    started in the background), which ``asyncio.run`` would leave ignored.
    """
    task = asyncio.current_task()
    if task is None:
        return
    loop = asyncio.get_running_loop()
    for signum in SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # Not available on every platform or outside the main thread: Ctrl-C still works.
            loop.add_signal_handler(signum, task.cancel)
