"""docs/production.md's metrics examples report what the client did to the metrics library.

tests/test_docs_examples.py runs them against the real library where it is installed;
here they always run against the recording stand-ins, so the calls can be checked.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import doc_stubs
from tests.test_docs_examples import ROOT, Example, _blocks, _run_script

PAGE = ROOT / "docs" / "production.md"
LIST_ROUTE = "/v4/calendar-connections/connections"


def example_importing(module: str) -> Example:
    (example,) = [e for e in _blocks(PAGE) if f"from {module} import" in e.code]
    return example


@pytest.fixture
def calls() -> Iterator[list[tuple[str, str, tuple[object, ...], dict[str, object]]]]:
    doc_stubs.CALLS.clear()
    with doc_stubs.stand_ins(force=True):
        yield doc_stubs.CALLS
    doc_stubs.CALLS.clear()


def test_the_prometheus_example_counts_attempts_and_observes_latency(
    calls: list[tuple[str, str, tuple[object, ...], dict[str, object]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run_script(example_importing("prometheus_client"))

    reported = [(what, args[0]) for library, what, args, _ in calls]
    assert ("meetergo_attempts.inc", ("GET", LIST_ROUTE, "200")) in reported
    assert ("meetergo_attempts.inc", ("PATCH", LIST_ROUTE + "/{connection_id}", "200")) in reported
    assert ("meetergo_attempt_seconds.observe", ("GET", LIST_ROUTE)) in reported
    assert 'meetergo_attempts{method="PATCH"' in capsys.readouterr().out


def test_the_opentelemetry_example_adds_and_records_with_attributes(
    calls: list[tuple[str, str, tuple[object, ...], dict[str, object]]],
) -> None:
    _run_script(example_importing("opentelemetry"))

    attributes = {
        "http.request.method": "GET",
        "url.template": LIST_ROUTE,
        "http.response.status_code": 200,
    }
    assert [(what, args) for _, what, args, _ in calls] == [
        ("meetergo.attempts.add", (1, attributes)),
        ("meetergo.attempt.duration.record", (calls[1][2][0], attributes)),
    ]


def test_stand_ins_leave_sys_modules_as_they_were() -> None:
    import sys

    before = {name: sys.modules.get(name) for name in ("prometheus_client", "opentelemetry")}
    with doc_stubs.stand_ins(force=True):
        import prometheus_client

        assert prometheus_client.__doc__ == doc_stubs._STAND_IN
    assert {name: sys.modules.get(name) for name in before} == before
