"""The KubernetesExecutor pod template: a YAML document inside a string of the config ConfigMap.

It is read as a document of its own, edited with an editor of its own, and the edits are
carried into the ConfigMap's block scalar line by line (Editor.splice_literal), so that the
embedded document keeps its comments and spacing too. Pods that mount the ConfigMap carry the
chart's `checksum/airflow-config`; after an edit it is refreshed so that they roll out.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import yaml

from airflow_sidecars.krmio.results import Severity
from airflow_sidecars.planning import planned
from airflow_sidecars.planning.edits import (
    Run,
    edit,
    edit_text,
    expected_data,
    note_planned,
    result,
)
from airflow_sidecars.pods.podspec import Op, Plan, apply_ops
from airflow_sidecars.renders.airflow import CONFIG_CHECKSUM_ANNOTATION, Workload
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import (
    InvalidYaml,
    Node,
    NotOneDocument,
    Path,
    UnsupportedYaml,
    load_one,
    node_at,
)
from airflow_sidecars.text.yamltext import detect_seq_indent


class Template(NamedTuple):
    """The pod template of one ConfigMap, read: its text, node tree and data."""

    text: str
    root: Node
    data: dict[str, Any]

    @property
    def pod(self) -> Any:
        return self.data.get("spec", {})


def value_path(workload: Workload) -> Path:
    """Where the template string is in the ConfigMap."""
    return ("data", workload.template_key or "")


class Unreadable(NamedTuple):
    """Why a pod template cannot be edited, as inject says it."""

    severity: Severity
    message: str


def load(workload: Workload) -> Template | Unreadable:
    """The template, or why it is not one Pod document (inject says why; prune, which only
    looks for records, stays quiet). Other UnsupportedYaml (aliases, tags) is raised."""
    item = workload.item
    scalar = node_at(item.node, value_path(workload))
    assert isinstance(scalar, yaml.ScalarNode)
    text = str(scalar.value)
    try:
        document = load_one(text, f"the pod template in {item.kind} {item.name}")
    except InvalidYaml as error:
        message = f"{workload.template_key} is not valid YAML ({error.problem}); left as it is"
        return Unreadable("error", message)
    except NotOneDocument:
        document = None
    if document is None or not isinstance(document.data, dict):
        message = f"{workload.template_key} does not hold one Pod document; left as it is"
        return Unreadable("warning", message)
    return Template(text, document.node, document.data)


def read(run: Run, workload: Workload) -> Template | None:
    """The template, or None (and a result saying why) when it is not one Pod document."""
    found = load(workload)
    if isinstance(found, Unreadable):
        where = value_path(workload)
        run.results.append(result(workload, found.severity, found.message, where, "pod-template"))
        return None
    return found


def write(run: Run, workload: Workload, template: Template, pod_plan: Plan) -> bool:
    """Carry the plan into the template string; whether the ConfigMap changed."""
    item = workload.item
    inner = Editor(template.text, seq_indent=detect_seq_indent(template.root, template.text))
    edit_text(inner, template.root, ("spec",), pod_plan.ops)
    if not inner.changed:
        return False
    scalar = node_at(item.node, value_path(workload))
    assert scalar is not None and workload.template_key is not None
    item.source.editor.splice_literal(scalar, inner)
    said = planned.entries(template.data, ("spec",), pod_plan.ops, workload.template_key)
    note_planned(run, item, said, workload.template_key)
    apply_ops(template.data, ("spec",), pod_plan.ops)
    expected_data(run, item)["data"][workload.template_key] = inner.apply()
    run.edited.add(item.position)
    run.expected_templates[item.position] = (workload.template_key, template.data)
    return True


def config_checksum(data: dict[str, Any]) -> str:
    """A stand-in for the chart's checksum of the config it rendered: it changes exactly when
    the ConfigMap's data changes, which is what makes Kubernetes roll the pods."""
    # Deferred: OpenSSL's hashlib costs 2-3 ms of start-up, and only pod-template edits need it.
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# (release, namespace) -> "Kind/name" of a pod -> its checksum/airflow-config ("" for any
# pod not named: a checksum computed here).
Checksums = dict[tuple[str | None, str | None], dict[str, str]]


def pod_id(workload: Workload) -> str:
    return f"{workload.item.kind}/{workload.item.name}"


def checksums(every: list[Workload]) -> Checksums:
    """The checksum/airflow-config each pod of each release carries."""
    found: Checksums = {}
    for workload in every:
        if workload.is_pod_template:
            continue
        path = (*workload.pod_path[:-1], "metadata", "annotations", CONFIG_CHECKSUM_ANNOTATION)
        node = node_at(workload.item.node, path)
        if isinstance(node, yaml.ScalarNode):
            release = found.setdefault((workload.release, workload.item.namespace), {})
            release[pod_id(workload)] = str(node.value)
    return found


def refresh_checksums(run: Run, every: list[Workload], checksums: Checksums) -> None:
    """Pods that mount the edited config carry `checksum/airflow-config`: refresh it so that
    they roll out (docs/krm-contract.md §5.2: the chart computes it while rendering)."""
    annotations_path = ("metadata", "annotations", CONFIG_CHECKSUM_ANNOTATION)
    for workload in every:
        values = checksums.get((workload.release, workload.item.namespace), {})
        checksum = values.get(pod_id(workload), values.get(""))
        if checksum is None or workload.is_pod_template:
            continue
        template_path = workload.pod_path[:-1]  # the pod template around the pod spec
        node = node_at(workload.item.node, template_path + annotations_path)
        if not isinstance(node, yaml.ScalarNode) or node.value == checksum:
            continue
        try:
            edit(run, workload.item, template_path, [Op("replace", annotations_path, checksum)])
        except UnsupportedYaml as error:
            message = f"{error}: its checksum/airflow-config cannot be refreshed"
            run.results.append(result(workload, "error", message, None, "unsupported-yaml"))
            continue
        message = "refreshed checksum/airflow-config: the pod template it mounts changed"
        path = template_path + annotations_path
        run.results.append(result(workload, "info", message, path, "checksum"))
