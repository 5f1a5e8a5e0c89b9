"""``python -m meetergo_async``: the same command line as ``meetergo-async``."""

import sys

from meetergo_async.cli import main

if __name__ == "__main__":
    sys.exit(main())
