"""docs/sharing.md quotes the code's defaults and constants: a changed value fails here."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from meetergo_async.redis import DEFAULT_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisBudget

PAGE = Path(__file__).resolve().parents[2] / "docs" / "sharing.md"


def test_the_page_quotes_the_defaults_and_constants() -> None:
    text = PAGE.read_text(encoding="utf-8")
    arguments = dict(re.findall(r"^\| `(\w+)` \| `?([^|`]+)`? \|", text, re.MULTILINE))
    defaults = inspect.signature(RedisBudget).parameters
    assert arguments["prefix"] == f'"{DEFAULT_PREFIX}"' == f'"{defaults["prefix"].default}"'
    assert float(arguments["timeout"]) == DEFAULT_REDIS_TIMEOUT == defaults["timeout"].default
    assert arguments["on_unavailable"] == f'"{defaults["on_unavailable"].default}"'
    assert arguments["local_share"] == "None"
    constants = re.findall(r"^\| `(\w+)` \| `(\w*\.?_\w+)` \| ([\d.]+) s \|", text, re.MULTILINE)
    assert len(constants) == 6
    for name, module, value in constants:
        assert getattr(importlib.import_module(f"meetergo_async.{module}"), name) == float(value)
