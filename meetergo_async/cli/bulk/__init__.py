"""The ``bulk`` command: many updates from a JSON Lines or CSV file, with a per-row report.

A run can be stopped in order (Ctrl-C or SIGTERM: the requests in flight get ``--grace``
seconds to finish, every row read is reported) and resumed from its report (``--resume``).
Its parts: ``input`` (the file's rows), ``_dispatch`` (sending them), ``_report`` (the
report and failed files), ``_resume`` (what an earlier run left), ``_command`` (the run)
and ``_parser`` (its options).
"""

from ._command import run
from ._parser import register

__all__ = ["register", "run"]
