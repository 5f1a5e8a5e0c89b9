"""The ``demo`` command, against its in-process FakeMeetergo."""

from __future__ import annotations

import pytest

from tests.cli._helpers import cli


async def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    result = await cli(capsys, "demo", "--connections", "40", "--server-rate", "400", "--seed", "3")
    assert result.status == 0, result.err
    assert "40 updated, 0 failed; verified 40/40" in result.out
    assert "paced at 800 req/s" in result.out
