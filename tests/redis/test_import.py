"""The shared budget is optional: ``import meetergo_async`` loads no part of redis-py."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_package_loads_no_redis() -> None:
    code = (
        "import sys, meetergo_async\n"
        "from meetergo_async import MeetergoClient, BudgetUnavailableError\n"
        "MeetergoClient('ak_live:x:y', user_id='u')\n"
        "loaded = sorted(m for m in sys.modules if m == 'redis' or m.startswith(('redis.', "
        "'meetergo_async.redis', 'meetergo_async._redis')))\n"
        "print(loaded)\n"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_budget_module_loads_redis() -> None:
    code = "import sys, meetergo_async.redis\nprint('redis.asyncio' in sys.modules)\n"
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
