"""Stand-ins for the metrics libraries the docs wire ``on_event`` to, where they are missing.

docs/production.md shows ``prometheus_client`` and OpenTelemetry's metrics API. They are not
dependencies of the package, nor of its ``dev`` extra. An example that imports one runs
against the real library when it is installed, and otherwise against a stand-in module from
here: it accepts the calls those examples make, with the real signatures (a misspelt
argument fails as it would), and records them in ``CALLS``, so a test can check what an
example reported.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Sequence
from typing import Any

_STAND_IN = "a stand-in from tests/doc_stubs.py"
CALLS: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
"""``(library, what, args, kwargs)`` for every recorded call, in order."""


def _record(library: str, what: str, *args: Any, **kwargs: Any) -> None:
    CALLS.append((library, what, args, kwargs))


# -- prometheus_client ----------------------------------------------------------------------


class CollectorRegistry:
    """Holds the metrics registered with it."""

    def __init__(self, auto_describe: bool = False, target_info: Any = None) -> None:
        self.metrics: list[_Metric] = []


class _Metric:
    kind = "metric"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: CollectorRegistry | None = None,
        **kwargs: Any,
    ) -> None:
        self.name, self.labelnames = name, tuple(labelnames)
        self.samples: dict[tuple[str, ...], list[float]] = {}
        if registry is not None:
            registry.metrics.append(self)

    def labels(self, *values: str, **labels: str) -> _Child:
        if labels:
            values = tuple(labels[name] for name in self.labelnames)
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        return _Child(self, tuple(str(v) for v in values))


class _Child:
    def __init__(self, metric: _Metric, values: tuple[str, ...]) -> None:
        self._metric, self._values = metric, values

    def _add(self, what: str, amount: float) -> None:
        self._metric.samples.setdefault(self._values, []).append(amount)
        _record("prometheus_client", f"{self._metric.name}.{what}", self._values, amount)

    def inc(self, amount: float = 1, exemplar: Any = None) -> None:
        self._add("inc", amount)

    def observe(self, amount: float, exemplar: Any = None) -> None:
        self._add("observe", amount)


class Counter(_Metric):
    kind = "counter"


class Histogram(_Metric):
    kind = "histogram"


def generate_latest(registry: CollectorRegistry) -> bytes:
    """One line per labelled series: its name, labels, how many samples and their sum."""
    lines = []
    for metric in registry.metrics:
        for values, amounts in metric.samples.items():
            labels = ",".join(f'{n}="{v}"' for n, v in zip(metric.labelnames, values, strict=True))
            lines.append(f"{metric.name}{{{labels}}} count={len(amounts)} sum={sum(amounts)}")
    return ("\n".join(lines) + "\n").encode()


# -- opentelemetry.metrics ------------------------------------------------------------------


class _Instrument:
    def __init__(self, name: str, unit: str = "", description: str = "") -> None:
        self.name = name

    def _use(self, what: str, amount: float, attributes: Any, context: Any) -> None:
        _record("opentelemetry", f"{self.name}.{what}", amount, dict(attributes or {}))


class _Counter(_Instrument):
    def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._use("add", amount, attributes, context)


class _Histogram(_Instrument):
    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._use("record", amount, attributes, context)


class _Meter:
    def create_counter(self, name: str, unit: str = "", description: str = "") -> _Counter:
        return _Counter(name, unit, description)

    def create_histogram(self, name: str, unit: str = "", description: str = "") -> _Histogram:
        return _Histogram(name, unit, description)


def get_meter(
    name: str,
    version: str | None = None,
    meter_provider: Any = None,
    schema_url: str | None = None,
    attributes: Any = None,
) -> _Meter:
    return _Meter()


def _modules() -> dict[str, types.ModuleType]:
    here = sys.modules[__name__]
    prometheus = types.ModuleType("prometheus_client", _STAND_IN)
    for name in ("CollectorRegistry", "Counter", "Histogram", "generate_latest"):
        setattr(prometheus, name, getattr(here, name))
    opentelemetry = types.ModuleType("opentelemetry", _STAND_IN)
    metrics = types.ModuleType("opentelemetry.metrics", _STAND_IN)
    metrics.get_meter = get_meter  # type: ignore[attr-defined]
    opentelemetry.metrics = metrics  # type: ignore[attr-defined]
    return {
        "prometheus_client": prometheus,
        "opentelemetry": opentelemetry,
        "opentelemetry.metrics": metrics,
    }


def _installed(name: str) -> bool:
    module = sys.modules.get(name)
    if module is not None:
        return module.__doc__ != _STAND_IN
    return importlib.util.find_spec(name) is not None


@contextlib.contextmanager
def stand_ins(*, force: bool = False) -> Iterator[None]:
    """Put the stand-ins in ``sys.modules`` for the libraries not installed (all: ``force``).

    ``sys.modules`` is given back as it was afterwards.
    """
    modules = _modules()
    saved = {name: sys.modules.get(name) for name in modules}
    for name, module in modules.items():
        if force or not _installed(name.split(".")[0]):
            sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
