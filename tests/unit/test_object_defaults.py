"""The object-level defaults in the live dumps (tests/support/livedump.py, `OBJECT_DEFAULTS`):
what the API server writes into a Deployment, StatefulSet, Job, CronJob, Secret and Service
the chart rendered without it, and what the Job strategy adds at create. One case per rule on
real chart renders: the field appears with its value when the render lacks it, and a value
the render (or a user) gave is kept, `0` and `false` included, as the Go defaulters test for
nil and not for zero.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import FIXTURES, matrix_root
from support import livedump

Object = dict[str, Any]
Edit = Callable[[Object], Any]

OFFICIAL = FIXTURES / "official-1.15.0"
COMMUNITY = FIXTURES / "community-8.9.0"
ABSENT = object()  # the field is not there


def _renders() -> dict[str, list[Object]]:
    """The renders the cases read: official 1.15.0's default values (manifest and hooks: the
    Jobs are hooks), community 8.9.0's, and official 1.22.0's two cleanup CronJobs (the
    chart-oracle matrix: the fixtures' renders have none)."""
    matrix = matrix_root() / "official-1.22.0"
    texts = {
        "official": [OFFICIAL / "01-default.yaml", OFFICIAL / "01-default.hooks.yaml"],
        "community": [COMMUNITY / "01-default.yaml"],
        "cronjobs": [
            matrix / "19b-database-cleanup.yaml",
            matrix / "24b-cleanup-kubernetes-executor.yaml",
        ],
    }
    return {
        name: [o for path in paths for o in livedump.objects(Path(path).read_text())]
        for name, paths in texts.items()
    }


RENDERS = _renders()


def rendered(source: str, kind: str, name: str) -> Object:
    found = [
        o
        for o in RENDERS[source]
        if isinstance(o, dict) and o.get("kind") == kind and o["metadata"]["name"] == name
    ]
    assert len(found) == 1, (source, kind, name)
    return copy.deepcopy(found[0])


def value_at(obj: Any, path: str) -> Any:
    """The value at a rule's path, the first item where it says `[]`; ABSENT if missing."""
    key = None
    if path.endswith('"]'):
        path, key = path[:-2].split('["')
    steps = [*path.split("."), *([key] if key is not None else [])]
    for step in steps:
        if step.endswith("[]"):
            obj = obj.get(step[:-2]) if isinstance(obj, dict) else None
            obj = obj[0] if isinstance(obj, list) and obj else None
        else:
            obj = obj.get(step, ABSENT) if isinstance(obj, dict) else ABSENT
        if obj is ABSENT or obj is None:
            return ABSENT
    return obj


def _set(path: str, value: Any) -> Edit:
    def edit(obj: Object) -> None:
        *parents, key = path.split(".")
        for step in parents:
            obj = obj.setdefault(step, {})
        obj[key] = value

    return edit


def _pop(*paths: str) -> Edit:
    def edit(obj: Object) -> None:
        for path in paths:
            *parents, key = path.split(".")
            found: Any = obj
            for step in parents:
                found = found.get(step) or {}
            found.pop(key, None)

    return edit


@dataclass(frozen=True)
class Case:
    """A rule (`kind`, `path`, as OBJECT_DEFAULTS writes them) on a rendered object, after
    `edit`: the value it has once defaulted (by a server of that version, if given)."""

    source: str
    kind: str
    name: str
    path: str
    expected: Any
    edit: Edit | None = None
    server: tuple[int, int] | None = None

    @property
    def id(self) -> str:
        expected = "absent" if self.expected is ABSENT else repr(self.expected)
        server = "" if self.server is None else f"@{self.server[0]}.{self.server[1]}"
        return f"{self.kind}/{self.name}:{self.path}={expected}{server}"


Row = tuple[Any, ...]  # (path, expected) or (path, expected, edit) or (..., edit, server)


def on(source: str, kind: str, name: str, *rows: Row) -> list[Case]:
    return [Case(source, kind, name, *row) for row in rows]


UID = "uid-of-the-job"
JOB_LABELS = (
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
)
FAILURE_POLICY = {
    "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
}
ROLLING = "spec.strategy.rollingUpdate"
STS_ROLLING = "spec.updateStrategy.rollingUpdate"
RETENTION = "spec.persistentVolumeClaimRetentionPolicy"
CLAIMS = "spec.volumeClaimTemplates[]"
MANUAL = _set("spec.manualSelector", True)
HALF = _set(f"{STS_ROLLING}.maxUnavailable", "50%")


def _with_uid(obj: Object) -> None:
    obj["metadata"]["uid"] = UID


def _claim_mode(obj: Object) -> None:
    obj["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = "Block"


def _own_job_name(obj: Object) -> None:
    obj["spec"]["template"]["metadata"]["labels"]["job-name"] = "mine"


def _no_labels(obj: Object) -> None:
    _with_uid(obj)
    del obj["metadata"]["labels"]


def _no_labels_anywhere(obj: Object) -> None:
    _no_labels(obj)
    del obj["spec"]["template"]["metadata"]["labels"]


def _template_label(label: str) -> Row:
    value = UID if label.endswith("uid") else "airflow-create-user"
    return (f'spec.template.metadata.labels["{label}"]', value, _with_uid)


CASES = [
    *on(
        "official", "Deployment", "airflow-scheduler",
        ("spec.replicas", 1, _pop("spec.replicas")),
        ("spec.replicas", 0, _set("spec.replicas", 0)),
        ("spec.strategy.type", "RollingUpdate"),
        (f"{ROLLING}.maxUnavailable", "25%"),
        (f"{ROLLING}.maxSurge", "25%"),
        ("spec.revisionHistoryLimit", 10),
        ("spec.revisionHistoryLimit", 0, _set("spec.revisionHistoryLimit", 0)),
        ("spec.progressDeadlineSeconds", 600),
        ("spec.progressDeadlineSeconds", 120, _set("spec.progressDeadlineSeconds", 120)),
    ),
    *on("official", "Deployment", "airflow-webserver", (f"{ROLLING}.maxUnavailable", 0)),
    *on(
        "community", "Deployment", "airflow-pgbouncer",  # a rollingUpdate without a type
        ("spec.strategy.type", "RollingUpdate"),
        (f"{ROLLING}.maxSurge", 1),
    ),
    *on(
        "community", "Deployment", "airflow-db-migrations",
        ("spec.strategy.type", "Recreate"),
        (f"{ROLLING}.maxUnavailable", ABSENT),
    ),
    *on(
        "official", "StatefulSet", "airflow-worker",
        ("spec.podManagementPolicy", "OrderedReady"),
        (f"{RETENTION}.whenDeleted", "Retain"),
        (f"{RETENTION}.whenScaled", "Retain"),
        (f"{RETENTION}.whenDeleted", "Delete", _set(RETENTION, {"whenDeleted": "Delete"})),
        (f"{RETENTION}.whenScaled", "Retain", _set(RETENTION, {"whenDeleted": "Delete"})),
        ("spec.replicas", 0, _set("spec.replicas", 0)),
        ("spec.revisionHistoryLimit", 10),
        ("spec.revisionHistoryLimit", 3, _set("spec.revisionHistoryLimit", 3)),
        (f"{CLAIMS}.spec.volumeMode", "Filesystem"),
        (f"{CLAIMS}.spec.volumeMode", "Block", _claim_mode),
    ),
    *on("community", "StatefulSet", "airflow-worker", ("spec.podManagementPolicy", "Parallel")),
    *on(
        "official", "StatefulSet", "airflow-redis",  # no updateStrategy, claims without kind
        (STS_ROLLING, {"partition": 0}),
        ("spec.updateStrategy.type", "RollingUpdate"),
        ("spec.updateStrategy", {"type": "OnDelete"}, _set("spec.updateStrategy.type", "OnDelete")),
        (f"{STS_ROLLING}.maxUnavailable", "50%", HALF, (1, 36)),
        (f"{CLAIMS}.apiVersion", "v1"),
        (f"{CLAIMS}.kind", "PersistentVolumeClaim"),
    ),
    *on(
        "official", "StatefulSet", "airflow-postgresql",  # type RollingUpdate, rollingUpdate {}
        (f"{STS_ROLLING}.partition", 0),
        (f"{STS_ROLLING}.partition", 2, _set(f"{STS_ROLLING}.partition", 2)),
        (f"{STS_ROLLING}.maxUnavailable", ABSENT),
        (f"{STS_ROLLING}.maxUnavailable", 1, None, (1, 35)),
        (f"{CLAIMS}.kind", "PersistentVolumeClaim"),  # rendered
    ),
    *on(
        "community", "StatefulSet", "airflow-postgresql",  # type RollingUpdate alone
        (STS_ROLLING, ABSENT),
        (f"{STS_ROLLING}.maxUnavailable", ABSENT, None, (1, 35)),
        (f"{CLAIMS}.status.phase", "Pending"),
    ),
    *on("community", "StatefulSet", "airflow-redis-master", ("spec.replicas", 1)),
    # Jobs: official 1.15.0's hooks, with a uid as the server gives it before the strategy runs
    *on(
        "official", "Job", "airflow-create-user",
        ("spec.completions", 1, _with_uid),
        ("spec.completions", ABSENT, _set("spec.parallelism", 3)),
        ("spec.parallelism", 1),
        ("spec.parallelism", 3, _set("spec.parallelism", 3)),
        ("spec.completionMode", "NonIndexed"),
        ("spec.completionMode", "Indexed", _set("spec.completionMode", "Indexed")),
        ("spec.suspend", False),
        ("spec.suspend", True, _set("spec.suspend", True)),
        ("spec.podReplacementPolicy", "TerminatingOrFailed"),
        ("spec.podReplacementPolicy", "Failed", _set("spec.podFailurePolicy", FAILURE_POLICY)),
        ("spec.podFailurePolicy", ABSENT),
        (
            "spec.podFailurePolicy.rules[].onPodConditions[].status",
            "True",
            _set("spec.podFailurePolicy", FAILURE_POLICY),
        ),
        ("spec.manualSelector", False),
        ('spec.selector.matchLabels["batch.kubernetes.io/controller-uid"]', UID, _with_uid),
        ("spec.selector", ABSENT, MANUAL),
        *(_template_label(label) for label in JOB_LABELS),
        ('spec.template.metadata.labels["job-name"]', "mine", _own_job_name),
        ('spec.template.metadata.labels["job-name"]', ABSENT, MANUAL),
        ('metadata.labels["job-name"]', ABSENT),  # the Job has labels of its own
        (
            "metadata.labels",
            {
                "tier": "airflow",
                "component": "create-user-job",
                "release": "airflow",
                "batch.kubernetes.io/controller-uid": UID,
                "batch.kubernetes.io/job-name": "airflow-create-user",
                "controller-uid": UID,
                "job-name": "airflow-create-user",
            },
            _no_labels,
        ),
        ("metadata.labels", ABSENT, _no_labels_anywhere),
    ),
    *on(
        "official", "Job", "airflow-run-airflow-migrations",
        ("spec.backoffLimit", 6),
        ("spec.backoffLimit", 2147483647, _set("spec.backoffLimitPerIndex", 1)),
        ("spec.backoffLimit", 0, _set("spec.backoffLimit", 0)),
    ),
    # CronJobs: official 1.22.0's cleanup CronJobs
    *on(
        "cronjobs", "CronJob", "airflow-cleanup",
        ("spec.concurrencyPolicy", "Allow", _pop("spec.concurrencyPolicy")),
        ("spec.concurrencyPolicy", "Forbid"),
        ("spec.suspend", False),
        ("spec.successfulJobsHistoryLimit", 3),
        ("spec.failedJobsHistoryLimit", 1),
        ("spec.jobTemplate.spec.completions", ABSENT),
    ),
    *on(
        "cronjobs", "CronJob", "airflow-database-cleanup",
        ("spec.successfulJobsHistoryLimit", 1),
        ("spec.failedJobsHistoryLimit", 0, _set("spec.failedJobsHistoryLimit", 0)),
    ),
    *on("community", "Secret", "airflow-config-envs", ("type", "Opaque")),
    *on(
        "official", "Secret", "airflow-metadata",
        ("type", "kubernetes.io/basic-auth", _set("type", "kubernetes.io/basic-auth")),
    ),
    *on(
        "official", "Service", "airflow-redis",
        ("spec.sessionAffinity", "None"),
        ("spec.sessionAffinity", "ClientIP", _set("spec.sessionAffinity", "ClientIP")),
        (
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
            10800,
            _set("spec.sessionAffinity", "ClientIP"),
        ),
        ("spec.sessionAffinityConfig", ABSENT),
    ),
    *on("official", "Service", "airflow-triggerer", ("spec.type", "ClusterIP")),
    *on(
        "official", "Service", "airflow-webserver",
        ("spec.type", "NodePort", _set("spec.type", "NodePort")),
        ("spec.externalTrafficPolicy", "Cluster", _set("spec.type", "LoadBalancer")),
        ("spec.externalTrafficPolicy", ABSENT),
        ("spec.allocateLoadBalancerNodePorts", True, _set("spec.type", "LoadBalancer")),
        ("spec.allocateLoadBalancerNodePorts", ABSENT),
    ),
    *on("community", "Service", "airflow-postgresql-headless", ("spec.ports[].protocol", "TCP")),
    *on("official", "Service", "airflow-statsd", ("spec.ports[].protocol", "UDP")),
    *on("community", "Service", "airflow-pgbouncer", ("spec.ports[].targetPort", 6432)),
    *on("community", "Service", "airflow-redis-master", ("spec.ports[].targetPort", "redis")),
    *on(
        "official", "Service", "airflow-worker",
        ("spec.internalTrafficPolicy", "Cluster"),
        ("spec.internalTrafficPolicy", ABSENT, _set("spec.type", "ExternalName")),
    ),
]  # fmt: skip


def defaulted(case: Case) -> Object:
    obj = rendered(case.source, case.kind, case.name)
    if case.edit is not None:
        case.edit(obj)
    if case.server is None:
        return livedump.api_defaults(obj)
    return livedump.api_defaults_on(case.server)(obj)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_rule_on_a_real_render(case: Case) -> None:
    before = rendered(case.source, case.kind, case.name)
    if case.edit is not None:
        case.edit(before)
    absent_before = value_at(before, case.path) is ABSENT
    got = value_at(defaulted(case), case.path)
    assert got == case.expected or (got is ABSENT and case.expected is ABSENT)
    if not absent_before:  # a value the render or the user gave is the value afterwards
        assert got == value_at(before, case.path)


def test_every_rule_has_a_case() -> None:
    """A rule added to the table without a case here is a rule nobody checked."""
    cased = {(case.kind, case.path) for case in CASES}
    assert [
        (rule.kind, rule.path)
        for rule in livedump.OBJECT_DEFAULTS
        if (rule.kind, rule.path) not in cased
    ] == []


def test_the_cronjob_job_template_is_left_to_the_job_it_makes() -> None:
    """SetDefaults_CronJob writes nothing into jobTemplate.spec: its Job is defaulted when the
    CronJob controller creates it. Only the pod template in it gets the template defaults."""
    cronjob = rendered("cronjobs", "CronJob", "airflow-cleanup")
    before = {k: v for k, v in cronjob["spec"]["jobTemplate"]["spec"].items() if k != "template"}
    after = livedump.api_defaults(copy.deepcopy(cronjob))["spec"]["jobTemplate"]["spec"]
    assert {k: v for k, v in after.items() if k != "template"} == before
    assert after["template"]["spec"]["dnsPolicy"] == "ClusterFirst"  # the template's are there


@pytest.mark.parametrize("source", sorted(RENDERS))
def test_defaulting_twice_changes_nothing(source: str) -> None:
    """What the server stores, sent again (a `kubectl apply` of a dump), comes back as it is."""
    once = [livedump.api_defaults(copy.deepcopy(o)) for o in RENDERS[source]]
    twice = [livedump.api_defaults(copy.deepcopy(o)) for o in once]
    assert twice == once
    assert once != RENDERS[source]


def test_a_live_job_has_its_uid_in_the_selector_and_keeps_helm_s_labels() -> None:
    """In a live dump the Job's selector and template labels hold its own uid (the server
    gives the uid before the strategy runs), and the Job keeps its labels: Helm's
    `managed-by` label is there before the defaulter looks for labels."""
    (job,) = livedump.live(
        [rendered("official", "Job", "airflow-run-airflow-migrations")],
        defaults=livedump.api_defaults,
    )
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert {label: labels[label] for label in JOB_LABELS} == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "airflow-run-airflow-migrations",
        "controller-uid": uid,
        "job-name": "airflow-run-airflow-migrations",
    }
    assert not set(JOB_LABELS) & set(job["metadata"]["labels"])
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_a_live_dump_prints_the_object_defaults() -> None:
    """`kubectl get -o yaml` of the defaulted objects: the rollingUpdate percentages are
    strings, as the server prints them."""
    live = livedump.live(RENDERS["official"], defaults=livedump.api_defaults)
    text = livedump.dump(live, "list")
    scheduler = next(
        o
        for o in yaml.safe_load(text)["items"]
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "airflow-scheduler"
    )
    assert scheduler["spec"]["strategy"] == {
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        "type": "RollingUpdate",
    }
    assert "maxSurge: 25%\n" in text
