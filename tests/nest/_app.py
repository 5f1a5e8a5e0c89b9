"""Install and run the reference NestJS app (``bench/nest``) that runs the real @nestjs/throttler.

``install()`` runs ``npm ci`` once per ``package-lock.json`` into a cache directory
(``$MEETERGO_NEST_CACHE``, else ``$XDG_CACHE_HOME/meetergo-async/nest``, else
``~/.cache/meetergo-async/nest``), in ``<cache>/<hash of the lock>/``, and copies the app's
source there. ``start(options)`` runs it on a free port of 127.0.0.1 as a subprocess and
returns a ``NestApp`` holding its URL; ``NestApp.stop()`` terminates it by its PID, then
kills it. Used by ``tests/nest`` and by ``bench/ratelimit.py --server real``, so it imports
nothing of meetergo_async nor of pytest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import os
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

APP_DIR = Path(__file__).resolve().parents[2] / "bench" / "nest"
"""Where the app's sources live in the repository."""
LOCK_FILE = "package-lock.json"
INSTALL_FILES = ("package.json", LOCK_FILE)
SOURCE_FILES = ("main.js",)
DEFAULT_NOW_MS = 1_700_000_000_000
"""Where the app's fake clock starts (epoch milliseconds), unless told otherwise."""
_INSTALLED = ".installed"


class NestAppError(RuntimeError):
    """The app could not be installed or started; the message says why."""


class NodeMissingError(NestAppError):
    """``node`` or ``npm`` is not on PATH."""


@dataclasses.dataclass(frozen=True, slots=True)
class NestOptions:
    """How to run the app: the throttler's settings and the harness's switches.

    ``ttl_ms`` and ``block_ms`` are milliseconds, as @nestjs/throttler 6 takes them;
    ``block_ms=None`` leaves ``blockDuration`` unset (the throttler then blocks for ``ttl``).
    ``key="route"`` keys the throttler as its stock ``generateKey`` does (controller class +
    handler + tracker: each route its own budget); ``"credential"`` shares one budget per
    bearer token across routes, as FakeMeetergo counts.
    """

    limit: int = 100
    ttl_ms: int = 60_000
    block_ms: int | None = None
    headers: bool = True
    name: str | None = None
    key: Literal["credential", "route"] = "credential"
    connections: int = 0
    fake_clock: bool = False
    now_ms: int = DEFAULT_NOW_MS
    trace: bool = False
    keep_alive_ms: int = 75_000
    port: int = 0

    def argv(self) -> list[str]:
        """The command-line options of ``main.js`` for these settings."""
        args = [
            f"--port={self.port}",
            f"--limit={self.limit}",
            f"--ttl={self.ttl_ms}",
            f"--headers={'on' if self.headers else 'off'}",
            f"--key={self.key}",
            f"--connections={self.connections}",
            f"--fake-clock={'on' if self.fake_clock else 'off'}",
            f"--now={self.now_ms}",
            f"--trace={'on' if self.trace else 'off'}",
            f"--keep-alive={self.keep_alive_ms}",
        ]
        if self.block_ms is not None:
            args.append(f"--block={self.block_ms}")
        if self.name:
            args.append(f"--name={self.name}")
        return args

    @property
    def suffix(self) -> str:
        """What the throttler appends to every header name: ``-NAME`` for a named throttler."""
        return f"-{self.name}" if self.name and self.name != "default" else ""


def cache_root() -> Path:
    """The directory installs are kept in (see the module's docstring)."""
    explicit = os.environ.get("MEETERGO_NEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "meetergo-async" / "nest"


def lock_hash(app_dir: Path = APP_DIR) -> str:
    """The first 16 hex digits of the SHA-256 of ``package-lock.json``: the install's key."""
    return hashlib.sha256((app_dir / LOCK_FILE).read_bytes()).hexdigest()[:16]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NodeMissingError(
            f"{name!r} is not on PATH: the NestJS reference app (bench/nest) needs Node.js "
            "(>= 20.19) and npm. Install them (e.g. from https://nodejs.org or your package "
            "manager) and run the tests again."
        )
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _copy_if_changed(source: Path, target: Path) -> None:
    data = source.read_bytes()
    if target.exists() and target.read_bytes() == data:
        return
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)  # atomic: a running app keeps the file it loaded


def install(app_dir: Path = APP_DIR, *, timeout: float = 600.0) -> Path:
    """Install the app (``npm ci`` from its lock, once per lock) and return its directory.

    Safe to call from several processes at once: a file lock serializes the install, which
    happens in a temporary directory renamed into place when complete.

    Raises:
        NodeMissingError: ``node`` or ``npm`` is not on PATH.
        NestAppError: ``npm ci`` failed (its output is in the message).
    """
    _tool("node")
    npm = _tool("npm")
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = lock_hash(app_dir)
    target = root / key
    with _locked(root / f"{key}.lock"):
        if not (target / _INSTALLED).exists():
            staging = Path(tempfile.mkdtemp(prefix=f"{key}.staging-", dir=root))
            try:
                _npm_ci(npm, app_dir, staging, timeout)
                (staging / _INSTALLED).write_text(f"{key}\n")
                if target.exists():
                    shutil.rmtree(target)  # an interrupted install left it incomplete
                staging.rename(target)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
        for name in (*INSTALL_FILES, *SOURCE_FILES):
            _copy_if_changed(app_dir / name, target / name)
    return target


def _npm_ci(npm: str, app_dir: Path, staging: Path, timeout: float) -> None:
    """``npm ci`` of the app's lock in ``staging``; no package's install scripts run."""
    for name in INSTALL_FILES:
        shutil.copyfile(app_dir / name, staging / name)
    done = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=staging,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise NestAppError(
            f"`npm ci` in {staging} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


class NestApp:
    """One running app: its URL and options; ``stop()`` (or leaving ``with``) ends it."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, options: NestOptions, log: IO[bytes]
    ) -> None:
        self.process = process
        self.url = url
        self.options = options
        self._log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def clock_url(self) -> str:
        """``POST {"tick": ms}`` or ``{"set": epochMs}`` here moves the fake clock."""
        return f"{self.url}/__/clock"

    @property
    def trace_url(self) -> str:
        """``GET`` here reads (and clears) the per-request trace of ``trace=True``."""
        return f"{self.url}/__/trace"

    def stderr(self) -> str:
        """What the app wrote to stderr so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the app (SIGTERM), kill it if it has not ended within ``timeout``."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if process.stdout is not None:
            process.stdout.close()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<NestApp {self.url} pid={self.pid} {self.options}>"


def start(
    options: NestOptions, *, app_dir: Path | None = None, startup_timeout: float = 30.0
) -> NestApp:
    """Start the app with ``options`` and wait for the URL it prints first.

    ``app_dir``: an installed copy (``install()``'s result); by default ``install()`` is
    called, which is quick once installed.

    Raises:
        NodeMissingError: ``node`` is not on PATH.
        NestAppError: the app exited or printed no URL within ``startup_timeout`` seconds.
    """
    node = _tool("node")
    directory = install() if app_dir is None else app_dir
    log = tempfile.TemporaryFile()  # noqa: SIM115 - NestApp closes it
    process = subprocess.Popen(  # noqa: S603 - node from PATH, our own script
        [node, "main.js", *options.argv()],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    app = NestApp(process, "", options, log)
    try:
        app.url = _read_url(process, startup_timeout)
    except NestAppError as exc:
        details = app.stderr().strip()
        app.stop()
        raise NestAppError(f"the NestJS app did not start ({exc}): {details}") from None
    except BaseException:
        app.stop()
        raise
    return app


def _read_url(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not selector.select(max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                raise NestAppError(f"no URL within {timeout:g}s")
    line = process.stdout.readline().strip()
    if not line.startswith("http://"):
        raise NestAppError(f"expected the URL as the first line, got {line!r}")
    return line
