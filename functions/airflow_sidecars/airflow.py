"""Finding Airflow's workloads in rendered manifests, per chart flavour.

Workloads are matched by the chart's labels, never by names (names change with
`fullnameOverride`, `nameOverride`, `useStandardNaming`; krm-contract.md §5.2):
- official chart (apache/airflow `chart/`): `tier: airflow`, `component`, `release`;
- community chart (airflow-helm/charts): `app: airflow`, `component`, `release`.

The tables below say, per flavour and config section, which `component` label the chart gives
the workload and into which of the chart's containers the chart itself puts a component's
`extraVolumeMounts` and the top-level `volumeMounts` (read off the chart templates and checked
against the renders in tests/fixtures; see tests/fixtures/README.md).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import yaml

from .krm import Item
from .yamledit import Node, Path, mapping_get, node_at, scalar_at, to_data

Flavour = Literal["official", "community"]

# Where a pod spec sits in each workload kind (kyaml's ConventionalContainerPaths, style.md A3.6).
POD_SPEC_PATHS: dict[str, Path] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}

# The KubernetesExecutor pod template: a YAML string in a ConfigMap (krm-contract.md §5.3).
POD_TEMPLATE_KEYS: dict[Flavour, str] = {
    "official": "pod_template_file.yaml",
    "community": "pod_template.yaml",
}
CONFIG_CHECKSUM_ANNOTATION = "checksum/airflow-config"


class ComponentRule(NamedTuple):
    """How the chart treats one config section's `extra*` values."""

    labels: tuple[str, ...]  # `component` label values of its workloads
    mount_containers: frozenset[str]  # chart containers that get extraVolumeMounts
    mount_init_containers: frozenset[str] = frozenset()
    # chart containers that get the top-level `volumeMounts` (official chart only)
    global_mount_containers: frozenset[str] = frozenset()
    global_mount_init_containers: frozenset[str] = frozenset()
    pod_template: bool = False  # also the KubernetesExecutor pod template


def _rule(
    labels: tuple[str, ...],
    containers: set[str],
    init: set[str] = frozenset(),  # type: ignore[assignment]
    *,
    global_containers: set[str] | None = None,
    global_init: set[str] | None = None,
    pod_template: bool = False,
) -> ComponentRule:
    return ComponentRule(
        labels,
        frozenset(containers),
        frozenset(init),
        frozenset(containers if global_containers is None else global_containers),
        frozenset(init if global_init is None else global_init),
        pod_template,
    )


_WAIT = {"wait-for-airflow-migrations"}
_CHECKS = {"check-db", "wait-for-db-migrations"}

# Official chart 1.15.0 and 1.20.0 (the same placements; chart templates read at the release
# commits): a component's extraVolumeMounts, and the top-level volumeMounts right before them,
# go into its Airflow containers - the main one, its log groomer, the kerberos sidecar and
# kerberos-init, and wait-for-airflow-migrations - never into git-sync, volume-permissions or
# pgbouncer's metrics exporter. extraContainers / extraInitContainers always come last.
# Community chart 8.9.0: one mount list for the main container and both init containers
# (not log-cleanup, not git-sync); top-level values are its `airflow.extraVolumes/-Mounts`.
RULES: dict[Flavour, dict[str, ComponentRule]] = {
    "official": {
        "scheduler": _rule(("scheduler",), {"scheduler", "scheduler-log-groomer"}, _WAIT),
        "webserver": _rule(("webserver",), {"webserver"}, _WAIT),
        "apiServer": _rule(("api-server",), {"api-server"}, _WAIT),
        "workers": _rule(
            ("worker",),
            # `base` is the KubernetesExecutor pod template's Airflow container
            {"worker", "worker-log-groomer", "worker-kerberos", "base"},
            {*_WAIT, "kerberos-init"},
            pod_template=True,
        ),
        "triggerer": _rule(("triggerer",), {"triggerer", "triggerer-log-groomer"}, _WAIT),
        "dagProcessor": _rule(
            ("dag-processor",), {"dag-processor", "dag-processor-log-groomer"}, _WAIT
        ),
        "flower": _rule(("flower",), {"flower"}),
        "pgbouncer": _rule(("pgbouncer",), {"pgbouncer"}),
        "createUserJob": _rule(("create-user-job",), {"create-user"}),
        "migrateDatabaseJob": _rule(("run-airflow-migrations",), {"run-airflow-migrations"}),
    },
    "community": {
        "scheduler": _rule(("scheduler",), {"airflow-scheduler"}, _CHECKS),
        "webserver": _rule(("web",), {"airflow-web"}, _CHECKS),
        "workers": _rule(("worker",), {"airflow-worker"}, _CHECKS),
        "triggerer": _rule(("triggerer",), {"airflow-triggerer"}, _CHECKS),
        "flower": _rule(("flower",), {"airflow-flower"}, _CHECKS),
        # No section values of their own; they take only the top-level volumes and mounts.
        # The pod template reads `airflow.kubernetesPodTemplate.*`, never `workers.*`.
        "_podTemplate": _rule((), {"base"}, pod_template=True),
        "_dbMigrations": _rule(("db-migrations",), {"db-migrations"}, {"check-db"}),
        "_syncUsers": _rule(("sync-users",), {"sync-airflow-users"}, _CHECKS),
        "_syncConnections": _rule(("sync-connections",), {"sync-airflow-connections"}, _CHECKS),
        "_syncPools": _rule(("sync-pools",), {"sync-airflow-pools"}, _CHECKS),
        "_syncVariables": _rule(("sync-variables",), {"sync-airflow-variables"}, _CHECKS),
    },
}


def pod_template_section(flavour: Flavour) -> str:
    return next(name for name, rule in RULES[flavour].items() if rule.pod_template)


class Workload(NamedTuple):
    """One pod spec the config may edit: in a workload, or in a pod template string."""

    item: Item
    flavour: Flavour
    section: str
    component: str
    release: str | None
    pod_path: Path  # from the item (or, for a pod template, from the embedded document)
    template_key: str | None = None  # ConfigMap data key when this is a pod template

    @property
    def is_pod_template(self) -> bool:
        return self.template_key is not None

    @property
    def is_job(self) -> bool:
        return self.item.kind in ("Job", "CronJob") or self.is_pod_template


def flavour_of(node: Node) -> Flavour | None:
    labels = mapping_get(mapping_get(node, "metadata"), "labels")
    if scalar_at(labels, "tier") == "airflow":
        return "official"
    if scalar_at(labels, "app") == "airflow":
        return "community"
    return None


def section_of(flavour: Flavour, component: str | None) -> str | None:
    for section, rule in RULES[flavour].items():
        if component in rule.labels:
            return section
    return None


def find_workloads(items: list[Item]) -> list[Workload]:
    """Every Airflow pod spec in the input, with the config section that owns it."""
    found: list[Workload] = []
    for item in items:
        if item.is_local_config:
            continue
        kind = item.kind
        flavour = flavour_of(item.node)
        if flavour is None or kind is None:
            continue
        component = item.label("component")
        release = item.label("release")
        if kind in POD_SPEC_PATHS and kind != "Pod":
            section = section_of(flavour, component)
            if section is not None and component is not None:
                found.append(
                    Workload(item, flavour, section, component, release, POD_SPEC_PATHS[kind])
                )
        elif kind == "ConfigMap":
            key = POD_TEMPLATE_KEYS[flavour]
            value = mapping_get(mapping_get(item.node, "data"), key)
            if isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
                section = pod_template_section(flavour)
                found.append(Workload(item, flavour, section, "worker", release, ("spec",), key))
    return found


def components_present(workloads: list[Workload]) -> set[str]:
    return {w.component for w in workloads}


def volume_claim_names(item: Item) -> frozenset[str]:
    """Volumes a StatefulSet's pods have besides `volumes`: one per volumeClaimTemplate, named
    after it (a mount of one is not dangling)."""
    templates = node_at(item.node, ("spec", "volumeClaimTemplates"))
    if item.kind != "StatefulSet" or templates is None:
        return frozenset()
    found = to_data(templates)
    return frozenset(
        name
        for template in (found if isinstance(found, list) else [])
        if isinstance(template, dict)
        and isinstance(name := template.get("metadata", {}).get("name"), str)
    )
