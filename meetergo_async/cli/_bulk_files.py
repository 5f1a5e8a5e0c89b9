"""The files a bulk run writes: the report (new, or appended to on resume) and the failed rows.

They are checked before anything is sent: never the input itself, never stdout, never one
file for both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import TextIO

from ._bulk_resume import Earlier, open_for_append
from ._bulk_source import STDIN
from ._common import CommandError


def report_path(args: argparse.Namespace) -> str | None:
    """The report to write: ``--resume``'s (which ``--report`` may repeat), else ``--report``.

    Raises:
        CommandError: ``--report`` names another file than ``--resume``.
    """
    if args.resume is None:
        return args.report  # type: ignore[no-any-return]
    if args.report is not None and not _same_file(args.report, args.resume):
        raise CommandError("--resume appends to its own report: leave --report out")
    return args.resume  # type: ignore[no-any-return]


def check_paths(args: argparse.Namespace, report: str | None) -> None:
    """Refuse outputs that are ``-``, the input file, or one file for both.

    Raises:
        CommandError: one of those.
    """
    outputs = [p for p in (report, args.failed) if p is not None]
    if len(outputs) == 2 and _same_file(outputs[0], outputs[1]):
        raise CommandError("--report and --failed must be different files")
    for output in outputs:
        if output == STDIN:
            raise CommandError("--report, --resume and --failed take a file name, not -")
        if args.file != STDIN and _same_file(output, args.file):
            raise CommandError(f"{output} is the input file: writing it would destroy the input")


def _same_file(a: str, b: str) -> bool:
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


def open_report(
    stack: contextlib.AsyncExitStack, path: str | None, earlier: Earlier | None
) -> TextIO | None:
    """Open the report for the run (closed with ``stack``): appended to when resuming.

    Raises:
        CommandError: it cannot be written.
    """
    if earlier is None:
        return open_output(stack, path)
    try:
        return stack.enter_context(open_for_append(earlier))
    except OSError as exc:
        raise CommandError(f"cannot write {earlier.path}: {exc.strerror or exc}") from None


def open_output(stack: contextlib.AsyncExitStack, path: str | None) -> TextIO | None:
    """Open ``path`` anew for writing (closed with ``stack``), or give ``None`` for no path.

    Raises:
        CommandError: it cannot be written.
    """
    if path is None:
        return None
    try:
        # Line-buffered, so a long run can be followed with tail -f.
        file = open(path, "w", encoding="utf-8", newline="", buffering=1)  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    return stack.enter_context(file)
