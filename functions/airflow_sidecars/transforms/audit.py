"""The auditor: what a config declares, held against the objects as they run in a cluster.

A post-renderer guarantees the sidecars only for installs that ran it: a `helm upgrade`
without it, an edit by hand or a rollback takes them away and nothing says so. The audit reads
the live objects (kubectl's dumps, krmread.py) and asks, per workload and per item the config
declares, the question inject and prune ask on a render, with their own planning: what the
config gives this pod (inject.declared_additions, the pod without its record's items, as on
the first run) and what its record names (records.py). An item is (auditstates.py):

- `in-sync`: declared, there, and equal to its declaration modulo the API server's defaults
  (apidefaults.declared_equal), and recorded;
- `unrecorded`: the same, but the config's record does not name it (added by hand, or by an
  install whose record was lost);
- `missing`: declared and absent (the post-renderer did not run);
- `drifted`: there under the declared name, but different: the fields that differ, as
  `field: declared -> live` (or a container in the other list than declared);
- `orphaned`: the config's record names it and the config no longer declares it;
- `older-template`: in a running task pod, different from the pod template as it is now
  (audittasks.py).

Nothing is edited. The KubernetesExecutor pod template (a string in a ConfigMap, which the API
server does not default) is audited as the workloads are: a task pod gets the same defaults
when it is made from it, so the same declaration is equal to it. The annotations presets set
on ServiceAccounts are audited on the accounts in the input (auditaccounts.py), and running
task pods against the template they were made from (audittasks.py).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.planning import podtemplate, serviceaccounts
from airflow_sidecars.recording import records
from airflow_sidecars.recording.recordshape import RecordError
from airflow_sidecars.renders.airflow import Workload, find_workloads
from airflow_sidecars.renders.release import release_namespaces, releases
from airflow_sidecars.text.yamlread import UnsupportedYaml, node_at, to_data
from airflow_sidecars.transforms import auditaccounts, audittasks
from airflow_sidecars.transforms.auditstates import (
    FAILING,
    STATES,
    Finding,
    Here,
    Problem,
    State,
    judge,
    kind_of,
)
from airflow_sidecars.transforms.inject import declared_additions, record_path

__all__ = [
    "FAILING",
    "STATES",
    "Audit",
    "Finding",
    "Problem",
    "State",
    "audit",
    "audit_order",
    "workload_name",
]


class Audit(NamedTuple):
    findings: list[Finding]
    problems: list[Problem]  # objects that could not be read, or judged
    workloads: int  # the Airflow workloads of the input (audited or not)


def audit(inp: krm.Input, config: Config) -> Audit:
    """Every item the config declares or its record names, in every workload it matches, in
    the ServiceAccounts presets annotate, and in the running task pods."""
    every = find_workloads(inp.items)
    namespaces = release_namespaces(inp.items)
    known_releases = releases(inp.items, every) if config.presets else {}
    findings: list[Finding] = []
    problems: list[Problem] = []
    accounts = serviceaccounts.Asked()
    templates: list[audittasks.Template] = []
    unread: list[audittasks.Unread] = []  # pod templates that could not be read
    checksums: audittasks.Checksums = {}
    for workload in every:
        name = workload_name(workload)
        try:
            pod, record, annotations = _read(workload, config)
        except (UnsupportedYaml, RecordError) as error:
            pod, record, annotations = str(error), records.Record(), None
        if isinstance(pod, str):
            problems.append(Problem(name, pod))
            if workload.is_pod_template:
                unread.append(audittasks.Unread(workload.item.namespace, name))
            continue
        if pod is None:
            continue
        declared = declared_additions(config, workload, (pod, record), known_releases, namespaces)
        wanted = records.declared_values(declared.pod, declared.additions)
        here = Here(name, workload.item.namespace, config.name)
        findings += [
            judge(here, item, value, pod, item in record.items) for item, value in wanted.items()
        ]
        findings += [here.at(item, "orphaned") for item in sorted(record.items - set(wanted))]
        accounts.ask(workload, pod, declared.annotations)
        audittasks.checksums(workload, annotations, checksums)
        if workload.is_pod_template:
            templates.append(audittasks.Template(workload, name, pod, record, wanted))
    findings += auditaccounts.audit(inp.items, accounts, config, problems)
    tasks = audittasks.Templates(templates, unread, checksums)
    findings += audittasks.audit(inp.items, tasks, config, problems)
    return Audit(findings, problems, len(every))


_ORDER = {"ServiceAccount": 1, "Pod": 2}  # after the workloads, in the order audit says them


def audit_order(finding: Finding) -> int:
    """Where a finding's kind comes in what audit says: workloads, accounts, task pods."""
    return _ORDER.get(kind_of(finding), 0)


def workload_name(workload: Workload) -> str:
    """ "Kind/name", and for the KubernetesExecutor pod template its data key."""
    name = f"{workload.item.kind}/{workload.item.name}"
    return f"{name}#{workload.template_key}" if workload.is_pod_template else name


def _read(
    workload: Workload, config: Config
) -> tuple[dict[str, Any] | str | None, records.Record, Any]:
    """The workload's pod spec as data (None when it has none; for a pod template that is
    not one Pod document, why), the config's record, and the pod template's annotations."""
    item = workload.item
    record_node = node_at(item.node, record_path(workload))
    record = records.read(record_node, records.key(config.name)) or records.Record()
    if workload.is_pod_template:
        found = podtemplate.load(workload)
        if isinstance(found, podtemplate.Unreadable):
            return found.message, record, None
        pod = found.pod
        return (pod if isinstance(pod, dict) else None), record, None
    data = to_data(item.node, f"{item.kind} {item.name}")
    template = data
    for step in workload.pod_path[:-1]:
        template = template.get(step) if isinstance(template, dict) else None
    template = template if isinstance(template, dict) else {}
    pod = template.get(workload.pod_path[-1])
    metadata = template.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return (pod if isinstance(pod, dict) else None), record, annotations
