"""The one line every run ends with on stderr: what was read, what changed, what was found.

    inject: 41 objects, 1 release (airflow in default); 3 workloads changed, 5 unchanged;
            0 errors, 0 warnings, 3 info

"Workloads" are the objects that hold an Airflow pod spec: the Deployments, StatefulSets,
Jobs and CronJobs the chart labels, and the ConfigMap with the KubernetesExecutor pod template.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from airflow_sidecars.krmio.krm import Input
from airflow_sidecars.krmio.results import Result
from airflow_sidecars.renders.airflow import find_workloads
from airflow_sidecars.renders.release import ReleaseKey  # (release, namespace)


class Summary(NamedTuple):
    objects: int
    releases: tuple[ReleaseKey, ...]  # sorted
    workloads: frozenset[int]  # positions of the items that hold an Airflow pod spec
    changed: frozenset[int] | None  # positions edited (None: a function that edits nothing)
    applied: bool = True  # False: errors, the output is the input as it came
    renders: int = 1  # an estate's renders (estates.py), each with its own releases


def of(inp: Input, edited: Iterable[int] | None) -> Summary:
    found = find_workloads(inp.items)
    keys = {(w.release, w.item.namespace) for w in found}
    releases = tuple(sorted(keys, key=lambda key: (key[0] or "", key[1] or "")))
    changed = None if edited is None else frozenset(edited)
    return Summary(len(inp.items), releases, frozenset(w.item.position for w in found), changed)


def joined(parts: list[Summary]) -> Summary:
    """The summary of an estate: its renders' summaries added up (positions are each
    render's own, so they are told apart by render before they are counted)."""
    workloads: set[int] = set()
    changed: set[int] | None = None
    offset = 0
    for part in parts:
        workloads |= {offset + position for position in part.workloads}
        if part.changed is not None:
            changed = (changed or set()) | {offset + position for position in part.changed}
        offset += part.objects
    # one release per render: `airflow` in envs/dev and `airflow` in envs/prod are two
    releases = tuple(sorted((key for part in parts for key in part.releases),
                            key=lambda key: (key[0] or "", key[1] or "")))  # fmt: skip
    applied = all(part.applied for part in parts)
    changes = None if changed is None else frozenset(changed)
    return Summary(offset, releases, frozenset(workloads), changes, applied, len(parts))


def unread() -> Summary:
    """An input that could not be read."""
    return Summary(0, (), frozenset(), None, applied=False)


def line(function: str, summary: Summary, results: list[Result]) -> str:
    objects = _count(summary.objects, "object")
    if summary.renders > 1:
        objects += f" in {summary.renders} renders"
    parts = [f"{objects}, {_releases(summary.releases)}"]
    parts.append(_workloads(summary))
    severities = [result.severity for result in results]
    found = [_count(severities.count(s), s) for s in ("error", "warning")]
    parts.append(", ".join([*found, f"{severities.count('info')} info"]))
    return f"{function}: " + "; ".join(part for part in parts if part)


def _workloads(summary: Summary) -> str:
    total = len(summary.workloads)
    if summary.changed is None:  # validate, or a config that could not be read
        return f"{_count(total, 'workload')} " + ("checked" if summary.applied else "found")
    changed = len(summary.workloads & summary.changed)
    if not summary.applied:
        return f"nothing applied ({_count(changed, 'workload')} would have changed)"
    return f"{_count(changed, 'workload')} changed, {total - changed} unchanged"


def _releases(releases: tuple[ReleaseKey, ...]) -> str:
    """The releases by name when they are few; a count when a line would not hold them."""
    if not releases:
        return "no Airflow release"
    if len(releases) > 3:
        return f"{len(releases)} releases"
    named = ", ".join(_release(key) for key in releases)
    return f"{_count(len(releases), 'release')} ({named})"


def _release(key: ReleaseKey) -> str:
    release, namespace = key
    name = release or "unlabelled"
    return f"{name} in {namespace}" if namespace else name


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
