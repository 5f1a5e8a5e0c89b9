"""The entry points: ``main`` with --help, --version, no command and Ctrl-C."""

from __future__ import annotations

import pytest

from meetergo_async.cli import main


def test_main_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("meetergo-async ")
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_main_reports_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(argv: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("meetergo_async.cli.run_async", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "meetergo-async: interrupted\n"
