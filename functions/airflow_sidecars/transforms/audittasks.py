"""The audit of running KubernetesExecutor task pods: each held against the config, and against
the pod template it was made from as that template is now.

Airflow makes a task pod from the pod template file (a ConfigMap's key, mounted into the
scheduler) and labels it `kubernetes_executor: "True"`; the template's own labels (the
official chart's `release`) and annotations come along. A pod is never edited after it is
made, so a task pod that differs from its declaration differs because of the template it was
made from: when the template as it is now has the same item, the pod shares the template's
state (the template's own finding says why); when it does not, the pod was made from an older
template (`older-template`, with what differs, `field: template now -> this pod`).

Official chart task pods carry no `checksum/airflow-config` (the chart puts its checksums on
the scheduler's, workers', triggerer's and webserver's templates only), so the items are the
signal. A task pod that does carry a `checksum/...` annotation (from the user's pod
annotations) is held against the same annotation on its release's workloads now: another
value means an older config, and so an older template.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from airflow_sidecars.configuration.config import Config
from airflow_sidecars.krmio import krm
from airflow_sidecars.pods.apidefaults import declared_equal
from airflow_sidecars.recording import records
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.text.yamlread import UnsupportedYaml, to_data
from airflow_sidecars.transforms.auditstates import (
    Finding,
    Here,
    Problem,
    drift,
    judge,
    owner_of,
    shown,
)

# Airflow's KubernetesExecutor labels every pod it makes so (and lists its pods by it).
TASK_POD_LABEL = "kubernetes_executor"
# The label as kubectl prints it (YAML or JSON; quoted or not, as another printer may): a
# quick look whether a text may hold task pods. The bare word is no sign: airflow.cfg has a
# [kubernetes_executor] section.
TASK_POD_SPELLED = re.compile(r"""\bkubernetes_executor['"]?\s*:\s*['"]?True\b""")
CHECKSUM_PREFIX = "checksum/"
Checksums = dict[tuple[str | None, str | None], dict[str, set[str]]]


class Template(NamedTuple):
    """A KubernetesExecutor pod template as the audit read it."""

    workload: Workload
    name: str  # as findings name it
    pod: dict[str, Any]  # its pod spec
    record: records.Record
    wanted: dict[records.Item, Any]  # what the config declares for it


class Unread(NamedTuple):
    """A pod template the audit could not read (its own problem says why)."""

    namespace: str | None
    name: str


class Templates(NamedTuple):
    """What task pods are held against: the pod templates, read or not, and the checksums
    of the workloads now."""

    read: list[Template]
    unread: list[Unread]
    checksums: Checksums


def checksums(workload: Workload, annotations: Any, found: Checksums) -> None:
    """Keep the `checksum/...` annotations of a workload's pod template: what a task pod's
    own are held against."""
    if workload.is_pod_template or not isinstance(annotations, dict):
        return
    kept = found.setdefault((workload.item.namespace, workload.release), {})
    for key, value in annotations.items():
        if str(key).startswith(CHECKSUM_PREFIX):
            kept.setdefault(str(key), set()).add(str(value))


def audit(
    items: list[krm.Item], templates: Templates, config: Config, problems: list[Problem]
) -> list[Finding]:
    """Every task pod of the input, held against what the config declares for its template."""
    findings: list[Finding] = []
    for item in items:
        if item.kind != "Pod" or item.is_local_config or item.label(TASK_POD_LABEL) != "True":
            continue
        name = f"Pod/{item.name}"
        template = _made_from(item, templates, name, problems)
        if template is None or not template.wanted:
            continue
        try:
            data = to_data(item.node, f"Pod {item.name}")
        except UnsupportedYaml as error:
            problems.append(Problem(name, str(error)))
            continue
        spec = data.get("spec") if isinstance(data, dict) else None
        if not isinstance(spec, dict):
            continue
        here = Here(name, item.namespace, config.name, "pod")
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
        now = templates.checksums.get((item.namespace, template.workload.release), {})
        findings += _older_checksums(here, annotations, now)
        for entry, declared in template.wanted.items():
            found = judge(here, entry, declared, spec, entry in template.record.items)
            if found.state in ("missing", "drifted"):
                found = _against_template(here, entry, found, spec, template)
            findings.append(found)
    return findings


def _made_from(
    pod: krm.Item, templates: Templates, name: str, problems: list[Problem]
) -> Template | None:
    """The pod template of the pod's namespace (and, when the template labels its pods with
    the release, of its release); None, said, when there is none or more than one."""
    candidates = [t for t in templates.read if t.workload.item.namespace == pod.namespace]
    release = pod.label("release")
    same_release = [t for t in candidates if release and t.workload.release == release]
    candidates = same_release or candidates
    if len(candidates) == 1:
        return candidates[0]
    unread = [t.name for t in templates.unread if t.namespace == pod.namespace]
    if not candidates and unread:
        message = (
            "a KubernetesExecutor task pod, and the pod template of its namespace could not "
            f"be read ({', '.join(unread)}: see its own line)"
        )
    elif not candidates:
        message = (
            "a KubernetesExecutor task pod, and no pod template of its namespace in the "
            "input: add the ConfigMap that holds it (`cm` in the kubectl get)"
        )
    else:
        message = (
            "a KubernetesExecutor task pod, and more than one pod template it may have been "
            f"made from ({', '.join(t.name for t in candidates)}): audit one release at a time"
        )
    problems.append(Problem(name, message, blocking=False))
    return None


def _older_checksums(here: Here, annotations: Any, now: dict[str, set[str]]) -> list[Finding]:
    """A `checksum/...` the pod carries, with another value than its release's workloads
    carry now."""
    if not isinstance(annotations, dict):
        return []
    return [
        here.at(
            ("annotation", str(key)),
            "older-template",
            (f"{key}: {shown(' or '.join(sorted(now[str(key)])))} -> {shown(str(value))}",),
        )
        for key, value in sorted(annotations.items(), key=lambda entry: str(entry[0]))
        if str(key) in now and str(value) not in now[str(key)]
    ]


def _against_template(
    here: Here, item: records.Item, found: Finding, pod: dict[str, Any], template: Template
) -> Finding:
    """An item of a task pod that is not as declared: as the template has it now (the pod
    shares the template's state), or made from an older template."""
    now = records.entry(template.pod, item)
    then = records.entry(pod, item)
    owner = owner_of(item)
    if then is None and now is None:
        return found
    if then is not None and now is not None and declared_equal(now, then, owner, "pod"):
        return found
    if then is None:
        diff: tuple[str, ...] = ("not in this pod: the pod template has it now",)
    elif now is None:
        diff = ("in this pod: the pod template no longer has it",)
    else:
        diff = drift(now, then, owner, "pod")
    return here.at(item, "older-template", diff)
