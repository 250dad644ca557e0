"""The rule table (`rules.py`) is the one list of rule ids: every id the code reports is in it,
every id in it is reported somewhere, the schema's `spec.validate.disable` takes exactly the
ones it says, and the README's rule table is this table."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from airflow_sidecars.transforms.rules import (
    ALWAYS_ON,
    CAN_DISABLE,
    RULES,
    plain_sidecar_message,
    severity,
)
from conftest import ROOT

PACKAGE = ROOT / "functions" / "airflow_sidecars"
RULE_ID = re.compile(r"^[a-z]+(-[a-z]+)*$")
SEVERITIES = {"error", "warning", "info"}
# Calls whose string arguments include a rule id (besides severities and messages).
REPORTING_CALLS = {"result", "_result", "_finding", "Finding", "finding"}


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def reported_rule_ids() -> dict[str, set[str]]:
    """Rule ids in the package's code, by the module they are reported in: the value of a
    "rule" key, an id passed to a reporting call, the rule of a preset's note."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "rules.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            candidates: list[ast.expr] = []
            if isinstance(node, ast.Dict):
                candidates += [
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant) and key.value == "rule"
                ]
            elif isinstance(node, ast.Call) and _call_name(node) in REPORTING_CALLS:
                candidates += node.args
            elif isinstance(node, ast.Tuple) and len(node.elts) == 3:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and first.value in SEVERITIES:
                    candidates.append(node.elts[2])  # a preset's note: (severity, message, rule)
            for candidate in candidates:
                if (
                    isinstance(candidate, ast.Constant)
                    and isinstance(candidate.value, str)
                    and RULE_ID.match(candidate.value)
                    and candidate.value not in SEVERITIES
                ):
                    found.setdefault(candidate.value, set()).add(path.name)
    return found


def test_every_reported_rule_is_in_the_table() -> None:
    reported = reported_rule_ids()
    assert len(reported) > 20, reported  # the scan finds the reporting calls at all
    unknown = {rule: where for rule, where in reported.items() if rule not in RULES}
    assert not unknown


def test_every_rule_in_the_table_is_reported() -> None:
    reported = set(reported_rule_ids())
    # validate's checks report through _finding(pod, rule, ...), as a constant too
    assert set(RULES) - reported == set()


def test_the_schema_disables_exactly_the_rules_that_can_be() -> None:
    schema = json.loads((ROOT / "schemas" / "airflow-sidecars.v1alpha1.json").read_text())
    disable = schema["properties"]["spec"]["properties"]["validate"]["properties"]["disable"]
    assert set(disable["items"]["enum"]) == set(CAN_DISABLE)
    assert not CAN_DISABLE & ALWAYS_ON
    assert all(RULES[rule].validate is not None for rule in CAN_DISABLE | ALWAYS_ON)


def readme_table() -> str:
    """The README's rule table, as the table in rules.py says it."""
    lines = ["| rule | inject | validate | meaning |", "| --- | --- | --- | --- |"]
    for rule, (inject, validate, meaning, _) in RULES.items():
        lines.append(f"| `{rule}` | {inject or '-'} | {validate or '-'} | {meaning} |")
    return "\n".join(lines) + "\n"


def test_the_readme_rule_table_is_the_table_in_rules_py() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_table() in readme, "README.md's rule table differs from rules.py:\n" + (
        readme_table()
    )


@pytest.mark.parametrize(
    ("rule", "function", "expected"),
    [
        ("plain-sidecar", "inject", "error"),
        ("no-requests", "validate", "info"),
        ("missing-volume", "inject", "error"),
    ],
)
def test_severity_of_a_rule(rule: str, function: str, expected: str) -> None:
    assert severity(rule, function) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "function"),
    [
        ("template", "inject"),
        ("added", "validate"),
        ("no-match", "inject"),
        ("plain-sidecar", "validate"),  # a warning where the config allows it
    ],
)
def test_a_rule_without_one_verdict_has_no_severity(rule: str, function: str) -> None:
    with pytest.raises(KeyError, match=rule):
        severity(rule, function)  # type: ignore[arg-type]


def test_the_plain_sidecar_message_names_the_switch_and_the_pods() -> None:
    from airflow_sidecars.krmio.krmread import parse  # noqa: PLC0415
    from airflow_sidecars.renders.airflow import find_workloads  # noqa: PLC0415
    from conftest import FIXTURES  # noqa: PLC0415

    render = FIXTURES / "official-1.15.0" / "02-kubernetes-executor"
    texts: list[tuple[str | None, str]] = [
        (None, Path(f"{render}{suffix}").read_text()) for suffix in (".yaml", ".hooks.yaml")
    ]
    workloads = find_workloads(parse(texts).items)
    template = next(w for w in workloads if w.is_pod_template)
    job = next(w for w in workloads if w.item.kind == "Job")
    on_template = plain_sidecar_message("log-shipper", template, "workers")
    on_job = plain_sidecar_message("log-shipper", job, "migrateDatabaseJob")
    assert "KubernetesExecutor task pods will not complete" in on_template
    assert "this Job's pods will not complete" in on_job
    assert "spec.migrateDatabaseJob.nativeSidecars: true" in on_job
    # validate's word for one the config allows: the allowance noted, the way out kept
    allowed = plain_sidecar_message("log-shipper", job, "migrateDatabaseJob", allowed=True)
    assert "this Job's pods will not complete" in allowed
    assert "allowed by spec.migrateDatabaseJob.allowPlainSidecars: the config says" in allowed
    assert "spec.migrateDatabaseJob.nativeSidecars: true" in allowed
