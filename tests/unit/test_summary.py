"""The run's last stderr line, from its counts: releases named while they are few, workloads
changed / unchanged / checked, and findings by severity."""

from __future__ import annotations

import pytest

from airflow_sidecars.krmio.results import Result
from airflow_sidecars.runs.summary import Summary, line

FOUND = [Result("a", "error"), Result("b", "warning"), Result("c", "warning"), Result("d", "info")]


@pytest.mark.parametrize(
    ("summary", "results", "expected"),
    [
        (
            Summary(1, (("airflow", "prod"),), frozenset({0}), frozenset({0})),
            [],
            "inject: 1 object, 1 release (airflow in prod); 1 workload changed, 0 unchanged; "
            "0 errors, 0 warnings, 0 info",
        ),
        (
            Summary(9, (("a", None), ("b", "x"), (None, "y")), frozenset({1, 2, 3}), None),
            FOUND,
            "inject: 9 objects, 3 releases (a, b in x, unlabelled in y); 3 workloads checked; "
            "1 error, 2 warnings, 1 info",
        ),
        (
            Summary(40, tuple((f"r{n}", None) for n in range(4)), frozenset({1, 2}), frozenset()),
            [],
            "inject: 40 objects, 4 releases; 0 workloads changed, 2 unchanged; "
            "0 errors, 0 warnings, 0 info",
        ),
        (
            Summary(3, (), frozenset(), frozenset(), applied=False),
            FOUND[:1],
            "inject: 3 objects, no Airflow release; nothing applied (0 workloads would have "
            "changed); 1 error, 0 warnings, 0 info",
        ),
        (
            Summary(3, (), frozenset({1}), None, applied=False),
            FOUND[:1],
            "inject: 3 objects, no Airflow release; 1 workload found; 1 error, 0 warnings, 0 info",
        ),
    ],
)
def test_line(summary: Summary, results: list[Result], expected: str) -> None:
    assert line("inject", summary, results) == expected
