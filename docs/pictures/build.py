"""Rebuild the documentation's pictures from real runs against FakeMeetergo on 127.0.0.1.

    python docs/pictures/build.py [NAME ...]

Each picture runs its scenario (a few seconds of real time), draws it and writes
``docs/pictures/NAME.svg``; with names, only those. It needs the ``pictures`` extra
(matplotlib): ``pip install -e ".[pictures]"``. A picture is one entry of ``PICTURES``:
its settings, the collector of ``_collect`` that runs it, the function of ``_draw`` that
draws it.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import _collect
import _draw
from _record import Run
from matplotlib.figure import Figure

HERE = Path(__file__).resolve().parent
Settings = TypeVar("Settings")


@dataclass(frozen=True)
class Picture(Generic[Settings]):
    """One picture: the run it shows and how it is drawn."""

    name: str
    settings: Settings
    collect: Callable[[Settings], Coroutine[Any, Any, Run]]
    draw: Callable[[Settings, Run], Figure]

    def build(self) -> Path:
        """Run the scenario, draw it, write the SVG; return its path."""
        run = asyncio.run(self.collect(self.settings))
        path = HERE / f"{self.name}.svg"
        _draw.save(lambda: self.draw(self.settings, run), path)
        return path


PICTURES: list[Picture[Any]] = [
    Picture("paced-run", _collect.Paced(), _collect.paced_run, _draw.paced),
    Picture("outage", _collect.Outage(), _collect.outage_run, _draw.outage),
    Picture("lanes", _collect.Lanes(), _collect.lanes_run, _draw.lanes),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [picture.name for picture in PICTURES]
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(names)}")
    chosen = parser.parse_args().names or names
    if unknown := set(chosen) - set(names):
        parser.error(f"no picture named {', '.join(sorted(unknown))}")
    for picture in PICTURES:
        if picture.name in chosen:
            path = picture.build()
            print(f"{path.relative_to(HERE.parents[1])}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
