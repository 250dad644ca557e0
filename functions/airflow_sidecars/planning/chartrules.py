"""The charts' value-dependent rules (charts/valuerules.py), applied to one pod.

Where the config's chart values make the chart leave out one of its own volumes, inject's
output must be what the chart renders with those values: the config's volume and mounts in
place of the chart's (pods/leftout.py plans that), not a conflict with entries the chart would
not have rendered. The record keeps the text each take replaced, so that taking the config's
entry back gives the render back byte for byte.
"""

from __future__ import annotations

from typing import Any

from airflow_sidecars.charts.valuerules import ValueRule, covers, rules_for
from airflow_sidecars.configuration.config import Config
from airflow_sidecars.planning.podtemplate import Template
from airflow_sidecars.pods.leftout import LeftOut, take
from airflow_sidecars.pods.podspec import Additions, Op, Plan, containers, entries, plan
from airflow_sidecars.recording import records
from airflow_sidecars.renders.airflow import Workload
from airflow_sidecars.text.yamledit import Editor
from airflow_sidecars.text.yamlread import Node, Path

__all__ = ["LeftOut", "left_out", "plan_pod", "text_of", "took_texts"]


def left_out(
    config: Config, workload: Workload, pod: dict[str, Any], additions: Additions
) -> LeftOut | None:
    """The chart volume that the chart leaves out of this pod for the config's chart values
    (`additions`, before any preset's: only chart values count), if any."""
    for rule in rules_for(workload.chart):
        at = _mounted_at(pod, rule.volume, workload.main_container)
        if at is None:
            continue
        triggers = tuple(t for t in additions.mounts if covers(t[0].value.get("mountPath"), at))
        if triggers:
            why = f"{workload.chart.name}: {rule.what}"
            return LeftOut(rule.volume, triggers, why, _refused(config, rule, pod, at))
    return None


def _refused(config: Config, rule: ValueRule, pod: dict[str, Any], at: str) -> str:
    """Why the chart refuses these values: a mount of a value it refuses over its volume while
    that is a claim ("": it renders them)."""
    volume = next((v for v in entries(pod, "volumes") if _named(v, rule.volume)), None)
    if not (isinstance(volume, dict) and "persistentVolumeClaim" in volume):
        return ""
    for path in rule.refused_over_claim:
        found = config.values.get(path)
        if found is None:
            continue
        for number, mount in enumerate(found.entries):
            if covers(mount.get("mountPath"), at):
                return (
                    f"{found.origin}[{number}] mounts at {mount.get('mountPath')!r}, over "
                    f"{at!r}, while the chart's {rule.volume} is a claim ({rule.claim}): the "
                    f"chart refuses these values"
                )
    return ""


def _named(entry: Any, name: str) -> bool:
    return isinstance(entry, dict) and entry.get("name") == name


def plan_pod(  # noqa: PLR0913 - podspec.plan's, and the rule
    pod: dict[str, Any],
    additions_and_rule: tuple[Additions, LeftOut | None],
    *,
    replace: bool,
    pod_path: str,
    extra_volume_names: frozenset[str],
    init_before: frozenset[str],
) -> Plan:
    """The pod's plan (podspec.plan): first the takes of what the chart leaves out for the
    config's values, then the rest, planned on the pod as it is after those takes."""
    additions, rule = additions_and_rule
    taken = take(pod, additions, rule, pod_path) if rule is not None else None
    if taken is not None:
        pod, additions = taken.pod, taken.additions
    pod_plan = plan(
        pod,
        additions,
        replace=replace,
        pod_path=pod_path,
        extra_volume_names=extra_volume_names,
        init_before=init_before,
    )
    if taken is not None:  # the takes move no index: they go first
        pod_plan.ops[:0] = taken.ops
        pod_plan.findings[:0] = taken.findings
        pod_plan.added[:0] = taken.added
    return pod_plan


def text_of(workload: Workload, template: Template | None) -> tuple[Editor, Node, Path]:
    """The editor of the text a pod spec is in, its root node, and the pod's path there."""
    if template is not None:
        return Editor(template.text), template.root, ("spec",)
    return workload.item.source.editor, workload.item.node, workload.pod_path


def _mounted_at(pod: dict[str, Any], volume: str, main: str) -> str | None:
    """Where the chart mounts its volume (`logs.path`): in the main container, else the
    first container that mounts it."""
    found: list[tuple[bool, str]] = []
    for _, _, container in containers(pod):
        for mount in entries(container, "volumeMounts"):
            if isinstance(mount, dict) and mount.get("name") == volume:
                found.append((container.get("name") != main, str(mount.get("mountPath"))))
    return min(found)[1] if found else None


def took_texts(
    pod: dict[str, Any], ops: list[Op], text: tuple[Editor, Node, Path]
) -> dict[records.Item, str]:
    """The text of each chart entry that a take replaces (`text`: the editor of the text the
    pod is in, its root node, and the pod's path there)."""
    editor, root, prefix = text
    found: dict[records.Item, str] = {}
    for op in ops:
        if op.action != "take":
            continue
        replaced = editor.entry_text(root, prefix + op.path)
        if replaced is not None:
            found[_item(pod, op)] = replaced
    return found


def _item(pod: dict[str, Any], op: Op) -> records.Item:
    made = records.added(pod, [op])
    return next(iter(made.items))
