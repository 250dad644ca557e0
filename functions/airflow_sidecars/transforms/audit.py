"""The auditor: what a config declares, held against the objects as they run in a cluster.

A post-renderer guarantees the sidecars only for installs that ran it: a `helm upgrade`
without it, an edit by hand or a rollback takes them away and nothing says so. The audit reads
the live objects (kubectl's dumps, krmread.py) and asks, per workload and per item the config
declares, the question inject and prune ask on a render, with their own planning: what the
config gives this pod (inject.declared_additions, the pod without its record's items, as on
the first run) and what its record names (records.py). An item is:

- `in-sync`: declared, there, and equal to its declaration modulo the API server's defaults
  (apidefaults.declared_equal), and recorded;
- `unrecorded`: the same, but the config's record does not name it (added by hand, or by an
  install whose record was lost);
- `missing`: declared and absent (the post-renderer did not run);
- `drifted`: there under the declared name, but different: the fields that differ, as
  `field: declared -> live`;
- `orphaned`: the config's record names it and the config no longer declares it.

Nothing is edited. The KubernetesExecutor pod template (a string in a ConfigMap, which the API
server does not default) is audited as the workloads are: a task pod gets the same defaults
when it is made from it, so the same declaration is equal to it. Running task pods, and
whether they were made from an older template, are not audited yet.
"""

from __future__ import annotations

import json
from typing import Any, Literal, NamedTuple

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.planning import podtemplate
from airflow_sidecars.pods.apidefaults import apply_defaults, declared_equal
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.renders.airflow import Workload, find_workloads
from airflow_sidecars.renders.release import releases
from airflow_sidecars.text.yamlread import UnsupportedYaml, node_at, to_data
from airflow_sidecars.transforms.inject import declared_additions, record_path

State = Literal["in-sync", "missing", "drifted", "orphaned", "unrecorded"]
STATES: tuple[State, ...] = ("in-sync", "missing", "drifted", "orphaned", "unrecorded")
# Exit 1 for these; under --strict for every state but in-sync.
FAILING: frozenset[State] = frozenset({"missing", "drifted"})

# A record item's kind -> the owner its defaults are looked up for (apidefaults.py)
_OWNERS = {
    "container": "container",
    "initContainer": "container",
    "volume": "volume",
    "mount": "mount",
    "env": "env",
}
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
    """A workload the audit could not read (its findings are left out)."""

    workload: str
    message: str


def audit(inp: krm.Input, config: Config) -> tuple[list[Finding], list[Problem]]:
    """Every item the config declares or its record names, in every workload it matches."""
    every = find_workloads(inp.items)
    namespaces: dict[str | None, set[str]] = {}
    for item in inp.items:
        if item.namespace is not None and not item.is_local_config:
            namespaces.setdefault(item.label("release"), set()).add(item.namespace)
    known_releases = releases(inp.items, every) if config.presets else {}
    findings: list[Finding] = []
    problems: list[Problem] = []
    for workload in every:
        name = workload_name(workload)
        try:
            pod, record = _read(workload, config)
        except (UnsupportedYaml, RecordError) as error:
            problems.append(Problem(name, str(error)))
            continue
        if isinstance(pod, str):
            problems.append(Problem(name, pod))
            continue
        if pod is None:
            continue
        base, additions = declared_additions(
            config, workload, (pod, record), known_releases, namespaces
        )
        wanted = records.declared_values(base, additions)
        here = _Here(name, workload.item.namespace, config.name)
        findings += [_judge(here, item, value, pod, record) for item, value in wanted.items()]
        findings += [here.at(item, "orphaned") for item in sorted(record.items - set(wanted))]
    return findings, problems


def workload_name(workload: Workload) -> str:
    """ "Kind/name", and for the KubernetesExecutor pod template its data key."""
    name = f"{workload.item.kind}/{workload.item.name}"
    return f"{name}#{workload.template_key}" if workload.is_pod_template else name


def _read(workload: Workload, config: Config) -> tuple[dict[str, Any] | str | None, records.Record]:
    """The workload's pod spec as data (None when it has none; for a pod template that is
    not one Pod document, why), and the config's record."""
    item = workload.item
    annotations = node_at(item.node, record_path(workload))
    record = records.read(annotations, records.key(config.name)) or records.Record()
    if workload.is_pod_template:
        found = podtemplate.load(workload)
        if isinstance(found, podtemplate.Unreadable):
            return found.message, record
        pod = found.pod
    else:
        pod = to_data(item.node, f"{item.kind} {item.name}")
        for step in workload.pod_path:
            pod = pod.get(step) if isinstance(pod, dict) else None
    return (pod if isinstance(pod, dict) else None), record


class _Here(NamedTuple):
    workload: str
    namespace: str | None
    config: str

    def at(self, item: records.Item, state: State, diff: tuple[str, ...] = ()) -> Finding:
        return Finding(self.workload, self.namespace, self.config, said(item), state, diff)


def _judge(
    here: _Here, item: records.Item, declared: Any, pod: dict[str, Any], record: records.Record
) -> Finding:
    live = records.entry(pod, item)
    if live is None:
        return here.at(item, "missing")
    owner = _OWNERS[item[0]]
    if declared_equal(declared, live, owner, "template"):
        return here.at(item, "in-sync" if item in record.items else "unrecorded")
    return here.at(item, "drifted", drift(declared, live, owner))


def drift(declared: Any, live: Any, owner: str) -> tuple[str, ...]:
    """The fields of `live` that make it differ from `declared` as stored, each as
    `field: declared -> live`. Each field is judged in the whole entry (a pull policy's
    default depends on the image), with only that field taken from the live side."""
    if not (isinstance(declared, dict) and isinstance(live, dict)):
        return (f"{_shown(declared)} -> {_shown(live)}",)
    stored = apply_defaults(declared, owner, "template")
    lines = []
    for field in sorted(set(stored) | set(live), key=str):
        swapped = {key: value for key, value in stored.items() if key != field}
        if field in live:
            swapped[field] = live[field]
        if not declared_equal(stored, swapped, owner, "template"):
            lines.append(f"{field}: {_shown(stored.get(field))} -> {_shown(live.get(field))}")
    return tuple(lines) or ("(differs modulo defaults)",)


def _shown(value: Any) -> str:
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
