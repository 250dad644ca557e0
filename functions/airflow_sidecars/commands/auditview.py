"""`audit`: its findings as a table for a person (per workload, one row per item, the state
and for a drifted one what differs) or as JSON for a machine (`-o json`: one object per
finding, {workload, namespace, config, item, state, diff}), and the summary line.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING

from airflow_sidecars.commands.planview import table

if TYPE_CHECKING:
    from airflow_sidecars.transforms.audit import Finding, Problem

_HEADER = ("STATE", "ITEM", "DIFF (declared -> live)")


def as_json(findings: list[Finding]) -> str:
    return json.dumps([found.as_json() for found in findings], indent=2) + "\n"


def as_table(findings: list[Finding], problems: list[Problem]) -> str:
    lines: list[str] = []
    by_workload: dict[tuple[str | None, str, str], list[Finding]] = {}
    for found in findings:
        by_workload.setdefault((found.namespace, found.workload, found.config), []).append(found)
    for (namespace, workload, config), said in by_workload.items():
        where = f" in namespace {namespace}" if namespace else ""
        lines += [""] if lines else []
        lines.append(f"{workload}{where}  (config {config})")
        rows = [_HEADER]
        for found in said:
            rows.append((found.state, found.item, found.diff[0] if found.diff else ""))
            rows += [("", "", more) for more in found.diff[1:]]
        lines += table(rows)
    if not findings:
        lines.append("nothing declared: the config adds nothing to these workloads")
    lines += unaudited(problems)
    return "\n".join(lines) + "\n"


def unaudited(problems: list[Problem]) -> list[str]:
    """What could not be audited, a line each (under the table; with -o json, on stderr,
    which keeps stdout a JSON document)."""
    return [f"{problem.workload}: not audited: {problem.message}" for problem in problems]


def summary(findings: list[Finding], problems: list[Problem], workloads: int) -> str:
    """One line, as inject's: counts of each state, and of the workloads held against."""
    from airflow_sidecars.transforms.auditstates import STATES, kind_of  # noqa: PLC0415

    counts = Counter(found.state for found in findings)
    # A state only task pods have is said when there is one: most installs have none.
    shown = [s for s in STATES if s != "older-template" or counts[s]]
    states = ", ".join(f"{counts[state]} {state}" for state in shown)
    objects: dict[str, set[tuple[str | None, str]]] = {}
    for found in findings:
        objects.setdefault(kind_of(found), set()).add((found.namespace, found.workload))
    pods = len(objects.pop("Pod", ()))
    accounts = len(objects.pop("ServiceAccount", ()))
    audited = sum(map(len, objects.values()))
    line = f"audit: {states}; {audited} of {workloads} workload(s) audited"
    if pods:
        line += f", {pods} task pod(s)"
    if accounts:
        line += f", {accounts} ServiceAccount(s)"
    unreadable = sum(problem.blocking for problem in problems)
    if unreadable:
        line += f"; {unreadable} not readable"
    if len(problems) > unreadable:
        line += f"; {len(problems) - unreadable} not audited"
    return line
