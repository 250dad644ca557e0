"""Finding Airflow's workloads in rendered manifests.

Workloads are matched by the chart's labels, never by names (names change with
`fullnameOverride`, `nameOverride`, `useStandardNaming`):
- official chart (apache/airflow `chart/`): `tier: airflow`, `component`, `release`;
- community chart (airflow-helm/charts): `app: airflow`, `component`, `release`.
What each chart does with the values of each workload is chart.py's table.
"""

from __future__ import annotations

from typing import NamedTuple

import yaml

from airflow_sidecars.charts.chart import (
    CHART_POD_TEMPLATE_NAMES,
    POD_TEMPLATE_KEYS,
    POD_TEMPLATE_SLOTS,
    SLOTS,
    Chart,
    Flavour,
    Placement,
    Slot,
    chart_version,
    placement,
)
from airflow_sidecars.krmio.krm import Item
from airflow_sidecars.text.yamlread import (
    Path,
    compose_all,
    mapping_get,
    node_at,
    scalar_at,
    to_data,
)

# Where a pod spec sits in each workload kind (kyaml's ConventionalContainerPaths).
POD_SPEC_PATHS: dict[str, Path] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}
CONFIG_CHECKSUM_ANNOTATION = "checksum/airflow-config"
WORKER_SET_LABEL = "worker-set"  # on the pod template of a Celery worker set (chart >= 1.20)


class Workload(NamedTuple):
    """One pod spec the config may edit: in a workload, or in a pod template string."""

    item: Item
    chart: Chart
    slot: Slot
    release: str | None
    pod_path: Path  # from the item (or, for a pod template, from the embedded document)
    template_key: str | None = None  # ConfigMap data key when this is a pod template
    worker_set: str | None = None  # the Celery worker set (`workers.celery.sets[].name`)
    users_template: bool = False  # a pod template the user supplied, not the chart's

    @property
    def flavour(self) -> Flavour:
        return self.chart.flavour

    @property
    def section(self) -> str:
        """The config section whose values and presets this pod takes ("" for none)."""
        return self.slot.section

    @property
    def component(self) -> str:
        return self.slot.component

    @property
    def is_pod_template(self) -> bool:
        return self.template_key is not None

    @property
    def is_job(self) -> bool:
        return self.item.kind in ("Job", "CronJob") or self.is_pod_template

    @property
    def placement(self) -> Placement:
        return placement(self.chart, self.slot, self.worker_set, self.is_pod_template)

    @property
    def main_container(self) -> str:
        return self.slot.main_container


def flavour_of(item: Item) -> Flavour | None:
    # krm keeps the node trees of the workloads and ConfigMaps that carry these labels.
    if item.label("tier") == "airflow":
        return "official"
    if item.label("app") == "airflow":
        return "community"
    return None


def chart_of(item: Item, flavour: Flavour) -> Chart:
    return Chart(flavour, chart_version(item.label("chart")))


def find_workloads(items: list[Item]) -> list[Workload]:
    """Every Airflow pod spec in the input, with the chart slot it fills."""
    found: list[Workload] = []
    for item in items:
        if item.is_local_config:
            continue
        kind = item.kind
        flavour = flavour_of(item)
        if flavour is None or kind is None:
            continue
        release = item.label("release")
        if kind in POD_SPEC_PATHS and kind != "Pod":
            slot = SLOTS[flavour].get(item.label("component") or "")
            if slot is not None:
                pod_path = POD_SPEC_PATHS[kind]
                worker_set = scalar_at(
                    node_at(item.node, (*pod_path[:-1], "metadata", "labels")), WORKER_SET_LABEL
                )
                chart = chart_of(item, flavour)
                found.append(Workload(item, chart, slot, release, pod_path, None, worker_set))
        elif kind == "ConfigMap":
            key = POD_TEMPLATE_KEYS[flavour]
            value = mapping_get(mapping_get(item.node, "data"), key)
            if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
                slot = POD_TEMPLATE_SLOTS[flavour]
                users = _users_template(str(value.value), flavour)
                chart = chart_of(item, flavour)
                found.append(Workload(item, chart, slot, release, ("spec",), key, None, users))
    return found


def templates_first(workloads: list[Workload]) -> tuple[list[Workload], list[Workload]]:
    """The pod templates, then the other workloads (each in input order): the order in which
    inject and prune go through them, a phase of results each (edits.Run.mark)."""
    templates = [w for w in workloads if w.is_pod_template]
    return templates, [w for w in workloads if not w.is_pod_template]


def _users_template(text: str, flavour: Flavour) -> bool:
    """Whether a pod template string is one the user supplied: it parses and its
    `metadata.name` is not the chart's. One that does not parse is reported where inject and
    validate read it."""
    try:
        documents = [doc for doc in compose_all(text) if doc is not None]
    except (yaml.YAMLError, ValueError):
        return False
    if len(documents) != 1:
        return False
    return scalar_at(documents[0], "metadata", "name") != CHART_POD_TEMPLATE_NAMES[flavour]


def merge_key_problems(items: list[Item]) -> list[tuple[Item, str]]:
    """Objects whose labels cannot be read: a YAML merge key (`<<: *base`) in their metadata
    or labels hides them from a reader that does not expand it, and expanding is what alias
    bombs exploit. Such an object might be an Airflow workload, so it is an error, not a skip."""
    found = []
    for item in items:
        if item.is_local_config or (item.kind not in POD_SPEC_PATHS and item.kind not in _LABELLED):
            continue
        if not item.tree_kept:
            continue  # krm keeps the tree of every object with a merge key in these places
        pod_path = POD_SPEC_PATHS.get(item.kind or "", ("spec",))
        for path in (("metadata",), ("metadata", "labels"), (*pod_path[:-1], "metadata", "labels")):
            node = node_at(item.node, path)
            if isinstance(node, yaml.MappingNode) and any(
                key.tag == "tag:yaml.org,2002:merge" for key, _ in node.value
            ):
                where = ".".join(map(str, path))
                found.append((item, f"uses a YAML merge key (<<) in {where}; write it out in full"))
                break
    return found


_LABELLED = ("ConfigMap", "ServiceAccount", "Secret")


def volume_claim_names(item: Item) -> frozenset[str]:
    """Volumes a StatefulSet's pods have besides `volumes`: one per volumeClaimTemplate, named
    after it (a mount of one is not dangling)."""
    templates = node_at(item.node, ("spec", "volumeClaimTemplates"))
    if item.kind != "StatefulSet" or templates is None:
        return frozenset()
    found = to_data(templates, f"{item.kind} {item.name}")
    return frozenset(
        name
        for template in (found if isinstance(found, list) else [])
        if isinstance(template, dict)
        and isinstance(metadata := template.get("metadata"), dict)
        and isinstance(name := metadata.get("name"), str)
    )
