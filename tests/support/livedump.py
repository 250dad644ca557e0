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

The fields the API server defaults are added when `defaults` is given: `api_defaults` adds
them to every pod spec of an object from the project's defaulting table (pods/apidefaults.py,
`imagePullPolicy`, `terminationMessagePath`, ...), and to the object itself from
`OBJECT_DEFAULTS` below (`replicas`, `strategy`, `backoffLimit`, a Secret's `type`, the Job
strategy's selector and labels, ...). Everything is deterministic: uids come from names.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
        last_applied = json.dumps(rendered, sort_keys=True, separators=(",", ":"))
        # Helm labels the object before it sends it and the server gives it a uid before the
        # Job strategy reads it, so both come before the defaults: a Job with Helm's label has
        # labels of its own and takes none from its template.
        _server_metadata(obj, number, managed_fields, old_server)
        if defaults is not None:
            obj = defaults(obj)
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
    metadata["uid"] = _uid(kind, name)
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


def _uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(_UIDS, f"{kind}/{name}"))


def api_defaults(obj: Object) -> Object:
    """The object as the API server stores it (a server older than 1.35, `DEFAULT_SERVER`):
    its pod spec defaulted (a workload's template as the API server defaults templates, a Pod
    as it defaults Pods) and the object's own fields from `OBJECT_DEFAULTS`. The
    KubernetesExecutor pod template is a string in a ConfigMap, which the API server leaves
    as it is."""
    return _defaulted(obj, DEFAULT_SERVER)


def api_defaults_on(server: tuple[int, int]) -> Defaults:
    """`api_defaults` as a server of that version (major, minor) applies them: a rule with a
    `since` applies from that version on."""
    return lambda obj: _defaulted(obj, server)


def _defaulted(obj: Object, server: tuple[int, int]) -> Object:
    if obj.get("kind") == "Pod" and isinstance(obj.get("spec"), dict):
        return {**obj, "spec": apply_defaults(obj["spec"], "podSpec", "pod")}
    template = _pod_template(obj)
    if template is not None and isinstance(template.get("spec"), dict):
        template["spec"] = apply_defaults(template["spec"], "podSpec", "template")
    for rule in OBJECT_DEFAULTS:
        if rule.kind == obj.get("kind") and (rule.since is None or server >= rule.since):
            rule.apply(obj)
    return obj


# The object-level defaults of the API server (research for issue "audit what runs", sections
# 2.8-2.12): what `SetDefaults_<Kind>` in kubernetes `pkg/apis/{apps,batch,core}/v1/defaults.go`
# fills in, and what the Job strategy adds at create. The defaulting functions were read in
# the file index's copies of kubernetes/kubernetes (apps/v1 @ a79f3c787d20, batch/v1 at a
# copy with ManualSelector and PodReplacementPolicy, core/v1 @ 023f88a32c95); every value is
# checked against k8s.io/api at tag kubernetes-1.36.3 (3fde3c43c3cf): "api@1.36.3
# apps/v1/types.go:LINE". A rule fills its field only where the object lacks it (missing or
# null, or "" for a string), as the Go defaulters test for nil or "", and in table order,
# as the defaulter does: a later rule sees what an earlier one filled in.

DEFAULT_SERVER = (1, 34)  # before MaxUnavailableStatefulSet was on by default

Value = Callable[[Object, Object], Any]  # (the object, the mapping that gets the field)


@dataclass(frozen=True)
class ObjectDefault:
    """One field the API server fills in: `path` is dotted, `[]` for each item of a list
    (`spec.volumeClaimTemplates[].spec.volumeMode`), `["key"]` last for a key with dots; the
    mappings on the way are made when missing, lists never."""

    kind: str
    path: str
    value: Any  # a constant (copied each time) or a Value
    when: str  # the condition, in words; "absent" for none but the field's own absence
    source: str
    test: Callable[[Object], bool] | None = None  # the condition on the object
    since: tuple[int, int] | None = None  # the first server version that applies it

    def apply(self, obj: Object) -> None:
        if self.test is not None and not self.test(obj):
            return
        parents, key = _steps(self.path)
        for mapping in _mappings(obj, parents):
            if _absent(mapping.get(key), self.value):
                value = self.value
                mapping[key] = value(obj, mapping) if callable(value) else copy.deepcopy(value)


def _steps(path: str) -> tuple[list[str], str]:
    """The mappings on the way and the key: `a.b.c`, or `a.b["c.d/e"]` for a key with dots
    (a label's)."""
    if path.endswith('"]'):
        way, key = path[:-2].split('["')
        return way.split("."), key
    *parents, key = path.split(".")
    return parents, key


def _mappings(obj: Object, steps: list[str]) -> Iterator[Object]:
    """The mappings at the end of `steps` from `obj`, made on the way where missing (but for
    those on the way to a list)."""
    if not steps:
        yield obj
        return
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        items = obj.get(step[:-2])
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                yield from _mappings(item, rest)
        return
    if obj.get(step) is None and not any(later.endswith("[]") for later in rest):
        obj[step] = {}  # not on the way to a list's items: no list, nothing to default
    if isinstance(obj.get(step), dict):
        yield from _mappings(obj[step], rest)


def _absent(found: Any, default: Any) -> bool:
    return found is None or (found == "" and isinstance(default, str))


def _at(obj: Object, path: str) -> Any:
    found: Any = obj
    for step in path.split("."):
        found = found.get(step) if isinstance(found, dict) else None
    return found


def _labels(obj: Object, path: str) -> dict[str, Any]:
    found = _at(obj, path)
    return found if isinstance(found, dict) else {}


def _name(obj: Object, _: Object) -> Any:
    return obj["metadata"]["name"]


def _job_uid(obj: Object, _: Object) -> str:
    metadata = obj["metadata"]
    return str(metadata.get("uid") or _uid("Job", metadata.get("name", "")))


_APPS = "api@1.36.3 apps/v1/types.go"
_BATCH = "api@1.36.3 batch/v1/types.go"
_CORE = "api@1.36.3 core/v1/types.go"
_JOB_STRATEGY = "Job strategy generateSelector (pkg/registry/batch/job/strategy.go), at create"
_JOB_LABELS = (
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
)


def _deployment_rolling(obj: Object) -> bool:
    return bool(_at(obj, "spec.strategy.type") == "RollingUpdate")


def _statefulset_rolling(obj: Object) -> bool:
    """RollingUpdate with a rollingUpdate: one the chart wrote, or the `{}` the defaulter made
    because the type was empty. `type: RollingUpdate` alone gets no partition."""
    return (
        _at(obj, "spec.updateStrategy.type") == "RollingUpdate"
        and _at(obj, "spec.updateStrategy.rollingUpdate") is not None
    )


def _job_selector_generated(obj: Object) -> bool:
    return _at(obj, "spec.manualSelector") is False


def _job_label(name: str) -> ObjectDefault:
    value: Value = _job_uid if name.endswith("controller-uid") else _name
    what = "the Job's uid" if name.endswith("controller-uid") else "the Job's name"
    return ObjectDefault(
        "Job",
        f'spec.template.metadata.labels["{name}"]',
        value,
        f"manualSelector false: {what}",
        _JOB_STRATEGY + f"; {_BATCH}:48-51",
        _job_selector_generated,
    )


def _externally_accessible(obj: Object) -> bool:
    kind = _at(obj, "spec.type")
    return kind in ("NodePort", "LoadBalancer") or (
        kind == "ClusterIP" and bool(_at(obj, "spec.externalIPs"))
    )


OBJECT_DEFAULTS: tuple[ObjectDefault, ...] = (
    # Deployment: SetDefaults_Deployment
    ObjectDefault("Deployment", "spec.replicas", 1, "absent", f"{_APPS}:381"),
    ObjectDefault("Deployment", "spec.strategy.type", "RollingUpdate", "absent", f"{_APPS}:432"),
    ObjectDefault(
        "Deployment",
        "spec.strategy.rollingUpdate.maxUnavailable",
        "25%",
        "type RollingUpdate (a string, not 25)",
        f"{_APPS}:462",
        _deployment_rolling,
    ),
    ObjectDefault(
        "Deployment",
        "spec.strategy.rollingUpdate.maxSurge",
        "25%",
        "type RollingUpdate (a string, not 25)",
        f"{_APPS}:476",
        _deployment_rolling,
    ),
    ObjectDefault("Deployment", "spec.revisionHistoryLimit", 10, "absent", f"{_APPS}:407"),
    ObjectDefault("Deployment", "spec.progressDeadlineSeconds", 600, "absent", f"{_APPS}:419"),
    # StatefulSet: SetDefaults_StatefulSet
    ObjectDefault(
        "StatefulSet", "spec.podManagementPolicy", "OrderedReady", "absent", f"{_APPS}:229"
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.updateStrategy.rollingUpdate",
        {},
        "updateStrategy.type absent (this rule runs before the type's)",
        "SetDefaults_StatefulSet",
        lambda obj: not _at(obj, "spec.updateStrategy.type"),
    ),
    ObjectDefault(
        "StatefulSet", "spec.updateStrategy.type", "RollingUpdate", "absent", f"{_APPS}:87"
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.updateStrategy.rollingUpdate.partition",
        0,
        "type RollingUpdate and a rollingUpdate",
        f"{_APPS}:120",
        _statefulset_rolling,
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.updateStrategy.rollingUpdate.maxUnavailable",
        1,
        "type RollingUpdate and a rollingUpdate; gate MaxUnavailableStatefulSet, beta and on "
        "from 1.35 (alpha in api@1.34.0)",
        f"{_APPS}:126",
        _statefulset_rolling,
        since=(1, 35),
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
        "Retain",
        "absent (gate StatefulSetAutoDeletePVC, on)",
        f"{_APPS}:142, :158",
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.persistentVolumeClaimRetentionPolicy.whenScaled",
        "Retain",
        "absent (gate StatefulSetAutoDeletePVC, on)",
        f"{_APPS}:142, :163",
    ),
    ObjectDefault("StatefulSet", "spec.replicas", 1, "absent", f"{_APPS}:190"),
    ObjectDefault("StatefulSet", "spec.revisionHistoryLimit", 10, "absent", f"{_APPS}:247"),
    ObjectDefault(
        "StatefulSet",
        "spec.volumeClaimTemplates[].apiVersion",
        "v1",
        "always (apps/v1 conversion writes it, as reflective conversion did before 1.17)",
        "Convert_apps_StatefulSetSpec_To_v1_StatefulSetSpec (pkg/apis/apps/v1/conversion.go)",
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.volumeClaimTemplates[].kind",
        "PersistentVolumeClaim",
        "always (as apiVersion)",
        "Convert_apps_StatefulSetSpec_To_v1_StatefulSetSpec (pkg/apis/apps/v1/conversion.go)",
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.volumeClaimTemplates[].spec.volumeMode",
        "Filesystem",
        "absent",
        f"SetDefaults_PersistentVolumeClaimSpec; {_CORE}:471",
    ),
    ObjectDefault(
        "StatefulSet",
        "spec.volumeClaimTemplates[].status.phase",
        "Pending",
        "absent",
        f"SetDefaults_PersistentVolumeClaim; {_CORE}:901",
    ),
    # Job: SetDefaults_Job, then the Job strategy at create
    ObjectDefault(
        "Job",
        "spec.completions",
        1,
        "completions and parallelism both absent",
        f"SetDefaults_Job; {_BATCH}:320",
        lambda obj: _at(obj, "spec.parallelism") is None,
    ),
    ObjectDefault("Job", "spec.parallelism", 1, "absent", f"SetDefaults_Job; {_BATCH}:311"),
    ObjectDefault(
        "Job",
        "spec.backoffLimit",
        6,
        "absent, no backoffLimitPerIndex",
        f"{_BATCH}:351",
        lambda obj: _at(obj, "spec.backoffLimitPerIndex") is None,
    ),
    ObjectDefault(
        "Job",
        "spec.backoffLimit",
        2147483647,
        "absent, with a backoffLimitPerIndex",
        f"{_BATCH}:352",
        lambda obj: _at(obj, "spec.backoffLimitPerIndex") is not None,
    ),
    ObjectDefault("Job", "spec.completionMode", "NonIndexed", "absent", f"{_BATCH}:416"),
    ObjectDefault("Job", "spec.suspend", False, "absent", f"{_BATCH}:446"),
    ObjectDefault(
        "Job",
        "spec.podReplacementPolicy",
        "TerminatingOrFailed",
        "absent, no podFailurePolicy (gate JobPodReplacementPolicy, on)",
        f"SetDefaults_Job; {_BATCH}:159",
        lambda obj: _at(obj, "spec.podFailurePolicy") is None,
    ),
    ObjectDefault(
        "Job",
        "spec.podReplacementPolicy",
        "Failed",
        "absent, with a podFailurePolicy (gate JobPodReplacementPolicy, on)",
        f"SetDefaults_Job; {_BATCH}:162",
        lambda obj: _at(obj, "spec.podFailurePolicy") is not None,
    ),
    ObjectDefault(
        "Job",
        "spec.podFailurePolicy.rules[].onPodConditions[].status",
        "True",
        "absent",
        "SetDefaults_PodFailurePolicyOnPodConditionsPattern",
    ),
    ObjectDefault(
        "Job",
        "spec.manualSelector",
        False,
        "absent (defaulted since 1.29; older servers leave it out)",
        f"SetDefaults_Job; {_BATCH}:398",
    ),
    *(_job_label(name) for name in _JOB_LABELS),
    ObjectDefault(
        "Job",
        'spec.selector.matchLabels["batch.kubernetes.io/controller-uid"]',
        _job_uid,
        "manualSelector false: the Job's uid",
        _JOB_STRATEGY,
        _job_selector_generated,
    ),
    # Last, as it comes out: the defaulter gives a Job without labels its template's label
    # map itself, to which the strategy then adds its four labels. A template without labels
    # of its own gets a new map from the strategy, which the Job does not share.
    ObjectDefault(
        "Job",
        "metadata.labels",
        lambda obj, _: dict(_labels(obj, "spec.template.metadata.labels")),
        "no labels of its own and a template with labels: the template's, the strategy's included",
        "SetDefaults_Job",
        lambda obj: (
            not _labels(obj, "metadata.labels")
            and bool(set(_labels(obj, "spec.template.metadata.labels")) - set(_JOB_LABELS))
        ),
    ),
    # CronJob: SetDefaults_CronJob (nothing on jobTemplate.spec: no Job is defaulted there)
    ObjectDefault("CronJob", "spec.concurrencyPolicy", "Allow", "absent", f"{_BATCH}:742"),
    ObjectDefault("CronJob", "spec.suspend", False, "absent", f"{_BATCH}:749"),
    ObjectDefault("CronJob", "spec.successfulJobsHistoryLimit", 3, "absent", f"{_BATCH}:757"),
    ObjectDefault("CronJob", "spec.failedJobsHistoryLimit", 1, "absent", f"{_BATCH}:762"),
    # Secret: SetDefaults_Secret
    ObjectDefault("Secret", "type", "Opaque", "absent", f"{_CORE}:7975"),
    # Service: SetDefaults_Service. Not here: clusterIP(s), ipFamilies and ipFamilyPolicy,
    # which the allocator fills in with the cluster's own addresses, not a default.
    ObjectDefault("Service", "spec.sessionAffinity", "None", "absent", f"{_CORE}:5754"),
    ObjectDefault(
        "Service",
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        10800,
        "sessionAffinity ClientIP",
        f"SetDefaults_Service; {_CORE}:5757",
        lambda obj: _at(obj, "spec.sessionAffinity") == "ClientIP",
    ),
    ObjectDefault("Service", "spec.type", "ClusterIP", "absent", f"{_CORE}:5782"),
    ObjectDefault(
        "Service",
        "spec.ports[].protocol",
        "TCP",
        "absent",
        f'marker +default="TCP" (ServicePort); {_CORE}:6241',
    ),
    ObjectDefault(
        "Service",
        "spec.ports[].targetPort",
        lambda _, port: port.get("port"),
        "absent: the port's own number",
        "SetDefaults_Service",
    ),
    ObjectDefault(
        "Service",
        "spec.internalTrafficPolicy",
        "Cluster",
        "type ClusterIP, NodePort or LoadBalancer",
        f"SetDefaults_Service; {_CORE}:5806",
        lambda obj: _at(obj, "spec.type") in ("ClusterIP", "NodePort", "LoadBalancer"),
    ),
    ObjectDefault(
        "Service",
        "spec.externalTrafficPolicy",
        "Cluster",
        "NodePort, LoadBalancer, or ClusterIP with externalIPs",
        "SetDefaults_Service",
        _externally_accessible,
    ),
    ObjectDefault(
        "Service",
        "spec.allocateLoadBalancerNodePorts",
        True,
        "type LoadBalancer",
        "SetDefaults_Service",
        lambda obj: _at(obj, "spec.type") == "LoadBalancer",
    ),
)


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
