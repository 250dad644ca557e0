"""The audit's answers: a finding per item and what state it is in, and how an item is judged
against its declaration (audit.py for the workloads, auditaccounts.py for the ServiceAccounts,
audittasks.py for running task pods).
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from airflow_sidecars.pods.apidefaults import Place, apply_defaults, declared_equal
from airflow_sidecars.recording import records

State = Literal["in-sync", "missing", "drifted", "orphaned", "unrecorded", "older-template"]
STATES: tuple[State, ...] = (
    "in-sync",
    "missing",
    "drifted",
    "orphaned",
    "unrecorded",
    "older-template",
)
# Exit 1 for these; under --strict for every state but in-sync. A task pod made from an older
# template is not among them: a running pod cannot be changed, it ends on its own, and the
# next task's pod is made from the template as it is now (which is audited itself).
FAILING: frozenset[State] = frozenset({"missing", "drifted"})

# A record item's kind -> the owner its defaults are looked up for (apidefaults.py)
_OWNERS = {
    "container": "container",
    "initContainer": "container",
    "volume": "volume",
    "mount": "mount",
    "env": "env",
}
# A container declared in one list and found in the other is there, in the wrong place.
_OTHER_LIST = {"container": "initContainer", "initContainer": "container"}
_LIST_NAMES = {"container": "containers", "initContainer": "initContainers"}
_SHOWN = 60  # characters of a value shown in a diff


class Finding(NamedTuple):
    """One declared or recorded item of one workload, and its state."""

    workload: str  # "Kind/name"; the pod template: "ConfigMap/name#key"
    namespace: str | None
    config: str
    item: str  # as a reader says it: "container git-sync", "mount /dags in scheduler"
    state: State
    diff: tuple[str, ...] = ()  # drifted: "field: declared -> live", one per field

    def as_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "namespace": self.namespace,
            "config": self.config,
            "item": self.item,
            "state": self.state,
            "diff": list(self.diff),
        }


class Problem(NamedTuple):
    """An object the audit could not judge. A blocking one (it could not be read) fails the
    audit; one that is only absent from the input (a ServiceAccount `kubectl get` was not
    asked for) is said, and does not."""

    workload: str
    message: str
    blocking: bool = True


class Here(NamedTuple):
    """Where findings are: the object, its namespace, the config, and whether the object is a
    pod template (a workload's, or the KubernetesExecutor's) or a Pod, which the API server
    defaults further."""

    workload: str
    namespace: str | None
    config: str
    place: Place = "template"

    def at(self, item: records.Item, state: State, diff: tuple[str, ...] = ()) -> Finding:
        return Finding(self.workload, self.namespace, self.config, said(item), state, diff)


def judge(
    here: Here,
    item: records.Item,
    declared: Any,
    pod: dict[str, Any],
    recorded: bool,
) -> Finding:
    """One declared item of a pod spec: missing, drifted, or there as declared (in-sync when
    the config's record names it, else unrecorded)."""
    live = records.entry(pod, item)
    if live is None:
        moved = _elsewhere(pod, item)
        return here.at(item, "drifted", (moved,)) if moved else here.at(item, "missing")
    owner = _OWNERS[item[0]]
    if declared_equal(declared, live, owner, here.place):
        return here.at(item, "in-sync" if recorded else "unrecorded")
    return here.at(item, "drifted", drift(declared, live, owner, here.place))


def _elsewhere(pod: dict[str, Any], item: records.Item) -> str | None:
    """A container declared as a sidecar (or a native one) that is there in the other list:
    moved by hand, or written to a cluster that does not keep native sidecars."""
    other = _OTHER_LIST.get(item[0])
    if other is None or records.entry(pod, (other, *item[1:])) is None:
        return None
    return f"placement: {_LIST_NAMES[item[0]]} -> {_LIST_NAMES[other]}"


def drift(declared: Any, live: Any, owner: str, place: Place = "template") -> tuple[str, ...]:
    """The fields of `live` that make it differ from `declared` as stored, each as
    `field: declared -> live`. Each field is judged in the whole entry (a pull policy's
    default depends on the image), with only that field taken from the live side."""
    if not (isinstance(declared, dict) and isinstance(live, dict)):
        return (f"{shown(declared)} -> {shown(live)}",)
    stored = apply_defaults(declared, owner, place)
    lines = []
    for field in sorted(set(stored) | set(live), key=str):
        swapped = {key: value for key, value in stored.items() if key != field}
        if field in live:
            swapped[field] = live[field]
        if not declared_equal(stored, swapped, owner, place):
            lines.append(f"{field}: {shown(stored.get(field))} -> {shown(live.get(field))}")
    return tuple(lines) or ("(differs modulo defaults)",)


def kind_of(finding: Finding) -> str:
    """The kind of object a finding is about: a workload's, "ConfigMap" for the pod template,
    "Pod" for a task pod, "ServiceAccount"."""
    return finding.workload.split("/", 1)[0]


def owner_of(item: records.Item) -> str:
    """What apidefaults.py looks an item's defaults up by."""
    return _OWNERS[item[0]]


def shown(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def said(item: records.Item) -> str:
    """A record item as a reader says it."""
    kind = item[0]
    if kind == "mount":
        return f"mount {item[2]} in {item[1]}"
    if kind == "env":
        return f"env {item[2]} in {item[1]}"
    return f"{kind} {item[1]}"
