"""Live dumps made from a render: the objects as `kubectl get -o yaml|json` prints them after
Helm installed the render (research for issue "audit what runs", sections 2.7, 3 and 4).

What the API server and Helm add, and what kubectl prints around it:
- server metadata: `uid`, `resourceVersion`, `generation`, `creationTimestamp`, a namespace
  on every object, `selfLink` and `spec.template.metadata.creationTimestamp: null` on old
  servers, `managedFields` when kubectl shows them (before 1.21, or `--show-managed-fields`);
- Helm's `meta.helm.sh/release-*` annotations and `app.kubernetes.io/managed-by: Helm` label,
  the deployment controller's `deployment.kubernetes.io/revision`, client-side apply's
  `kubectl.kubernetes.io/last-applied-configuration`, and a `status`;
- kubectl's forms: several objects in a `kind: List` (`apiVersion: v1`,
  `metadata.resourceVersion: ""`), one object bare, keys sorted, `-o json` with 4 spaces.

The fields the API server defaults (`imagePullPolicy`, `terminationMessagePath`, ...) are added
when `defaults` is given: `api_defaults` adds them to every pod spec of an object from the
project's defaulting table (pods/apidefaults.py). Everything is deterministic: uids come from
names.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from airflow_sidecars.pods.apidefaults import apply_defaults

Object = dict[str, Any]
Defaults = Callable[[Object], Object]

NAMESPACE = "airflow"
RELEASE = "airflow"  # the goldens' release
CREATED = "2025-03-10T01:56:36Z"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
_UIDS = uuid.UUID("6f1c0a52-3c1e-4e8b-9d4a-2b7f0e5c9a11")


def objects(render: str) -> list[Object]:
    """The objects of a rendered stream, in order (comment-only documents left out)."""
    return [doc for doc in yaml.safe_load_all(render) if doc is not None]


def live(
    render: Iterable[Object],
    *,
    defaults: Defaults | None = None,
    managed_fields: bool = False,
    old_server: bool = False,
    applied: bool = False,
) -> list[Object]:
    """Each object as the API server returns it after `helm install`: server and Helm
    metadata, a status, and (given `defaults`) the API server's defaults."""
    out = []
    for number, rendered in enumerate(render):
        obj = copy.deepcopy(rendered)
        if defaults is not None:
            obj = defaults(obj)
        last_applied = json.dumps(rendered, sort_keys=True, separators=(",", ":"))
        _server_metadata(obj, number, managed_fields, old_server)
        if applied:
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = last_applied + "\n"
        if old_server and obj.get("kind") in WORKLOAD_KINDS:
            template = _pod_template(obj)
            if template is not None:
                template.setdefault("metadata", {})["creationTimestamp"] = None
        status = _status(obj)
        if status is not None:
            obj["status"] = status
        out.append(obj)
    return out


def _server_metadata(obj: Object, number: int, managed_fields: bool, old_server: bool) -> None:
    metadata = obj.setdefault("metadata", {})
    kind, name = obj.get("kind", ""), metadata.get("name", "")
    metadata.setdefault("namespace", NAMESPACE)
    metadata["uid"] = str(uuid.uuid5(_UIDS, f"{kind}/{name}"))
    metadata["resourceVersion"] = str(3000 + 17 * number)
    metadata["creationTimestamp"] = CREATED
    if kind in WORKLOAD_KINDS:
        metadata["generation"] = 1
    if old_server:
        group = obj.get("apiVersion", "v1")
        prefix = "/api/v1" if group == "v1" else f"/apis/{group}"
        plural = kind.lower() + "s"
        metadata["selfLink"] = f"{prefix}/namespaces/{metadata['namespace']}/{plural}/{name}"
    labels = metadata.setdefault("labels", {})
    labels.setdefault("app.kubernetes.io/managed-by", "Helm")
    annotations = metadata.setdefault("annotations", {})
    annotations["meta.helm.sh/release-name"] = RELEASE
    annotations["meta.helm.sh/release-namespace"] = metadata["namespace"]
    if kind == "Deployment":
        annotations["deployment.kubernetes.io/revision"] = "1"
    if managed_fields:
        metadata["managedFields"] = [
            {
                "apiVersion": obj.get("apiVersion", "v1"),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}, "f:spec": {}},
                "manager": "helm",
                "operation": "Update",
                "time": CREATED,
            }
        ]


def api_defaults(obj: Object) -> Object:
    """The object with the API server's defaults in its pod spec: a workload's template as
    the API server defaults templates, a Pod as it defaults Pods. The KubernetesExecutor pod
    template is a string in a ConfigMap, which the API server leaves as it is."""
    if obj.get("kind") == "Pod" and isinstance(obj.get("spec"), dict):
        return {**obj, "spec": apply_defaults(obj["spec"], "podSpec", "pod")}
    template = _pod_template(obj)
    if template is not None and isinstance(template.get("spec"), dict):
        template["spec"] = apply_defaults(template["spec"], "podSpec", "template")
    return obj


def _pod_template(obj: Object) -> Object | None:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return template if isinstance(template, dict) else None


def _status(obj: Object) -> Object | None:
    kind = obj.get("kind")
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    if kind == "Deployment":
        return {
            "availableReplicas": replicas,
            "conditions": [
                {
                    "lastTransitionTime": CREATED,
                    "lastUpdateTime": CREATED,
                    "message": "Deployment has minimum availability.",
                    "reason": "MinimumReplicasAvailable",
                    "status": "True",
                    "type": "Available",
                }
            ],
            "observedGeneration": 1,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updatedReplicas": replicas,
        }
    if kind == "StatefulSet":
        return {
            "availableReplicas": replicas,
            "collisionCount": 0,
            "currentReplicas": replicas,
            "currentRevision": f"{obj['metadata']['name']}-5d9c7b8f6",
            "observedGeneration": 1,
            "readyReplicas": replicas,
            "replicas": replicas,
            "updateRevision": f"{obj['metadata']['name']}-5d9c7b8f6",
            "updatedReplicas": replicas,
        }
    if kind == "Job":
        return {"completionTime": CREATED, "startTime": CREATED, "succeeded": 1}
    if kind == "CronJob":
        return {"lastScheduleTime": CREATED}
    if kind in ("Service", "PersistentVolumeClaim"):
        return {"loadBalancer": {}} if kind == "Service" else {"phase": "Bound"}
    return None


def task_pod(template_config_map: Object, key: str = "pod_template_file.yaml") -> Object:
    """A running KubernetesExecutor task pod made from the pod template in a ConfigMap, with
    what admission, the scheduler and the kubelet add to a Pod (research section 2.7): the
    service account token volume mounted in every container, the default tolerations, the
    priority, the node, `enableServiceLinks`, requests copied from limits, a status. Airflow
    creates task pods bare: no ownerReferences."""
    pod: Object = yaml.safe_load(template_config_map["data"][key])
    metadata = pod.setdefault("metadata", {})
    metadata["name"] = "example-dag-run-this-task-k8s7vq2x"
    metadata["namespace"] = template_config_map["metadata"].get("namespace", NAMESPACE)
    metadata["uid"] = str(uuid.uuid5(_UIDS, "Pod/task"))
    metadata["resourceVersion"] = "40213"
    metadata["creationTimestamp"] = CREATED
    metadata.setdefault("labels", {}).update(
        {"dag_id": "example_dag", "task_id": "this_task", "kubernetes_executor": "True"}
    )
    metadata.setdefault("annotations", {}).update(
        {"dag_id": "example_dag", "task_id": "this_task", "try_number": "1"}
    )
    return _admitted(pod)


def replica_pod(deployment: Object) -> Object:
    """A running pod of a Deployment: its pod template, named and labelled by the ReplicaSet
    that owns it (ownerReferences, `pod-template-hash`), with what admission adds."""
    template = copy.deepcopy(deployment["spec"]["template"])
    pod: Object = {"apiVersion": "v1", "kind": "Pod", **template}
    owner = f"{deployment['metadata']['name']}-6d8f9c7b5d"
    metadata = pod.setdefault("metadata", {})
    metadata.pop("creationTimestamp", None)
    metadata["name"] = f"{owner}-x2kq9"
    metadata["generateName"] = f"{owner}-"
    metadata["namespace"] = deployment["metadata"].get("namespace", NAMESPACE)
    metadata["uid"] = str(uuid.uuid5(_UIDS, f"Pod/{owner}"))
    metadata["resourceVersion"] = "3581"
    metadata["creationTimestamp"] = CREATED
    metadata.setdefault("labels", {})["pod-template-hash"] = "6d8f9c7b5d"
    metadata["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "blockOwnerDeletion": True,
            "controller": True,
            "kind": "ReplicaSet",
            "name": owner,
            "uid": str(uuid.uuid5(_UIDS, f"ReplicaSet/{owner}")),
        }
    ]
    return _admitted(pod)


def _admitted(pod: Object) -> Object:
    """The pod with what admission, the scheduler and the kubelet add (research section 2.7)."""
    spec = pod.setdefault("spec", {})
    token = "kube-api-access-x7k2p"
    spec.setdefault("volumes", []).append(
        {
            "name": token,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {
                                        "apiVersion": "v1",
                                        "fieldPath": "metadata.namespace",
                                    },
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    )
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        container.setdefault("volumeMounts", []).append(
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": token,
                "readOnly": True,
            }
        )
        resources = container.get("resources") or {}
        if resources.get("limits"):
            requests = resources.setdefault("requests", {})
            for name, value in resources["limits"].items():
                requests.setdefault(name, value)
            container["resources"] = resources
    account = spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = account
    spec["enableServiceLinks"] = True
    spec["nodeName"] = "node-1"
    spec["priority"] = 0
    spec["preemptionPolicy"] = "PreemptLowerPriority"
    spec.setdefault("tolerations", []).extend(
        {
            "effect": "NoExecute",
            "key": f"node.kubernetes.io/{taint}",
            "operator": "Exists",
            "tolerationSeconds": 300,
        }
        for taint in ("not-ready", "unreachable")
    )
    pod["status"] = {"phase": "Running", "podIP": "10.0.3.17", "qosClass": "Burstable"}
    return pod


def as_list(items: list[Object]) -> Object:
    """What kubectl prints for several objects."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def by_kind(items: list[Object]) -> list[list[Object]]:
    """The objects grouped by kind in order of first appearance: one List for each `kubectl get
    KIND -o yaml` of a script that dumps kind after kind."""
    groups: dict[str, list[Object]] = {}
    for item in items:
        groups.setdefault(item.get("kind", ""), []).append(item)
    return list(groups.values())


class _KubectlDumper(yaml.SafeDumper):
    """Block style, sorted keys, no line folding, like sigs.k8s.io/yaml; multi-line strings in
    a literal block unless a line ends in a space (then go-yaml quotes them)."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    lines = value.split("\n")
    clean = "\n" in value and not any(line != line.rstrip(" \t") for line in lines)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if clean else None)


_KubectlDumper.add_representer(str, _string)


def to_yaml(obj: Object) -> str:
    """`kubectl get -o yaml` of one object or a List."""
    return yaml.dump(obj, Dumper=_KubectlDumper, sort_keys=True, width=1 << 20, allow_unicode=True)


def to_json(obj: Object) -> str:
    """`kubectl get -o json` of one object or a List."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def dump(items: list[Object], form: str) -> str:
    """The objects in one of kubectl's forms:
    - `list`: one `kubectl get -o yaml` of them all (a List);
    - `lists`: one List per kind in one stream (`---` between, as a script or `--watch` does);
    - `single`: each object bare, `---` between (one `kubectl get KIND NAME` each);
    - `json`: one `kubectl get -o json` (a List)."""
    if form == "list":
        return to_yaml(as_list(items))
    if form == "lists":
        return "---\n".join(to_yaml(as_list(group)) for group in by_kind(items))
    if form == "single":
        return "---\n".join(to_yaml(item) for item in items)
    if form == "json":
        return to_json(as_list(items))
    raise ValueError(form)


FORMS = ("list", "lists", "single", "json")
