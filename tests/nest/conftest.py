"""Fixtures running the reference NestJS app (bench/nest), the real @nestjs/throttler 6.7.1.

``nest_install`` runs ``npm ci`` once per session (a no-op once the cache holds the lock's
install); without Node.js or npm the tests fail, they are not skipped. ``nest_apps`` starts
one app per set of options on first use and stops them all at the end of the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._app import NestApp, NestAppError, NestOptions, install, start


@pytest.fixture(scope="session")
def nest_install() -> Path:
    """The installed app's directory (installed now if this lock was never installed)."""
    try:
        return install()
    except NestAppError as exc:
        problem = str(exc)
    pytest.fail(f"cannot install the NestJS reference app: {problem}", pytrace=False)


class NestApps:
    """Starts an app per ``NestOptions`` on first request; ``close`` stops them all."""

    def __init__(self, app_dir: Path) -> None:
        self._app_dir = app_dir
        self._apps: dict[NestOptions, NestApp] = {}

    def get(self, options: NestOptions) -> NestApp:
        app = self._apps.get(options)
        if app is not None and app.process.poll() is None:
            return app
        try:
            app = self._apps[options] = start(options, app_dir=self._app_dir)
        except NestAppError as exc:
            problem = str(exc)
        else:
            return app
        pytest.fail(problem, pytrace=False)

    def close(self) -> None:
        apps = list(self._apps.values())
        self._apps = {}
        for app in apps:
            app.stop()


@pytest.fixture(scope="module")
def nest_apps(nest_install: Path) -> Iterator[NestApps]:
    apps = NestApps(nest_install)
    try:
        yield apps
    finally:
        apps.close()
